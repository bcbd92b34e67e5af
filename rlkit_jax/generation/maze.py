"""Goal datasets with D4RL's maze2d recipe on gymnasium-robotics' PointMaze: a waypoint controller
plans a shortest path through the maze's cells to the episode's goal and steers to each cell
centre in turn, with Gaussian action noise. The rows are written in the goal layout of
:func:`rlkit_jax.envs.make.make_env` (``[achieved_goal, desired_goal, observation]``).

Reference: Fu et al., `D4RL: Datasets for Deep Data-Driven Reinforcement Learning
<https://arxiv.org/abs/2004.07219>`_, 2020, Sec. 5 (Maze2D: "a planner ... generates waypoints
... followed by a PD controller").
"""
from __future__ import annotations

import collections
import functools
from typing import Any, Callable

import numpy as np

from rlkit_jax.envs.make import make_env
from rlkit_jax.envs.rollout import rollout

GOAL_DIM = 2  # PointMaze's goals are (x, y) positions
PROPORTIONAL_GAIN, DAMPING = 10.0, 1.0  # a = kp (waypoint - position) - kd velocity (Minari's PointMaze controller gains)


def shortest_path(free: np.ndarray, start: tuple[int, int], goal: tuple[int, int]) -> list[tuple[int, int]]:
  """Cells ``[start, ..., goal]`` of a shortest 4-connected path over ``free`` (``[rows, cols]``
  bool), by breadth-first search; ``[start]`` if start is the goal.

  Raises:
    ValueError: no free path joins the two cells.
  """
  parents = {start: start}
  queue = collections.deque([start])
  while queue:
    cell = queue.popleft()
    if cell == goal:
      path = [cell]
      while path[-1] != start:
        path.append(parents[path[-1]])
      return path[::-1]
    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
      nxt = (cell[0] + dr, cell[1] + dc)
      if 0 <= nxt[0] < free.shape[0] and 0 <= nxt[1] < free.shape[1] and free[nxt] and nxt not in parents:
        parents[nxt] = cell
        queue.append(nxt)
  raise ValueError(f"no path through the maze from cell {start} to cell {goal}")


def waypoint_controller(
    env_id: str, *, action_noise: float, seed: int, wander: bool = False
) -> Callable[[np.ndarray], np.ndarray]:
  """The planner-plus-PD policy of the maze2d recipe for PointMaze task ``env_id``.

  Args:
    env_id: a PointMaze task (e.g. ``"gymnasium_robotics:PointMaze_UMaze-v3"``).
    action_noise: standard deviation of the Gaussian noise added to every action (then clipped
      to [-1, 1]); 0 gives the noise-free controller.
    seed: seeds the noise and the wandering targets.
    wander: steer to targets of its own instead of the observation's goal: the centre of a
      uniformly drawn free cell, drawn again on arrival (within 0.45, the task's success
      distance). D4RL's maze2d data was made this way; the observation's goal then says nothing
      about the actions.

  Returns:
    ``observation [1, 2G + 4] float32 -> action [2] float32`` in the goal layout (G = 2): the
    force toward the centre of the next cell on a shortest path to the target's cell, or toward the
    target itself inside that cell.
  """
  env = make_env(env_id)
  maze = env.unwrapped.maze
  env.close()
  free = np.array([[cell != 1 for cell in row] for row in maze.maze_map])
  rng = np.random.default_rng(seed)
  free_cells = np.argwhere(free)
  target = [None]  # the wandering target, [2] float64 (None: draw one)

  def cell_of(xy: np.ndarray) -> tuple[int, int]:
    return tuple(int(i) for i in maze.cell_xy_to_rowcol(xy))

  path_between = functools.lru_cache(maxsize=None)(lambda start, end: shortest_path(free, start, end))  # per cell pair, once

  def policy(observation: np.ndarray) -> np.ndarray:
    goal = observation[0, GOAL_DIM:2 * GOAL_DIM]
    position, velocity = observation[0, 2 * GOAL_DIM:2 * GOAL_DIM + 2], observation[0, 2 * GOAL_DIM + 2:]
    if wander:
      if target[0] is None or np.linalg.norm(position - target[0]) < 0.45:
        target[0] = maze.cell_rowcol_to_xy(free_cells[rng.integers(len(free_cells))])
      goal = target[0]
    path = path_between(cell_of(position), cell_of(goal))
    waypoint = goal if len(path) == 1 else maze.cell_rowcol_to_xy(np.asarray(path[1]))
    action = PROPORTIONAL_GAIN * (waypoint - position) - DAMPING * velocity
    action = action + action_noise * rng.standard_normal(action.shape)
    return np.clip(action, -1.0, 1.0).astype(np.float32)

  return policy


