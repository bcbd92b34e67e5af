"""D4RL datasets: the name registry, the HDF5 reader with ``qlearning_dataset`` semantics, validation,
d4rl's local cache folder and the downloader.

Shapes: ``N`` transitions, ``O`` observation width, ``A`` action width.

The registry holds the D4RL gym-mujoco v2 and AntMaze v2 names with the URLs, reference scores and
episode limits of d4rl's ``infos.py`` / ``locomotion/__init__.py``, the toolkit's own generated
names ``<task>-<kind>-v5`` (see :mod:`rlkit_jax.data.generate`), and its generated discrete-action
names ``cartpole-<kind>-v1`` / ``acrobot-<kind>-v1`` (see :mod:`rlkit_jax.data.generate_discrete`);
generated names have no URL.

Discrete-action datasets store ``actions`` as integer indices ``[N]`` (int64 in the file) in
``[0, n)`` for a ``Discrete(n)`` task; they load as ``Transitions.actions`` int32 ``[N]``. A file's
``action_space`` attribute ("discrete"/"continuous") and its actions must agree with the task's.

References:
  Fu et al., `D4RL: Datasets for Deep Data-Driven Reinforcement Learning
  <https://arxiv.org/abs/2004.07219>`_, 2020; ``d4rl/__init__.py`` (``qlearning_dataset``),
  ``d4rl/offline_env.py`` (cache folder), ``d4rl/infos.py`` (URLs, REF_MIN_SCORE, REF_MAX_SCORE).
"""
from __future__ import annotations

import dataclasses
import functools
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from typing import Any, Callable, Mapping

import numpy as np

from rlkit_jax.data.dataset import Dataset, DatasetError
from rlkit_jax.data.transitions import Transitions

# Opens a URL: ``urlopen(url, timeout=seconds)`` → a response with ``read(n)`` (and optionally
# ``headers``), usable as a context manager. Tests replace it to run without a network.
urlopen: Callable[..., Any] = urllib.request.urlopen

ACTION_TOLERANCE = 1e-4  # D4RL actions sit exactly at ±1; float32 rounding may overshoot slightly.
REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals")

_URL_ROOT = "http://rail.eecs.berkeley.edu/datasets/offline_rl"
# D4RL REF_MIN_SCORE / REF_MAX_SCORE (identical for every dataset of a family).
REF_SCORES: dict[str, tuple[float, float]] = {
    "hopper": (-20.272305, 3234.3),
    "halfcheetah": (-280.178953, 12135.0),
    "walker2d": (1.629008, 4592.3),
    "ant": (-325.6, 3879.7),
    "antmaze": (0.0, 1.0),
}
# The toolkit's discrete-action tasks (not D4RL): (random policy's mean return, expert level).
# min: uniform random actions, mean over 1000 episodes (reset seeds 0..999), gymnasium 1.4
#   (CartPole-v1 22.197 ± 0.36 s.e., Acrobot-v1 -499.093 ± 0.31 s.e.).
# max: CartPole-v1 500, the most any policy can get (reward +1 per step, 500-step time limit);
#   Acrobot-v1 -100, gymnasium's registered ``reward_threshold`` ("solved"); good DQN policies
#   reach about -80 to -70, i.e. normalized scores slightly above 100.
DISCRETE_REF_SCORES: dict[str, tuple[float, float]] = {
    "cartpole": (22.197, 500.0),
    "acrobot": (-499.093, -100.0),
}
_DISCRETE_TASKS = {"cartpole": "CartPole-v1", "acrobot": "Acrobot-v1"}  # family → gymnasium id
_TASKS = {"hopper": "Hopper", "halfcheetah": "HalfCheetah", "walker2d": "Walker2d", "ant": "Ant"}
D4RL_MUJOCO_KINDS = ("random", "medium", "medium-replay", "medium-expert", "expert", "full-replay")
GENERATED_KINDS = ("random", "medium", "medium-replay", "expert", "medium-expert")  # what generate.py writes
# AntMaze v2: name → (maze, multistart, multigoal, max_episode_steps).
_ANTMAZE = {
    "umaze": ("u-maze", False, False, 700),
    "umaze-diverse": ("u-maze", True, True, 700),
    "medium-play": ("big-maze", True, False, 1000),
    "medium-diverse": ("big-maze", True, True, 1000),
    "large-play": ("hardest-maze", True, False, 1000),
    "large-diverse": ("hardest-maze", True, True, 1000),
}


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """One registered dataset name.

  Attributes:
    name: e.g. ``"hopper-medium-replay-v2"`` (D4RL) or ``"hopper-medium-replay-v5"`` (generated).
    family: ``"hopper"``, ``"halfcheetah"``, ``"walker2d"``, ``"ant"`` or ``"antmaze"``.
    env_id: the gymnasium task to evaluate on, or None where gymnasium has no equivalent.
    ref_min_score, ref_max_score: D4RL's random / expert reference returns of the family.
    url: D4RL download URL; None for generated datasets.
    max_episode_steps: the task's time limit, used only for files without ``timeouts``.
    note: caveats, e.g. why ``env_id`` is None.
    action_space: ``"continuous"`` (actions ``[N, A]`` float) or ``"discrete"`` (indices ``[N]``).
  """

  name: str
  family: str
  env_id: str | None
  ref_min_score: float
  ref_max_score: float
  url: str | None = None
  max_episode_steps: int = 1000
  note: str = ""
  action_space: str = "continuous"

  @property
  def filename(self) -> str | None:
    """The cached file's name, i.e. the URL's basename (as d4rl names it); None without a URL."""
    return os.path.basename(self.url) if self.url else None


