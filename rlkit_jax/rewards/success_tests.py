"""Success tests of real gymnasium tasks, judged from observations by the task's own geometry (not
a learned model), and the success indicator as a reward (``--reward=success``).

Tasks (:data:`SUCCESS_TASKS`):

- ``Reacher-v5``: success = the fingertip within 0.02 of the target at the episode's end
  (:func:`reacher_success`). Observation (10): ``[cos θ0, cos θ1, sin θ0, sin θ1, target_x,
  target_y, θ̇0, θ̇1, (fingertip − target)_x, (fingertip − target)_y]`` (gymnasium
  ``reacher_v5.ReacherEnv._get_obs``), lengths in metres.
- ``Pusher-v5``: success = the object's centre within 0.05 (its radius) of the goal's centre in
  the table plane (:func:`pusher_success`). Observation (23): ``[arm qpos (7), arm qvel (7),
  tips_arm xyz (14:17), object xyz (17:20), goal xyz (20:23)]`` (``pusher_v5.PusherEnv._get_obs``).
- ``Swimmer-v5``: success = turned around, the front segment's heading within 30° (π/6) of the
  direction opposite to its start (heading 0 = facing +x) at the episode's end
  (:func:`swimmer_success`). Observation (8): ``[heading θ0 (rad, not wrapped), joint angles θ1,
  θ2, ẋ, ẏ, θ̇0, θ̇1, θ̇2]`` (``swimmer_v5.SwimmerEnv._get_obs``). The task's own reward is forward
  speed, which says nothing about turning, so ``--reward=success`` (:class:`SuccessReward`, the
  success indicator) is the task reward to compare against.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from rlkit_jax.errors import InputError

REACHER_SUCCESS_DISTANCE = 0.02  # m, fingertip to target
PUSHER_SUCCESS_DISTANCE = 0.05  # m, object centre to goal centre (the object's radius, pusher.xml)
SWIMMER_SUCCESS_ANGLE = np.pi / 6  # rad, heading to the reversed direction


class ExamplesError(InputError):
  """A success-examples file (or a task without a success test) that cannot be used here; the message
  names the file, the field and the fix."""


# --------------------------------------------------------------------------------------------------
# Success tests (from observations; the tasks' own geometry, not a learned model).


def reacher_fingertip_distance(observations: Any) -> np.ndarray:
  """‖fingertip − target‖ in the plane, metres: Reacher-v5 observations ``[..., 10]`` → ``[...]`` float64."""
  observations = np.asarray(observations, np.float64)
  _check_width("Reacher-v5", observations, 10)
  return np.linalg.norm(observations[..., 8:10], axis=-1)


def reacher_success(observations: Any, *, threshold: float = REACHER_SUCCESS_DISTANCE) -> np.ndarray:
  """Reacher-v5 success: ``[..., 10]`` → ``[...]`` bool, fingertip within ``threshold`` m of the target.
  Apply it to an episode's last observation for the episode's success."""
  return reacher_fingertip_distance(observations) <= threshold


def pusher_object_distance(observations: Any) -> np.ndarray:
  """‖object − goal‖ in the table plane (x, y), metres: Pusher-v5 observations ``[..., 23]`` → ``[...]`` float64."""
  observations = np.asarray(observations, np.float64)
  _check_width("Pusher-v5", observations, 23)
  return np.linalg.norm(observations[..., 17:19] - observations[..., 20:22], axis=-1)


def pusher_success(observations: Any, *, threshold: float = PUSHER_SUCCESS_DISTANCE) -> np.ndarray:
  """Pusher-v5 success: ``[..., 23]`` → ``[...]`` bool, the object's centre within ``threshold`` m of the goal's."""
  return pusher_object_distance(observations) <= threshold


def swimmer_heading_turned(observations: Any) -> np.ndarray:
  """How far the swimmer has turned from its start heading 0, ``|θ0|`` in radians (whole turns
  included): Swimmer-v5 observations ``[..., 8]`` → ``[...]`` float64. Success is near π (or 3π, …);
  near 2π it has turned a full circle, back to the start heading."""
  observations = np.asarray(observations, np.float64)
  _check_width("Swimmer-v5", observations, 8)
  return np.abs(observations[..., 0])


def swimmer_reversal_angle(observations: Any) -> np.ndarray:
  """Angle between the swimmer's heading and the reversed direction (heading ±π), radians in
  [0, π]: Swimmer-v5 observations ``[..., 8]`` → ``[...]`` float64 (0 = turned around, π = the start
  heading 0). The heading (``observations[..., 0]``) is not wrapped; whole turns do not count."""
  return np.pi - np.abs(np.angle(np.exp(1j * swimmer_heading_turned(observations))))


def swimmer_success(observations: Any, *, threshold: float = SWIMMER_SUCCESS_ANGLE) -> np.ndarray:
  """Swimmer-v5 success: ``[..., 8]`` → ``[...]`` bool, turned around to within ``threshold`` rad of
  the reversed heading."""
  return swimmer_reversal_angle(observations) <= threshold


SUCCESS_TESTS: dict[str, Callable[..., np.ndarray]] = {
    "Reacher-v5": reacher_success, "Pusher-v5": pusher_success, "Swimmer-v5": swimmer_success,
}
SUCCESS_TASKS = tuple(SUCCESS_TESTS)
# What each success test looks at, as a number (name with its unit, observations [..., O] → [...]):
# where failed episodes end, not only whether they succeeded.
SUCCESS_MEASURES: dict[str, tuple[str, Callable[..., np.ndarray]]] = {
    "Reacher-v5": ("fingertip–target distance (m)", reacher_fingertip_distance),
    "Pusher-v5": ("object–goal distance (m)", pusher_object_distance),
    "Swimmer-v5": ("heading turned (rad, whole turns counted; success within π/6 of π, 3π, …)", swimmer_heading_turned),
}


def success_fn(env_id: str) -> Callable[..., np.ndarray]:
  """The success test of ``env_id`` (observations ``[..., O]`` → ``[...]`` bool).

  Raises:
    ValueError: no success test for that task (the valid ids are listed).
  """
  if env_id not in SUCCESS_TESTS:
    raise ValueError(f"no success test for {env_id!r}; tasks with one: {', '.join(SUCCESS_TASKS)}")
  return SUCCESS_TESTS[env_id]


def episode_successes(next_observations: Any, episode_ends: Any, env_id: str) -> tuple[np.ndarray, np.ndarray]:
  """Success of every episode in one seed's replay, judged on its last observation.

  Args:
    next_observations: s_{t+1}, ``[n, O]`` (e.g. ``ReplayView.next_observations[i]``).
    episode_ends: ``[n]`` bool, row t ends an episode (``ReplayView.episode_ends[i]``: terminal,
      time-out, a resume's cut, or the last filled row — an episode cut by the data's end or a
      resume counts as one).
    env_id: a task of :data:`SUCCESS_TASKS`.

  Returns:
    ``(steps [K] int64, success [K] bool)``: the env step (1-based, = row + 1) at which each of the
    K episodes ended, and whether its last observation passes the task's success test.
  """
  rows = np.flatnonzero(np.asarray(episode_ends, bool))
  return rows + 1, success_fn(env_id)(np.asarray(next_observations)[rows])


class SuccessReward:
  """The success indicator as the reward, ``r(s, a, s') = 1[s' passes the task's success test]``
  (``--reward=success``): the sparse reward a task defined by its success test gives — the binary
  event that VICE's classifier p(e = 1 | s) estimates (Fu et al. 2018), here given exactly — and so
  the baseline an example-based reward is measured against on tasks whose own reward is about
  something else (Swimmer-v5 turning around).

  A :class:`rlkit_jax.rewards.base.RewardSource`; stateless, it never changes (no relabelling).
  """

  name = "success"

  def __init__(self, env_id: str):
    self.env_id = env_id
    self.test = success_fn(env_id)

  def update(self, step: int, buffer: Any, key: Any) -> tuple[bool, dict[str, float]]:
    del step, buffer, key
    return False, {}

  def rewards(self, observations: Any, actions: Any, next_observations: Any, terminals: Any = None) -> np.ndarray:
    """``[S, n, O]``, ``[S, n, A]``, ``[S, n, O]``, ``[S, n]`` → ``[S, n]`` float32 in {0, 1}, from
    the next observation only."""
    del observations, actions, terminals
    return self.test(next_observations).astype(np.float32)

  def state(self) -> dict:
    return {}

  def restore(self, state: Any) -> None:
    del state


def make_success_reward(*, config: Any, **unused: Any) -> SuccessReward:
  """``--reward=success``: :class:`SuccessReward` for ``config.env_id``.

  Raises:
    ExamplesError: the task has no success test, or ``--reward_kwargs`` were given (it has no settings).
  """
  if config.reward_kwargs:
    raise ExamplesError(f"--reward=success has no settings; drop --reward_kwargs={dict(config.reward_kwargs)}")
  if config.env_id not in SUCCESS_TESTS:
    raise ExamplesError(
        f"--reward=success: {config.env_id} has no success test; tasks with one: {', '.join(SUCCESS_TASKS)} "
        "(add one to rlkit_jax/rewards/success_tests.py)"
    )
  return SuccessReward(config.env_id)


def _check_width(env_id: str, observations: np.ndarray, width: int) -> None:
  if observations.shape[-1:] != (width,):
    raise ValueError(f"{env_id} observations have {width} features, got an array of shape {list(observations.shape)}")
