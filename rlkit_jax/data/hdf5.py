"""Writing datasets in D4RL's HDF5 layout, atomically."""
from __future__ import annotations

import json
import os
from typing import Any, Mapping

import numpy as np

D4RL_KEYS = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")


def write_d4rl_hdf5(path: str, arrays: Mapping[str, np.ndarray], attrs: Mapping[str, Any]) -> None:
  """Writes ``arrays`` as gzip-compressed datasets and ``attrs`` as file attributes.

  The file is written under a temporary name in the same folder and renamed into place only once
  complete, so a crash never leaves a half-written file under ``path``.

  Args:
    path: destination ``.hdf5`` file; its folder is created.
    arrays: at least the D4RL keys ``observations [N, O]``, ``actions [N, A]`` (a discrete task:
      int64 indices ``[N]``, with attrs ``action_space="discrete"`` and ``num_actions``), ``rewards [N]``,
      ``terminals [N]`` (bool), ``timeouts [N]`` (bool); ``next_observations [N, O]`` as in the
      gym-mujoco v2 files. Extra keys (``infos/...``) are written too.
    attrs: provenance (command, seed, returns, toolkit version); strings and numbers are stored
      as they are, anything else (None, lists, dicts) as its JSON text.

  Raises:
    ValueError: a required key is missing or the leading lengths differ.
  """
  missing = [k for k in D4RL_KEYS[:5] if k not in arrays]
  if missing:
    raise ValueError(f"{path}: cannot write a D4RL file without {missing}")
  lengths = {k: len(v) for k, v in arrays.items()}
  if len(set(lengths.values())) != 1:
    raise ValueError(f"{path}: arrays have different lengths {lengths}")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp-{os.getpid()}"
  try:
    import h5py  # imported where used: importing rlkit_jax stays light

    with h5py.File(tmp, "w") as f:
      for key, value in arrays.items():
        f.create_dataset(key, data=np.asarray(value), compression="gzip", compression_opts=4, shuffle=True)
      for key, value in attrs.items():
        f.attrs[key] = value if isinstance(value, (str, bytes, int, float, bool, np.generic)) else json.dumps(value)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