def _build_registry() -> dict[str, DatasetSpec]:
  specs = []
  for family, task in _TASKS.items():
    ref = REF_SCORES[family]
    # D4RL ant-v2 observations are 111 wide (mujoco-py Ant with contact forces, zeros in
    # mujoco 2.0); gymnasium's Ant-v5 observes 105, so a policy trained on them cannot run there.
    env_id = None if family == "ant" else f"{task}-v5"
    note = "111-wide D4RL Ant observations; Ant-v5 observes 105" if family == "ant" else ""
    for kind in D4RL_MUJOCO_KINDS:
      url = f"{_URL_ROOT}/gym_mujoco_v2/{family}_{kind.replace('-', '_')}-v2.hdf5"
      specs.append(DatasetSpec(f"{family}-{kind}-v2", family, env_id, *ref, url=url, note=note))
    for kind in GENERATED_KINDS:
      specs.append(DatasetSpec(f"{family}-{kind}-v5", family, f"{task}-v5", *ref))
  for family, env_id in _DISCRETE_TASKS.items():
    version = env_id.rsplit("-", 1)[1]
    for kind in GENERATED_KINDS:
      specs.append(
          DatasetSpec(
              f"{family}-{kind}-{version}", family, env_id, *DISCRETE_REF_SCORES[family], max_episode_steps=500,
              action_space="discrete",
          )
      )
  for variant, (maze, multistart, multigoal, steps) in _ANTMAZE.items():
    url = f"{_URL_ROOT}/ant_maze_v2/Ant_maze_{maze}_noisy_multistart_{multistart}_multigoal_{multigoal}_sparse_fixed.hdf5"
    specs.append(
        DatasetSpec(
            f"antmaze-{variant}-v2", "antmaze", None, *REF_SCORES["antmaze"], url=url, max_episode_steps=steps,
            note="no gymnasium equivalent of D4RL's AntMaze; evaluate with d4rl or gymnasium-robotics",
        )
    )
  return {spec.name: spec for spec in specs}


REGISTRY: dict[str, DatasetSpec] = _build_registry()
D4RL_NAMES: tuple[str, ...] = tuple(name for name, spec in REGISTRY.items() if spec.url)
# The generated continuous (MuJoCo, SAC) names; the discrete ones are DISCRETE_NAMES.
GENERATED_NAMES: tuple[str, ...] = tuple(
    name for name, spec in REGISTRY.items() if not spec.url and spec.action_space == "continuous"
)
DISCRETE_NAMES: tuple[str, ...] = tuple(name for name, spec in REGISTRY.items() if spec.action_space == "discrete")
_BY_FILENAME = {spec.filename: spec for spec in REGISTRY.values() if spec.filename}


def get_spec(name: str) -> DatasetSpec | None:
  """The registry entry for a dataset name (or a D4RL file's basename), or None if unknown."""
  return REGISTRY.get(name) or _BY_FILENAME.get(os.path.basename(name))


