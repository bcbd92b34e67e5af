"""The d3rlpy side of ``experiments/reproduce.py``: the same transitions, settings and evaluation.

d3rlpy (2.x, PyTorch) is an optional extra (``pip install -e ".[reference]"``); ``rlkit_jax``
never imports it. Each seed is one d3rlpy algorithm trained by calling its ``update`` on
minibatches that d3rlpy samples from an ``MDPDataset`` built from our loader's arrays. Every
``eval_every`` updates all seeds are evaluated through our vectorised evaluator, on the episodes
our job uses at that step, and each seed's model, optimiser and RNG states are saved (also every
``--checkpoint_every`` updates in between), so a killed run continues with ``--resume``.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import pickle
import random
import time
from typing import Any, Callable, Optional

import numpy as np

from rlkit_jax.data import action_dim
from rlkit_jax.data.dataset import Dataset, trajectory_bounds
from rlkit_jax.errors import UsageError

INSTALL = 'pip install -e ".[reference]"'


def require_d3rlpy():
  """Imports d3rlpy, or raises a one-line UsageError saying what to install."""
  try:
    with contextlib.redirect_stderr(io.StringIO()):  # d3rlpy imports the old gym, which prints a notice
      import d3rlpy  # noqa: PLC0415 (optional extra)
  except ImportError as error:
    raise UsageError(f"--reference=d3rlpy needs d3rlpy 2.x and PyTorch ({error}); fix: {INSTALL}") from None
  return d3rlpy


def to_mdp_dataset(dataset: Dataset):
  """Our transitions as a d3rlpy ``MDPDataset`` holding exactly the same transitions.

  d3rlpy reads s' as the next row of an episode, ends an episode at ``terminals | timeouts``, and
  drops the last row of an episode that did not terminate. So a trajectory that ends without a
  termination (a time-out or a break) gets its final s' appended as one extra row (action and
  reward zero, never a transition); a terminated one keeps d3rlpy's zero s', which is masked.
  """
  d3rlpy = require_d3rlpy()
  t = dataset.transitions
  starts, stops = trajectory_bounds(dataset.episode_ends)
  parts: dict[str, list[np.ndarray]] = {k: [] for k in ("observations", "actions", "rewards", "terminals", "timeouts")}
  for start, stop in zip(starts, stops):
    terminated = bool(t.terminals[stop - 1])
    extra = 0 if terminated else 1
    n = stop - start + extra
    observations = t.observations[start:stop]
    actions = t.actions[start:stop]
    rewards = t.rewards[start:stop]
    if extra:
      observations = np.concatenate([observations, t.next_observations[stop - 1 : stop]])
      actions = np.concatenate([actions, np.zeros_like(actions[:1])])
      rewards = np.concatenate([rewards, np.zeros(1, rewards.dtype)])
    ends = np.zeros(n, np.float32)
    ends[-1] = 1.0
    parts["observations"].append(observations)
    parts["actions"].append(actions)
    parts["rewards"].append(rewards)
    parts["terminals"].append(ends if terminated else np.zeros(n, np.float32))
    parts["timeouts"].append(np.zeros(n, np.float32) if terminated else ends)
  arrays = {k: np.concatenate(v) for k, v in parts.items()}
  discrete = np.issubdtype(t.actions.dtype, np.integer)
  return d3rlpy.dataset.MDPDataset(
      observations=arrays["observations"].astype(np.float32),
      actions=arrays["actions"] if discrete else arrays["actions"].astype(np.float32),
      rewards=arrays["rewards"].astype(np.float32),
      terminals=arrays["terminals"],
      timeouts=arrays["timeouts"],
      action_space=d3rlpy.ActionSpace.DISCRETE if discrete else d3rlpy.ActionSpace.CONTINUOUS,
      action_size=action_dim(dataset),
  )


def transition_minibatch(d3rlpy, arrays: dict[str, np.ndarray], rows: np.ndarray):
  """Rows ``rows`` of host arrays (``observations``, ``actions``, ``rewards``, ``terminals``,
  ``next_observations``, optionally ``next_actions``) as a d3rlpy ``TransitionMiniBatch`` for
  ``algo.update``: the same transitions, γ applied once (interval 1), terminals masking the
  bootstrap. Without ``next_actions`` the rows' own actions stand in (read by ReBRAC only)."""
  column = lambda x: x[rows].astype(np.float32).reshape(len(rows), 1)
  return d3rlpy.dataset.TransitionMiniBatch(
      observations=arrays["observations"][rows], actions=arrays["actions"][rows], rewards=column(arrays["rewards"]),
      next_observations=arrays["next_observations"][rows], next_actions=arrays.get("next_actions", arrays["actions"])[rows],
      terminals=column(arrays["terminals"]), intervals=np.ones((len(rows), 1), np.float32), transitions=[],
  )


