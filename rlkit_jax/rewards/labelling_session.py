"""A resumable labelling session: a fixed plan of segment pairs, asked of a person, a scripted
teacher or a reward model, with every answer saved at once.

The pairs are drawn from the seed alone (:func:`plan_refs`), so the same settings plan the same
pairs; :func:`label` asks only the planned pairs not yet in the output file and rewrites it
(atomically) after every answer, so a session can stop at any pair and go on later.
``experiments/label_preferences.py`` is its command line.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from rlkit_jax.errors import UsageError
from rlkit_jax.rewards.labellers import TEACHERS, ModelLabeller, make_teacher
from rlkit_jax.rewards.preference_data import load_preferences, pairs, save_preferences
from rlkit_jax.rewards.segments import PreferenceDataError, episode_lengths, gather, sample_refs


def plan_refs(dataset, *, num_queries: int, segment_length: int, seed: int) -> np.ndarray:
  """The planned pairs ``[Q, 2, 3]`` int64, a function of the arguments alone."""
  return sample_refs(
      episode_lengths(dataset), num_queries=num_queries, segment_length=segment_length,
      rng=np.random.default_rng(seed), source=dataset.source,
  )


def read_answered(path: str, dataset) -> tuple[str | None, list[tuple[np.ndarray, float]]]:
  """The labeller and the answered pairs of an existing preference file, skipped ones included.

  Returns ``(labeller, [(refs [2, 3] int64, label), ...])`` with label NaN for a skipped pair, or
  ``(None, [])`` if ``path`` does not exist.

  Raises:
    PreferenceDataError: not a preference file of labelled pairs, or segments outside ``dataset``.
  """
  if not os.path.exists(path):
    return None, []
  prefs = load_preferences(path, dataset=dataset, include_skipped=True)
  if prefs.labels is None:
    raise PreferenceDataError(f"{path}: field 'queries' holds rankings; this script resumes files of labelled pairs; choose another --out")
  return prefs.labeller, list(zip(prefs.refs, prefs.labels.astype(np.float64).tolist()))


def save_answers(out: str, dataset_name: str, labeller: str, answered: list[tuple[np.ndarray, float]]) -> None:
  """Writes the answered pairs ``[(refs [2, 3], label)]`` to ``out`` (atomically), skipped ones (NaN) as skipped."""
  refs = np.asarray([r for r, _ in answered], np.int64).reshape(-1, 2, 3)
  labels = np.asarray([label for _, label in answered], np.float32)
  skipped = np.isnan(labels)
  save_preferences(out, pairs(dataset_name, refs, labels, labeller=labeller), skipped_refs=refs[skipped])


def summarize(answered: list[tuple[np.ndarray, float]], remaining: int) -> dict[str, int]:
  """Counts: ``labelled`` (a strict preference), ``ties`` (0.5), ``skipped``, ``remaining`` (planned, not asked)."""
  labels = np.asarray([label for _, label in answered], np.float64)
  return {
      "labelled": int(np.sum((labels == 0.0) | (labels == 1.0))),
      "ties": int(np.sum(labels == 0.5)),
      "skipped": int(np.sum(np.isnan(labels))),
      "remaining": int(remaining),
  }


def make_labeller(
    kind: str,
    *,
    dataset,
    segment_length: int,
    seed: int,
    video_dir: str,
    person: str = "anonymous",
    reward_model: str | None = None,
    input_fn: Callable[[str], str] = input,
    print_fn: Callable[..., None] = print,
    render_fn: Callable[..., np.ndarray] | None = None,
):
  """The labeller named ``kind``: ``"terminal"``, ``"model"`` or a key of ``TEACHERS``.

  Teachers judge with B-Pref's threshold scale ``T · mean reward`` of the whole dataset.

  Raises:
    UsageError: an unknown ``kind``, or ``"model"`` without ``reward_model``.
  """
  if kind == "terminal":
    from rlkit_jax.rewards.terminal import TerminalLabeller

    extra = {} if render_fn is None else {"render_fn": render_fn}
    return TerminalLabeller(video_dir=video_dir, person=person, input_fn=input_fn, print_fn=print_fn, **extra)
  if kind == "model":
    if not reward_model:
      raise UsageError("--labeller=model needs --reward_model=PATH (a reward model saved by the reward learner)")
    from rlkit_jax.rewards.reward_model_files import load_reward_model  # imported here: optional until it is needed

    model = load_reward_model(reward_model)
    return ModelLabeller(model.segment_scores, name=f"model:{reward_model}")
  if kind in TEACHERS:
    return make_teacher(kind, seed=seed).for_rewards(np.asarray(dataset.transitions.rewards), segment_length)
  raise UsageError(f"unknown --labeller={kind!r}; choose terminal, model or one of {sorted(TEACHERS)}")


def label(
    dataset,
    dataset_name: str,
    labeller,
    *,
    num_queries: int,
    segment_length: int,
    seed: int,
    out: str,
    one_at_a_time: bool,
    print_fn: Callable[..., None] = print,
) -> dict[str, int]:
  """Labels the planned pairs not yet in ``out``, saving after each answer; returns :func:`summarize`.

  ``one_at_a_time``: ask pair by pair and save after every label (a person), else label all
  remaining pairs in one call (teachers, models). Stops early when ``labeller.stopped`` is set.

  Raises:
    PreferenceDataError: ``out`` was labelled by another labeller, or does not fit ``dataset``
      (see :func:`read_answered`).
  """
  previous, answered = read_answered(out, dataset)
  if previous is not None and previous != labeller.name:
    raise PreferenceDataError(
        f"{out}: field 'labeller' is {previous!r}, but this session labels as {labeller.name!r}; one file holds one "
        "labeller's answers: use the same --labeller/--name, or another --out"
    )
  done = {r.tobytes() for r, _ in answered}
  todo, seen = [], set()
  for r in plan_refs(dataset, num_queries=num_queries, segment_length=segment_length, seed=seed):
    if r.tobytes() not in done and r.tobytes() not in seen:
      todo.append(r)
      seen.add(r.tobytes())
  print_fn(f"{out}: {len(answered)} pairs already answered, {len(todo)} of the {num_queries} planned to go")
  if todo:
    queries = gather(dataset, np.stack(todo), source="the plan")
    if one_at_a_time:
      for i in range(len(todo)):
        print_fn(f"Pair {i + 1} of {len(todo)}")
        value = float(labeller(queries.take(np.array([i])))[0])
        if getattr(labeller, "stopped", False):
          todo = todo[i:]
          break
        answered.append((todo[i], value))
        save_answers(out, dataset_name, labeller.name, answered)
      else:
        todo = []
    else:
      answered += list(zip(todo, np.asarray(labeller(queries), np.float64).tolist()))
      save_answers(out, dataset_name, labeller.name, answered)
      todo = []
  summary = summarize(answered, len(todo))
  print_fn(
      f"{out}: {summary['labelled']} labelled, {summary['ties']} ties, {summary['skipped']} skipped, "
      f"{summary['remaining']} planned pairs left" + (" (run the same command to resume)" if todo else "")
  )
  return summary