def reference_scores(name_or_env_id: str) -> tuple[float, float]:
  """D4RL reference ``(min, max)`` returns for a dataset name or a gymnasium task id.

  ``"hopper-medium-v2"``, ``"hopper-medium-v5"`` and ``"Hopper-v5"`` all give hopper's D4RL scores;
  ``"CartPole-v1"`` / ``"Acrobot-v1"`` give the toolkit's :data:`DISCRETE_REF_SCORES`.

  Raises:
    DatasetError: neither a registered name nor a task of a D4RL family.
  """
  spec = get_spec(name_or_env_id)
  if spec is not None:
    return spec.ref_min_score, spec.ref_max_score
  family = name_or_env_id.split("-")[0].lower()
  if family in REF_SCORES:
    return REF_SCORES[family]
  if family in DISCRETE_REF_SCORES:
    return DISCRETE_REF_SCORES[family]
  raise DatasetError(
      f"{name_or_env_id}: no D4RL reference scores; known families are {sorted([*REF_SCORES, *DISCRETE_REF_SCORES])} "
      "(pass ref scores yourself, or store ref_min_score/ref_max_score attributes in the file)"
  )


def d4rl_dataset_dir() -> str:
  """d4rl's cache folder: ``$D4RL_DATASET_DIR``, else ``~/.d4rl/datasets`` (``d4rl/offline_env.py``)."""
  return os.environ.get("D4RL_DATASET_DIR") or os.path.expanduser("~/.d4rl/datasets")


def _d4rl_spec(name: str) -> DatasetSpec:
  spec = REGISTRY.get(name)
  if spec is None or spec.url is None:
    raise DatasetError(f"{name}: not a D4RL dataset name; choose from {', '.join(D4RL_NAMES)}")
  return spec


def d4rl_cache_path(name: str, *, cache_dir: str | None = None) -> str:
  """Where d4rl keeps (or would keep) the file of D4RL dataset ``name``.

  Raises:
    DatasetError: ``name`` is not a registered D4RL name.
  """
  return os.path.join(cache_dir or d4rl_dataset_dir(), _d4rl_spec(name).filename)


# --- Reading and validation ---------------------------------------------------------------------


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


@dataclasses.dataclass(frozen=True)
class TaskSpaces:
  """What validation needs of a task's spaces.

  Attributes:
    observation_width: O for a rank-1 ``Box`` observation space, else None.
    num_actions: n for a ``Discrete(n)`` action space; None for a ``Box``.
    low, high: the ``Box`` action bounds ``[A]`` float64 (after ``make_env``'s rescaling); None
      for a discrete task.
  """

  observation_width: int | None
  num_actions: int | None
  low: np.ndarray | None = None
  high: np.ndarray | None = None

  @property
  def discrete(self) -> bool:
    return self.num_actions is not None


@functools.lru_cache(maxsize=None)
def task_spaces(env_id: str) -> TaskSpaces | None:
  """The spaces of ``make_env(env_id)``, or None if it can't be made (unregistered, no simulator)."""
  try:
    import gymnasium as gym

    from rlkit_jax.envs.make import make_env

    env = make_env(env_id)
  except Exception:  # Unregistered id, missing simulator, unsupported action space: checks fall back.
    return None
  try:
    shape = getattr(env.observation_space, "shape", None)
    width = int(shape[0]) if shape is not None and len(shape) == 1 else None
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
      return TaskSpaces(width, int(space.n))
    return TaskSpaces(width, None, np.asarray(space.low, np.float64), np.asarray(space.high, np.float64))
  finally:
    env.close()


def _action_kind(arrays: Mapping[str, Any], source: str, env_id: str | None, attrs: Mapping[str, Any]) -> int | None:
  """Decides whether the file is a discrete dataset: its ``Discrete(n)`` n, or None if continuous.

  The task decides when it can be made; the file's ``action_space`` attribute and its actions must
  then agree with it. Without a task, the attribute decides, else integer rank-1 actions mean discrete
  (n from the ``num_actions`` attribute, else the largest index + 1).
  """
  spaces = task_spaces(env_id) if env_id else None
  actions = np.asarray(arrays["actions"])
  declared = attrs.get("action_space")
  integer_indices = np.issubdtype(actions.dtype, np.integer) and actions.ndim == 1
  if spaces is None:
    if declared == "discrete" or (declared is None and integer_indices):
      n = attrs.get("num_actions")
      return int(n) if n is not None else int(actions.max(initial=-1)) + 1
    return None
  if spaces.discrete:
    task = f"{env_id} has a Discrete({spaces.num_actions}) action space"
    if declared == "continuous" or (actions.ndim == 2 and actions.shape[1] != 1):
      raise DatasetError(
          f"{source}: field 'actions' holds continuous actions (shape {actions.shape}, action_space attribute "
          f"{declared!r}) but {task}; fix: evaluate it on the continuous task it was collected on (env_id=...), "
          "or load a discrete dataset of this task (e.g. cartpole-medium-v1)"
      )
    return spaces.num_actions
  task = f"{env_id} has a continuous Box action space ({spaces.low.shape[0]} wide)"
  if declared == "discrete" or integer_indices:
    raise DatasetError(
        f"{source}: field 'actions' holds discrete action indices (shape {actions.shape}, dtype {actions.dtype}, "
        f"action_space attribute {declared!r}) but {task}; fix: evaluate it on the discrete task it was "
        "collected on (env_id=..., e.g. 'CartPole-v1'), or load a continuous dataset of this task"
    )
  return None


