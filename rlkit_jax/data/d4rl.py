"""D4RL files: the HDF5 reader with ``qlearning_dataset`` semantics and the downloader into d4rl's
cache folder. Names and reference scores are in :mod:`rlkit_jax.data.registry`, validation in
:mod:`rlkit_jax.data.validation`.

References:
  Fu et al., `D4RL <https://arxiv.org/abs/2004.07219>`_, 2020; ``d4rl/offline_env.py`` (cache folder).
"""
from __future__ import annotations

import http.client
import os
import tempfile
import urllib.error
import urllib.request
from typing import Any, Callable, Mapping

import numpy as np

from rlkit_jax.data.dataset import Dataset, DatasetError
from rlkit_jax.data.registry import TASK_FAMILIES, DatasetSpec, d4rl_cache_path, d4rl_spec, get_spec, reference_scores
from rlkit_jax.data.validation import REQUIRED_KEYS, dataset_from_arrays

# Opens a URL: ``urlopen(url, timeout=seconds)`` → a response with ``read(n)`` (and optionally
# ``headers``), usable as a context manager. Tests replace it to run without a network.
urlopen: Callable[..., Any] = urllib.request.urlopen


def _attr_value(value: Any) -> Any:
  """HDF5 attribute → plain Python: bytes → str, NumPy scalars → int/float/bool, arrays → lists."""
  if isinstance(value, bytes):
    return value.decode("utf-8", "replace")
  if isinstance(value, np.ndarray):
    return _attr_value(value[()]) if value.ndim == 0 else [_attr_value(v) for v in value.tolist()]
  if isinstance(value, np.generic):
    return _attr_value(value.item())
  return value