class TransformerPrompt:
  """A d3rlpy ``StatefulTransformerWrapper`` per evaluation episode, driven by our vectorised
  evaluator: called with observations ``[K, O]`` it acts in each episode, and ``observe(rewards
  [K])`` hands each wrapper the reward its next call reports (the prompt drops by it)."""

  def __init__(self, algo, target_return: float):
    self.algo, self.target_return, self.wrappers, self.rewards = algo, float(target_return), None, None

  def __call__(self, observations: np.ndarray) -> np.ndarray:
    if self.wrappers is None:
      self.wrappers = [self.algo.as_stateful_wrapper(target_return=self.target_return) for _ in observations]
      self.rewards = np.zeros(len(observations))
    return np.stack([w.predict(o.astype(np.float32), float(r)) for w, o, r in zip(self.wrappers, observations, self.rewards)])

  def observe(self, rewards: np.ndarray) -> None:
    self.rewards = np.asarray(rewards, np.float64)


def check_fingerprint(saved: dict[str, Any], fingerprint: dict[str, Any], folder: str) -> None:
  """Refuses to resume a saved reference state made with other settings, naming the first that differs."""
  for name, value in fingerprint.items():
    if saved.get("fingerprint", {}).get(name) != value:
      raise UsageError(
          f"{folder}: the saved run has {name}={saved.get('fingerprint', {}).get(name)!r}, this one {value!r}; "
          "fix: resume with the same settings, or choose another --workdir"
      )


def save_checkpoint(folder: str, step: int, state: dict[str, Any], savers: dict[str, Callable[[str], None]]) -> None:
  """Saves a reference run at ``step``: each saver writes its file under a step-tagged name (saver
  ``"model.pt"`` writes ``model-<step>.pt``), then ``state.pkl``, naming them, is replaced atomically,
  then older tagged files are removed. A kill at any moment leaves one complete checkpoint."""
  files = {}
  for name, save in savers.items():
    stem, suffix = os.path.splitext(name)
    files[name] = f"{stem}-{step}{suffix}"
    save(os.path.join(folder, files[name]))
  with open(os.path.join(folder, "state.pkl.tmp"), "wb") as f:
    pickle.dump({**state, "step": step, "files": files}, f)
  os.replace(os.path.join(folder, "state.pkl.tmp"), os.path.join(folder, "state.pkl"))
  stems = tuple(os.path.splitext(name)[0] for name in savers)
  for name in os.listdir(folder):
    if name.startswith(stems) and name not in files.values():
      os.remove(os.path.join(folder, name))


def load_checkpoint(folder: str, fingerprint: dict[str, Any]) -> tuple[dict[str, Any], Callable[[str], str]]:
  """The state saved by :func:`save_checkpoint` in ``folder``, and ``path(name)``: the saved file of
  saver ``name``. Raises UsageError (one line) where the run was saved with other settings, before
  the caller loads anything."""
  with open(os.path.join(folder, "state.pkl"), "rb") as f:
    state = pickle.load(f)
  check_fingerprint(state, fingerprint, folder)
  files = state.get("files", {})  # none: a run saved before 2026-12-07, under the plain names
  return state, lambda name: os.path.join(folder, files.get(name, name))


def _set_seed(torch, seed: int) -> None:
  torch.manual_seed(seed)
  np.random.seed(seed)  # d3rlpy samples minibatches with NumPy's global generator
  random.seed(seed)


def _read_rows(path: str, max_step: int) -> list[dict[str, float]]:
  if not os.path.exists(path):
    return []
  with open(path, newline="") as f:
    rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
  return [{**row, "step": int(row["step"]), "seed_index": int(row["seed_index"])} for row in rows if row["step"] <= max_step]