def _discrete_actions(actions: Any, source: str, num_actions: int, env_id: str | None) -> np.ndarray:
  """Integer indices ``[N]`` (or ``[N, 1]``) in ``[0, num_actions)`` → int32 ``[N]``."""
  actions = np.asarray(actions)
  if actions.ndim == 2 and actions.shape[1] == 1:
    actions = actions[:, 0]
  task = f"{env_id}'s Discrete({num_actions})" if env_id else f"Discrete({num_actions})"
  if actions.ndim != 1:
    raise DatasetError(
        f"{source}: field 'actions' has shape {actions.shape}; a discrete dataset needs action indices [N]; "
        "fix: store one integer index per transition"
    )
  if not np.issubdtype(actions.dtype, np.integer):
    raise DatasetError(
        f"{source}: field 'actions' has dtype {actions.dtype}, but a discrete dataset ({task} action space) needs "
        "integer action indices; fix: store actions as int64 indices in [0, n) (as generate_discrete does)"
    )
  bad = (actions < 0) | (actions >= num_actions)
  if bad.any():
    rows = np.flatnonzero(bad)
    raise DatasetError(
        f"{source}: field 'actions' has {rows.size} indices outside [0, {num_actions}) of {task} action space "
        f"(first row {rows[0]}, min {actions.min()}, max {actions.max()}); fix: load it with the env_id it was "
        "collected on, or regenerate it"
    )
  return actions.astype(np.int32)


def _validate(
    arrays: Mapping[str, Any], source: str, env_id: str | None, attrs: Mapping[str, Any] | None = None
) -> dict[str, np.ndarray]:
  """Checks keys, ranks, lengths, dtypes, finiteness, 0/1 flags, widths and action bounds.

  Returns the arrays as float32 (observations, actions, rewards, next_observations) and bool
  (terminals, timeouts), flags of shape ``[N, 1]`` flattened to ``[N]``; discrete actions as
  int32 ``[N]``.
  """
  missing = [k for k in REQUIRED_KEYS if k not in arrays]
  if missing:
    raise DatasetError(f"{source}: missing field(s) {missing}; fix: provide {list(REQUIRED_KEYS)} (D4RL layout)")
  num_actions = _action_kind(arrays, source, env_id, attrs or {})
  ranks = {"observations": 2, "actions": 2, "next_observations": 2, "rewards": 1, "terminals": 1, "timeouts": 1}
  out: dict[str, np.ndarray] = {}
  for key, rank in ranks.items():
    if key not in arrays:
      continue
    if key == "actions" and num_actions is not None:
      out[key] = _discrete_actions(arrays[key], source, num_actions, env_id)
      continue
    value = np.asarray(arrays[key])
    if rank == 1 and value.ndim == 2 and value.shape[1] == 1:
      value = value[:, 0]
    if value.ndim != rank:
      raise DatasetError(
          f"{source}: field '{key}' has shape {value.shape} (rank {value.ndim}); expected rank {rank} "
          f"({'[N, width]' if rank == 2 else '[N]'}); fix: reshape '{key}' when writing the file"
      )
    flag = key in ("terminals", "timeouts")
    if not (np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating) or (flag and value.dtype == bool)):
      raise DatasetError(
          f"{source}: field '{key}' has dtype {value.dtype}, not real numbers; "
          f"fix: store {'booleans or 0/1' if flag else 'floats'}"
      )
    out[key] = value
  lengths = {key: len(value) for key, value in out.items()}
  odd = [key for key, n in lengths.items() if n != lengths["observations"]]
  if odd:
    raise DatasetError(
        f"{source}: field '{odd[0]}' has {lengths[odd[0]]} rows but 'observations' has {lengths['observations']} "
        f"(all lengths: {lengths}); fix: every field needs the same N rows"
    )
  if lengths["rewards"] == 0:
    raise DatasetError(f"{source}: field 'rewards' is empty (0 transitions); fix: write at least one transition")
  if "next_observations" in out and out["next_observations"].shape[1] != out["observations"].shape[1]:
    raise DatasetError(
        f"{source}: field 'next_observations' is {out['next_observations'].shape[1]} wide but 'observations' "
        f"{out['observations'].shape[1]}; fix: both must be the same observation width"
    )
  for key in ("observations", "actions", "rewards", "next_observations"):
    if key in out and not (key == "actions" and num_actions is not None):
      with np.errstate(over="ignore"):  # beyond float32's range becomes inf, refused below
        value = out[key].astype(np.float32)
      bad = ~np.isfinite(value)
      if bad.any():
        rows = np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))
        raise DatasetError(
            f"{source}: field '{key}' has {bad.sum()} NaN/inf values (or beyond float32's ±3.4e38) in {rows.size} "
            f"rows (first row {rows[0]}); fix: regenerate the dataset or drop those transitions"
        )
      out[key] = value
  for key in ("terminals", "timeouts"):
    if key in out:
      flags = out[key]
      if flags.dtype != bool:
        if not np.all((flags == 0) | (flags == 1)):
          raise DatasetError(f"{source}: field '{key}' must hold only 0/1 (or bools); fix: store booleans")
        flags = flags != 0
      out[key] = flags
  _check_task(out, source, env_id)
  return out