def _read_hdf5(path: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
  """The D4RL keys present in ``path`` and its file attributes."""
  import h5py  # imported where used: importing rlkit_jax stays light

  if not os.path.isfile(path):
    raise DatasetError(f"{path}: no such file; check the path, or load a dataset by name (see rlkit_jax.data.load)")
  try:
    with h5py.File(path, "r") as f:
      missing = [k for k in REQUIRED_KEYS if k not in f]
      if missing:
        raise DatasetError(
            f"{path}: missing field(s) {missing} (found {sorted(f.keys())}); a D4RL-layout file needs "
            f"{list(REQUIRED_KEYS)} plus optional 'timeouts'/'next_observations'; fix: write it with "
            "rlkit_jax.data.write_d4rl_hdf5 or regenerate it with experiments/make_dataset.py"
        )
      arrays = {}
      for key in (*REQUIRED_KEYS, "timeouts", "next_observations"):
        if key in f:
          try:
            node = f[key]
          except KeyError as e:  # a soft or external link to nothing
            raise DatasetError(
                f"{path}: field '{key}' is a link to an object that does not exist ({e}); fix: store '{key}' "
                "as a dataset in the file itself"
            ) from e
          if not isinstance(node, h5py.Dataset):
            raise DatasetError(f"{path}: field '{key}' is an HDF5 group, not an array; fix: store '{key}' as a dataset")
          arrays[key] = node[()]
      attrs = {key: _attr_value(value) for key, value in f.attrs.items()}
  except DatasetError:
    raise
  except (OSError, RuntimeError, KeyError, ValueError, TypeError, MemoryError) as e:  # h5py on damaged bytes
    raise DatasetError(
        f"{path}: not a readable HDF5 file ({type(e).__name__}: {e}); it is probably truncated by an interrupted "
        "download or copy, damaged, or not HDF5 at all; fix: delete it and download or generate it again"
    ) from e
  return arrays, attrs


TASK_ATTRIBUTES = ("env_id", "env")  # file attributes naming the task ("env": files of other tools)


def _task(path: str, attrs: Mapping[str, Any], env_id: str | None, spec: DatasetSpec | None) -> str | None:
  """The file's task: ``env_id`` (checked against the file's attribute), the attribute, or the registry's."""
  from rlkit_jax.envs.make import check_env_id, env_id_suggestions, known_env_id

  named = [(key, str(attrs[key])) for key in TASK_ATTRIBUTES if attrs.get(key)]
  if len({value for _, value in named}) > 1:
    raise DatasetError(
        f"{path}: file attributes 'env_id' ({named[0][1]!r}) and 'env' ({named[1][1]!r}) disagree; fix: keep the "
        "one naming the task the data was collected on (e.g. rewrite it with rlkit_jax.data.write_d4rl_hdf5)"
    )
  key, stored = named[0] if named else (None, None)
  if env_id is not None:
    check_env_id(env_id)
    if stored is not None and stored != env_id and known_env_id(stored):
      raise DatasetError(
          f"{path}: env_id {env_id!r} was given (--env_id, or load(path, env_id=...)) but the file's '{key}' "
          f"attribute is {stored!r}; fix: drop --env_id to use the file's task, or give --env_id={stored}"
      )
    return env_id
  if stored is not None:
    if not known_env_id(stored):
      raise DatasetError(
          f"{path}: field '{key}' (file attribute) is {stored!r}, a task gymnasium does not know "
          f"({env_id_suggestions(stored)}); fix: pass the task it was collected on with --env_id=... (the "
          "experiments/ drivers) or load(path, env_id=...), or correct the attribute"
      )
    return stored
  if spec is None:
    raise DatasetError(
        f"{path}: field 'env_id' (file attribute) is missing and the file name matches no registered dataset; "
        "fix: pass the task it was collected on, e.g. --env_id=Hopper-v5 (the experiments/ drivers) or "
        "load(path, env_id='Hopper-v5')"
    )
  return spec.env_id


def read_d4rl_hdf5(
    path: str,
    *,
    name: str | None = None,
    env_id: str | None = None,
    max_episode_steps: int | None = None,
) -> Dataset:
  """Reads and validates a D4RL-layout HDF5 file (D4RL's own or one the toolkit generated).

  The task is, in order: the ``env_id`` argument, the file's ``env_id`` attribute (or ``env``, as
  other tools write it), the registry entry of ``name``, the registry entry of the file name
  (``hopper-medium-v5.hdf5`` or a D4RL URL basename). An ``env_id`` argument must agree with the
  file's attribute where that names a task gymnasium knows (one it does not know is overridden).
  Reference scores come from the registry, the task's D4RL family, or the file's
  ``ref_min_score``/``ref_max_score`` attributes (NaN if none of these exists).

  Args:
    path: the ``.hdf5`` file.
    name: the dataset's name; defaults to the registry name matching the file, else its stem.
    env_id: the gymnasium task, for a file that names none (or none gymnasium knows).
    max_episode_steps: time limit for files without ``timeouts``; defaults to the registry's, else 1000.

  Returns:
    A :class:`Dataset` whose ``attrs`` are the file's attributes (bytes decoded, NumPy scalars as
    Python numbers).

  Raises:
    DatasetError: the file is missing, not HDF5 or truncated, fails validation (see
      :func:`dataset_from_arrays`), its task cannot be determined, its attribute names a task
      gymnasium does not know (close matches are listed), or ``env_id`` disagrees with it.
    UnknownTaskError: gymnasium does not know ``env_id`` (a usage error).
  """
  arrays, attrs = _read_hdf5(path)
  stem = os.path.splitext(os.path.basename(path))[0]
  spec = get_spec(name) if name else None
  spec = spec or get_spec(stem) or get_spec(os.path.basename(path))
  name = name or (spec.name if spec else stem)
  env_id = _task(path, attrs, env_id, spec)
  if spec is not None:
    ref_min, ref_max = spec.ref_min_score, spec.ref_max_score
  elif "ref_min_score" in attrs and "ref_max_score" in attrs:
    ref_min, ref_max = attrs["ref_min_score"], attrs["ref_max_score"]
  else:
    try:
      ref_min, ref_max = reference_scores(env_id)
    except DatasetError:
      ref_min, ref_max = float("nan"), float("nan")
  steps = max_episode_steps or (spec.max_episode_steps if spec else 1000)
  return dataset_from_arrays(
      arrays, source=path, name=name, env_id=env_id, ref_min_score=ref_min, ref_max_score=ref_max, attrs=attrs,
      max_episode_steps=steps,
  )


# --- The d4rl package, the cache and the download -----------------------------------------------


def _offline_advice(spec: DatasetSpec, path: str) -> str:
  env_id = spec.env_id or "Hopper-v5"
  example = f"{spec.family}-medium-replay-v5" if spec.family in TASK_FAMILIES else "hopper-medium-replay-v5"
  return (
      f"It would be cached at {path} (set $D4RL_DATASET_DIR to use another folder, or copy the file there). "
      f"Without network access, generate a local dataset instead:\n"
      f"  python experiments/make_dataset.py --env={env_id} --out_dir=datasets\n"
      f"and load it by name (e.g. '{example}'), or point --dataset at a local HDF5 file."
  )


def download_d4rl(name: str, *, cache_dir: str | None = None, timeout: float = 60.0, chunk_size: int = 1 << 20) -> str:
  """Downloads D4RL dataset ``name`` into d4rl's cache folder, unless it is already there.

  The bytes stream into a temporary file in the same folder, which is renamed to the final name
  only when complete (and, if the server sent a length, of that length), so no half file is left.
  The URL is opened with the module attribute :data:`urlopen` (replaceable in tests).

  Args:
    name: a D4RL name, e.g. ``"hopper-medium-replay-v2"``.
    cache_dir: the folder; defaults to :func:`d4rl_dataset_dir`.
    timeout: seconds to wait for the server.
    chunk_size: bytes per read.

  Returns:
    The path of the cached file.

  Raises:
    DatasetError: ``name`` is not a D4RL name, or the download failed (no network, HTTP error,
      truncated transfer); the message says where the file would be cached and how to
      generate a local dataset instead.
  """
  spec = d4rl_spec(name)
  path = d4rl_cache_path(name, cache_dir=cache_dir)
  if os.path.isfile(path):
    return path
  tmp = None
  try:
    with urlopen(spec.url, timeout=timeout) as response:  # Connect first: offline, nothing is created.
      headers = getattr(response, "headers", None)
      expected = headers.get("Content-Length") if headers is not None else None
      os.makedirs(os.path.dirname(path), exist_ok=True)
      fd, tmp = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=os.path.dirname(path))
      received = 0
      with os.fdopen(fd, "wb") as out:
        while chunk := response.read(chunk_size):
          out.write(chunk)
          received += len(chunk)
    if expected is not None and received != int(expected):
      raise OSError(f"received {received} of {expected} bytes")
    os.replace(tmp, path)
  except (OSError, http.client.HTTPException, ValueError) as e:  # URLError and timeouts are OSErrors.
    raise DatasetError(
        f"{name}: could not download the D4RL file {spec.url} ({e}). {_offline_advice(spec, path)}"
    ) from e
  finally:
    if tmp is not None and os.path.exists(tmp):
      os.remove(tmp)
  return path