def make_maze_dataset(
    env_id: str, *, num_transitions: int, seed: int, action_noise: float = 0.5, wander: bool = False,
    reference_episodes: int = 20, progress: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
  """A goal dataset of ``num_transitions`` noisy-controller steps, and its reference scores.

  The normalised score's references are measured as D4RL's maze2d ones were: ``ref_min_score`` is
  a uniformly random policy's mean return, ``ref_max_score`` the noise-free controller's, each over
  ``reference_episodes`` full episodes (the task's own time limit; reward 1 per step within 0.45 of
  the goal, so the return counts the steps spent at the goal).

  Args:
    env_id: a PointMaze task, ``module:Task-v3`` form so that the id imports gymnasium-robotics.
    num_transitions: N rows (episodes run to the task's time limit; the last one is cut).
    seed: seeds the data's resets and noise; the references use ``seed + 1`` and ``seed + 2``.
    action_noise: the data's action noise (standard deviation, before clipping).
    wander: the data's controller steers to targets of its own, not the task's goal
      (:func:`waypoint_controller`); the references still steer to the goal.
    reference_episodes: episodes per reference policy.
    progress: show tqdm bars.

  Returns:
    ``(arrays, attrs)``: D4RL-layout arrays (observations ``[N, 2G + 4]`` in the goal layout) and
    file attributes: ``env_id``, ``goal_dim``, ``seed``, ``action_noise``, ``wander``, ``ref_min_score``,
    ``ref_max_score``, ``episode_return_mean``, ``num_episodes``, ``policy``.
  """
  controller = waypoint_controller(env_id, action_noise=action_noise, seed=seed, wander=wander)
  arrays, returns = rollout(env_id, controller, num_transitions=num_transitions, seed=seed, progress=progress)
  probe = make_env(env_id)
  horizon, action_dim = probe.spec.max_episode_steps, probe.action_space.shape[0]
  probe.close()
  rng = np.random.default_rng(seed + 1)
  random_policy = lambda observation: rng.uniform(-1.0, 1.0, action_dim).astype(np.float32)
  _, random_returns = rollout(env_id, random_policy, num_transitions=reference_episodes * horizon, seed=seed + 1, progress=progress)
  expert = waypoint_controller(env_id, action_noise=0.0, seed=seed + 2)
  _, expert_returns = rollout(env_id, expert, num_transitions=reference_episodes * horizon, seed=seed + 2, progress=progress)
  attrs = {
      "env_id": env_id, "goal_dim": GOAL_DIM, "seed": seed, "action_noise": action_noise, "wander": wander,
      "policy": f"maze2d recipe: shortest-path waypoints to {'targets of its own' if wander else 'the goal'}, "
      f"PD gains {PROPORTIONAL_GAIN}/{DAMPING}, noise {action_noise}",
      "ref_min_score": float(np.mean(random_returns)), "ref_max_score": float(np.mean(expert_returns)),
      "episode_return_mean": float(np.mean(returns)) if len(returns) else float("nan"), "num_episodes": len(returns),
  }
  return arrays, attrs