def _check_task(out: dict[str, np.ndarray], source: str, env_id: str | None) -> None:
  """Observation/action width against the task, continuous actions inside its bounds (else [-1, 1]).

  Discrete actions were range-checked by :func:`_discrete_actions`; only the width is checked here.
  """
  spaces = task_spaces(env_id) if env_id else None
  actions = out["actions"]
  if spaces is not None and spaces.observation_width is not None:
    width = spaces.observation_width
    if out["observations"].shape[1] != width:
      raise DatasetError(
          f"{source}: field 'observations' is {out['observations'].shape[1]} wide but {env_id} observes {width}; "
          "fix: load it with the env_id it was collected on (env_id=...), or regenerate it on this task"
      )
  if actions.ndim == 1:  # discrete indices
    return
  if spaces is None:
    low, high, bounds_from = -1.0, 1.0, "[-1, 1] (task unknown or not makeable)"
  else:
    low, high = spaces.low, spaces.high
    bounds_from = f"{env_id}'s action space [{low.min():g}, {high.max():g}]"
    if actions.shape[1] != low.shape[0]:
      raise DatasetError(
          f"{source}: field 'actions' is {actions.shape[1]} wide but {env_id} takes {low.shape[0]}; "
          "fix: load it with the env_id it was collected on (env_id=...)"
      )
  below, above = actions < low - ACTION_TOLERANCE, actions > high + ACTION_TOLERANCE
  if below.any() or above.any():
    rows = np.flatnonzero((below | above).any(axis=1))
    raise DatasetError(
        f"{source}: field 'actions' has values outside {bounds_from} in {rows.size} rows (first row {rows[0]}, "
        f"min {actions.min():g}, max {actions.max():g}); fix: rescale actions to the task's action space "
        "(agents act in [-1, 1]) or pass the env_id the data was collected on"
    )


def _timeouts_by_step_count(terminals: np.ndarray, max_episode_steps: int) -> np.ndarray:
  """d4rl's fallback for files without ``timeouts``: its step counter, quirks included."""
  final = np.zeros(len(terminals) - 1, bool)
  step = 0
  for i in range(len(terminals) - 1):
    if step == max_episode_steps - 1:
      final[i], step = True, 0
      continue
    if terminals[i]:
      step = 0
    step += 1
  return final