def _d4rl_package_arrays(name: str) -> dict[str, np.ndarray] | None:
  """``gym.make(name).get_dataset()`` when the ``d4rl`` package imports, else None."""
  try:
    import d4rl  # noqa: F401  (registers the D4RL gym environments)
    import gym
  except Exception:  # Not installed, or broken (mujoco-py fails to build): use our own reader.
    return None
  try:
    return dict(gym.make(name).get_dataset())
  except Exception as e:
    raise DatasetError(
        f"{name}: the d4rl package could not load it ({e}). {_offline_advice(d4rl_spec(name), d4rl_cache_path(name))}"
    ) from e


def load_d4rl(name: str, *, cache_dir: str | None = None, env_id: str | None = None) -> Dataset:
  """Loads D4RL dataset ``name``: the cached file, else the ``d4rl`` package, else a download.

  Args:
    name: a D4RL name from :data:`D4RL_NAMES`.
    cache_dir: d4rl's cache folder; defaults to :func:`d4rl_dataset_dir`.
    env_id: the gymnasium task overriding the registry's.

  Returns:
    The :class:`Dataset`; ``env_id`` is None for AntMaze and D4RL Ant (no gymnasium equivalent).

  Raises:
    DatasetError: unknown name, unreadable or invalid file, or the download failed (offline).
  """
  spec = d4rl_spec(name)
  path = d4rl_cache_path(name, cache_dir=cache_dir)
  if not os.path.isfile(path):
    arrays = _d4rl_package_arrays(name)
    if arrays is not None:
      return dataset_from_arrays(
          arrays, source=f"d4rl:{name}", name=name, env_id=env_id or spec.env_id, ref_min_score=spec.ref_min_score,
          ref_max_score=spec.ref_max_score, max_episode_steps=spec.max_episode_steps,
      )
    path = download_d4rl(name, cache_dir=cache_dir)
  return read_d4rl_hdf5(path, name=name, env_id=env_id)
