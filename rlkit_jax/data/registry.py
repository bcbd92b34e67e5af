"""The dataset name registry: D4RL's gym-mujoco v2 and AntMaze v2 names with their URLs, reference
scores and episode limits (d4rl's ``infos.py`` / ``locomotion/__init__.py``), the toolkit's generated
names ``<task>-<kind>-v5`` (:mod:`rlkit_jax.generation.sac`) and generated discrete names
``cartpole-<kind>-v1`` / ``acrobot-<kind>-v1`` (:mod:`rlkit_jax.generation.dqn`), which
have no URL; and d4rl's local cache folder.

References:
  Fu et al., `D4RL <https://arxiv.org/abs/2004.07219>`_, 2020; ``d4rl/infos.py`` (URLs,
  REF_MIN_SCORE, REF_MAX_SCORE), ``d4rl/offline_env.py`` (cache folder).
"""
from __future__ import annotations

import dataclasses
import os

from rlkit_jax.data.dataset import DatasetError

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
TASK_FAMILIES = {"hopper": "Hopper", "halfcheetah": "HalfCheetah", "walker2d": "Walker2d", "ant": "Ant"}
D4RL_MUJOCO_KINDS = ("random", "medium", "medium-replay", "medium-expert", "expert", "full-replay")
GENERATED_KINDS = ("random", "medium", "medium-replay", "expert", "medium-expert")  # what rlkit_jax.generation writes
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
  for family, task in TASK_FAMILIES.items():
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


def d4rl_spec(name: str) -> DatasetSpec:
  """The registry entry of D4RL dataset ``name``; DatasetError if it is not a D4RL name (with a URL)."""
  spec = REGISTRY.get(name)
  if spec is None or spec.url is None:
    raise DatasetError(f"{name}: not a D4RL dataset name; choose from {', '.join(D4RL_NAMES)}")
  return spec


def d4rl_cache_path(name: str, *, cache_dir: str | None = None) -> str:
  """Where d4rl keeps (or would keep) the file of D4RL dataset ``name``.

  Raises:
    DatasetError: ``name`` is not a registered D4RL name.
  """
  return os.path.join(cache_dir or d4rl_dataset_dir(), d4rl_spec(name).filename)