def qlearning_arrays(arrays: Mapping[str, np.ndarray], *, max_episode_steps: int = 1000) -> tuple[Transitions, np.ndarray]:
  """D4RL arrays → ``(transitions, episode_ends)`` with ``d4rl.qlearning_dataset`` semantics.

  With ``next_observations`` every row is kept (time-outs too: their s' is the real next state, so
  they bootstrap correctly). Without it, as d4rl does: s'_i = s_{i+1}, rows with ``timeouts[i]``
  (or, without ``timeouts``, every ``max_episode_steps``-th step by d4rl's counter) are dropped,
  and so is the last row.

  Args:
    arrays: validated arrays (see :func:`dataset_from_arrays`): ``observations [N, O]``,
      ``actions [N, A]`` (discrete: int32 ``[N]``), ``rewards [N]`` float32; ``terminals [N]``, optional ``timeouts [N]``
      bool; optional ``next_observations [N, O]`` float32.
    max_episode_steps: the time limit for files without ``timeouts`` (d4rl's default is 1000).

  Returns:
    :class:`Transitions` of NumPy arrays with ``N'`` rows (``terminals`` float32 0/1), and
    ``episode_ends [N']`` bool: terminal, time-out, or ``next_observations[i] != observations[i+1]``;
    the last row always ends.
  """
  observations, terminals = arrays["observations"], arrays["terminals"]
  if "next_observations" in arrays:
    keep = np.arange(len(terminals))
    next_observations = arrays["next_observations"]
    timeouts = arrays.get("timeouts", np.zeros_like(terminals))
  else:
    final = arrays["timeouts"][:-1] if "timeouts" in arrays else _timeouts_by_step_count(terminals, max_episode_steps)
    keep = np.flatnonzero(~final)
    next_observations = observations[keep + 1]
    timeouts = np.zeros(len(terminals), bool)
  transitions = Transitions(
      observations=observations[keep],
      actions=arrays["actions"][keep],
      rewards=arrays["rewards"][keep],
      terminals=terminals[keep].astype(np.float32),
      next_observations=next_observations,
  )
  episode_ends = terminals[keep] | timeouts[keep]
  if keep.size:
    episode_ends[:-1] |= np.any(transitions.next_observations[:-1] != transitions.observations[1:], axis=1)
    episode_ends[-1] = True
  return transitions, episode_ends


def dataset_from_arrays(
    arrays: Mapping[str, Any],
    *,
    source: str,
    name: str,
    env_id: str | None,
    ref_min_score: float,
    ref_max_score: float,
    attrs: Mapping[str, Any] | None = None,
    max_episode_steps: int = 1000,
) -> Dataset:
  """Validates D4RL-layout arrays and returns the :class:`Dataset` in ``qlearning_dataset`` form.

  Args:
    arrays: ``observations [N, O]``, ``actions [N, A]`` (a discrete task: integer indices ``[N]``
      in ``[0, n)``), ``rewards [N]``, ``terminals [N]`` (bool or 0/1), optional ``timeouts [N]``
      and ``next_observations [N, O]``; integer or float dtypes (booleans only in the flags).
    source: the file (or ``d4rl:<name>`` / ``minari:<id>``) named in error messages.
    name, env_id, ref_min_score, ref_max_score, attrs: stored in the :class:`Dataset`; ``env_id``
      (None where there is no gymnasium task) also fixes the expected widths, action bounds and
      whether actions are discrete; ``attrs['action_space']`` ("discrete"/"continuous") and
      ``attrs['num_actions']`` are used where the task cannot be made.
    max_episode_steps: see :func:`qlearning_arrays`.

  Raises:
    DatasetError: a missing field, wrong rank, a dtype that is not integer or float (strings,
      complex, booleans outside the flags), mismatched lengths, NaN/inf (also from values beyond
      float32's range), flags other than 0/1, a width different from the task's, actions outside the task's
      bounds (±1e-4; [-1, 1] when the task is unknown), discrete indices outside ``[0, n)`` or
      not integers, a discrete file on a continuous task or vice versa, no transitions left, or a
      reference score that is not a number.
  """
  scores = []
  for key, value in (("ref_min_score", ref_min_score), ("ref_max_score", ref_max_score)):
    try:
      scores.append(float(value))
    except (TypeError, ValueError, OverflowError):
      raise DatasetError(
          f"{source}: field '{key}' (file attribute) is {value!r}, not a number; fix: store a number, or drop "
          "both ref_min_score and ref_max_score to use the task family's D4RL scores"
      ) from None
  checked = _validate(arrays, source, env_id, attrs)
  transitions, episode_ends = qlearning_arrays(checked, max_episode_steps=max_episode_steps)
  if len(transitions) == 0:
    raise DatasetError(f"{source}: field 'rewards' leaves 0 transitions after dropping time-outs; fix: add transitions")
  return Dataset(transitions, episode_ends, name, env_id, *scores, source, dict(attrs or {}))


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
  example = f"{spec.family}-medium-replay-v5" if spec.family in _TASKS else "hopper-medium-replay-v5"
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
  spec = _d4rl_spec(name)
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
        f"{name}: the d4rl package could not load it ({e}). {_offline_advice(_d4rl_spec(name), d4rl_cache_path(name))}"
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
  spec = _d4rl_spec(name)
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
