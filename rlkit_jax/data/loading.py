"""One entry point, :func:`load`, from a dataset name or file to a validated :class:`Dataset`;
:func:`is_discrete` and :func:`action_dim` tell a driver which kind of agent the data needs."""
from __future__ import annotations

import difflib
import os

import numpy as np

from rlkit_jax.data import d4rl, registry
from rlkit_jax.data.registry import reference_scores  # noqa: F401  (re-exported)
from rlkit_jax.data.validation import task_spaces
from rlkit_jax.data.dataset import Dataset, DatasetError
from rlkit_jax.data.transitions import Transitions

HDF5_SUFFIXES = (".hdf5", ".h5")
ASSETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")
_FORMS = (
    "valid forms: a path to a .hdf5/.h5 file; a generated name <task>-<kind>-v5 (e.g. 'hopper-medium-replay-v5', "
    f"kinds: {', '.join(registry.GENERATED_KINDS)}) or a discrete one (e.g. 'cartpole-medium-replay-v1', "
    "'acrobot-expert-v1') found in a dataset folder; a D4RL name "
    "(e.g. 'hopper-medium-replay-v2', 'antmaze-umaze-v2'); 'minari:<dataset id>'"
)


def dataset_dirs(dataset_dir: str | None = None) -> list[str]:
  """Folders searched for ``<name>.hdf5``, in order: ``dataset_dir``, ``$RLKIT_JAX_DATASET_DIR``,
  ``./datasets``, the package's ``rlkit_jax/assets``."""
  dirs = [dataset_dir, os.environ.get("RLKIT_JAX_DATASET_DIR"), os.path.abspath("datasets"), ASSETS_DIR]
  return [os.path.expanduser(d) for d in dirs if d]


def _find(filenames: list[str], dirs: list[str]) -> str | None:
  for folder in dirs:
    for filename in filenames:
      path = os.path.join(folder, filename)
      if os.path.isfile(path):
        return path
  return None


def load(name_or_path: str, *, dataset_dir: str | None = None, env_id: str | None = None) -> Dataset:
  """Loads and validates an offline dataset by file path or name.

  Resolution order:
    1. ``minari:<id>``: a locally stored Minari dataset (:func:`rlkit_jax.data.minari.load_minari`).
    2. An existing file (any suffix; ``.hdf5``/``.h5`` expected), read as D4RL layout.
    3. ``<name>.hdf5``/``.h5`` (or a D4RL URL basename) in :func:`dataset_dirs` — generated
       datasets such as ``hopper-medium-replay-v5``, including the one shipped in ``rlkit_jax/assets``.
    4. A D4RL name: d4rl's cache file, else the ``d4rl`` package if it imports, else a download
       (:func:`rlkit_jax.data.d4rl.load_d4rl`).

  The task to evaluate on is ``env_id`` if given, else the file's ``env_id`` (or ``env``)
  attribute, else the registry entry of the name or file name.

  Args:
    name_or_path: a path, a registered name, or ``minari:<id>``.
    dataset_dir: an extra folder searched first for ``<name>.hdf5``.
    env_id: the gymnasium task (required for a file with neither a task attribute gymnasium
      knows nor a registered file name); it must agree with a file attribute naming a known task
      (see :func:`rlkit_jax.data.read_d4rl_hdf5`).

  Returns:
    A :class:`Dataset` of NumPy arrays (``transitions`` with leading axis ``N``, ``episode_ends [N]``).

  Raises:
    DatasetError: unknown name (the message lists close matches and the valid forms), a
      generated dataset not found (the message says where it looked and how to generate it), a
      missing, corrupt or invalid file, no task for a file (or one gymnasium does not know, or
      one ``env_id`` disagrees with), or an offline D4RL download.
    UnknownTaskError: gymnasium does not know ``env_id`` (a usage error, with close matches).
  """
  if env_id is not None:
    from rlkit_jax.envs.make import check_env_id

    check_env_id(env_id)
  if name_or_path.startswith("minari:"):
    from rlkit_jax.data.minari import load_minari

    return load_minari(name_or_path[len("minari:"):], env_id=env_id)
  path = os.path.expanduser(name_or_path)
  if os.path.isfile(path):
    return d4rl.read_d4rl_hdf5(path, env_id=env_id)
  if os.path.isdir(path):
    raise DatasetError(f"{path}: is a folder; fix: pass an .hdf5 file in it, or pass the folder as dataset_dir=")
  dirs = dataset_dirs(dataset_dir)
  name, suffix = os.path.splitext(name_or_path)
  if suffix in HDF5_SUFFIXES or os.sep in name_or_path:
    found = None if os.sep in name_or_path else _find([name_or_path], dirs)
    if found is None:
      raise DatasetError(f"{path}: no such file (also searched {dirs}); fix: check the path")
    return d4rl.read_d4rl_hdf5(found, env_id=env_id)
  spec = registry.get_spec(name_or_path)
  filenames = [name_or_path + s for s in HDF5_SUFFIXES] + ([spec.filename] if spec and spec.filename else [])
  found = _find(filenames, dirs)
  if found is not None:
    return d4rl.read_d4rl_hdf5(found, name=name_or_path, env_id=env_id)
  if spec is not None and spec.url:
    return d4rl.load_d4rl(name_or_path, env_id=env_id)
  if spec is not None:
    kind = name_or_path[len(spec.family) + 1:].rsplit("-", 1)[0]
    raise DatasetError(
        f"{name_or_path}: generated dataset not found; searched {[os.path.join(d, name_or_path + '.hdf5') for d in dirs]}; "
        "fix: generate it with\n"
        f"  python experiments/make_dataset.py --env={spec.env_id} --kinds={kind} --out_dir=datasets\n"
        "or pass dataset_dir= / set $RLKIT_JAX_DATASET_DIR to the folder holding it"
    )
  close = difflib.get_close_matches(name_or_path.lower(), list(registry.REGISTRY), n=3, cutoff=0.6)
  hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
  raise DatasetError(f"{name_or_path}: unknown dataset (no such file or registered name); {hint}{_FORMS}")



def is_discrete(data: Dataset | Transitions) -> bool:
  """True for a discrete-action dataset: ``actions`` are integer indices ``[N]`` (int32 after loading).

  Continuous datasets hold float ``[N, A]`` actions (even for A = 1).
  """
  actions = (data.transitions if isinstance(data, Dataset) else data).actions
  return actions.ndim == 1 and np.issubdtype(np.asarray(actions).dtype, np.integer)


def action_dim(dataset: Dataset) -> int:
  """The agent's ``action_dim``: the action width A, or for a discrete dataset the number of actions n.

  For a discrete dataset, n is that of the task's ``Discrete(n)`` space when the task can be made,
  else the file's ``num_actions`` attribute, else the largest index + 1.
  """
  actions = dataset.transitions.actions
  if not is_discrete(dataset):
    return int(actions.shape[1])
  spaces = task_spaces(dataset.env_id) if dataset.env_id else None
  if spaces is not None and spaces.num_actions is not None:
    return spaces.num_actions
  if "num_actions" in dataset.attrs:
    return int(dataset.attrs["num_actions"])
  return int(np.max(actions)) + 1