def write_rows(path: str, rows: list[dict[str, Any]]) -> None:
  """Writes metric rows as ``path`` (CSV) atomically: a kill never leaves half a file."""
  with open(path + ".tmp", "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  os.replace(path + ".tmp", path)


def train_seed(
    config, mdp, *, seed_index: int, run_seed: int, num_updates: int, eval_every: int, batch_size: int,
    evaluate: Callable[[Callable[[np.ndarray], np.ndarray], int, int], np.ndarray],
    score: Callable[[np.ndarray], np.ndarray], folder: str, resume: bool, fingerprint: dict[str, Any],
    progress: Callable[[int], None] = lambda step: None, target_return: float = float("nan"),
    checkpoint_every: Optional[int] = None,
) -> list[dict[str, Any]]:
  """Trains one seed of the reference in chunks of ``eval_every`` updates, evaluating and saving after each
  (and saving every ``checkpoint_every`` updates in between, where set).

  Args:
    config: from :func:`make_config`.
    mdp: from :func:`to_mdp_dataset`.
    seed_index: i, the seed's place in our run (its evaluation episodes are our run i's).
    run_seed: the torch/NumPy seed of this seed (d3rlpy has no key to split).
    evaluate: ``(act_fn, step, seed_index) -> returns [K]``, our evaluator on our episodes.
    score: returns → D4RL-normalised scores.
    folder: where the model, optimiser and RNG states and ``metrics.csv`` go.
    fingerprint: the run's settings; a saved state with other settings is refused.
    resume: continue from the saved state in ``folder``; without it an existing state is refused.
    progress: called with the step after every save.
    checkpoint_every: updates between saves that are not evaluations (a stopped run loses at most
      this many); ``None``: save at evaluations only. Where it saves does not change the run.
    target_return: a transformer's evaluation prompt R̂₀ (task units).

  Returns:
    The seed's metric rows, one per evaluation.
  """
  import torch  # noqa: PLC0415 (optional extra)

  state_path, metrics_path = os.path.join(folder, "state.pkl"), os.path.join(folder, "metrics.csv")
  if os.path.exists(state_path) and not resume:
    raise UsageError(f"{folder} already holds a reference run; fix: pass --resume to continue it, or choose another --workdir")
  torch.set_num_threads(1)
  algo = config.create(device="cpu:0")
  _set_seed(torch, run_seed)
  algo.build_with_dataset(mdp)
  step, elapsed = 0, 0.0
  if resume and os.path.exists(state_path):
    state, path = load_checkpoint(folder, fingerprint)
    algo.load_model(path("model.pt"))
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["random"])
    step, elapsed = state["step"], state["elapsed_s"]
    algo._grad_step = step  # the policy delay of TD3-style updates counts it
  rows = _read_rows(metrics_path, step)
  os.makedirs(folder, exist_ok=True)
  if hasattr(config, "context_size"):  # a transformer: trajectory segments, a prompt per evaluation episode
    sample = lambda n: mdp.sample_trajectory_batch(n, length=config.context_size)
    act = lambda: TransformerPrompt(algo, target_return)
  else:
    sample, act = mdp.sample_transition_batch, lambda: (lambda obs: algo.predict(obs))
  while step < num_updates:
    started = time.time()
    chunk = min(checkpoint_every or eval_every, eval_every - step % eval_every, num_updates - step)
    for _ in range(chunk):
      algo.update(sample(batch_size))
    step += chunk
    elapsed += time.time() - started
    if step % eval_every == 0 or step == num_updates:
      returns = evaluate(act(), step, seed_index)
      rows.append({"step": step, "setting_index": 0, "seed_index": seed_index,
                   "normalized_score": float(score(returns).mean()), "return_mean": float(returns.mean()),
                   "return_std": float(returns.std()), "train_s": elapsed})
    if rows:  # first: rows past the saved step are dropped on resume, so a kill here loses nothing
      write_rows(metrics_path, rows)
    save_checkpoint(folder, step, {"elapsed_s": elapsed, "torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                                   "random": random.getstate(), "fingerprint": fingerprint}, {"model.pt": algo.save_model})
    progress(step)
  return rows
