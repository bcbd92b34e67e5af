"""Orbax checkpoints of training state, with a config fingerprint to refuse foreign checkpoints.

Typed PRNG keys are stored as their raw ``uint32`` data and re-wrapped on restore. Orbax writes
each step into a temporary folder and renames it when complete, so a crash never leaves a
half-written step that loads as if whole.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Optional

import jax
import orbax.checkpoint as ocp

from rlkit_jax.errors import InputError

_log = logging.getLogger(__name__)


class CheckpointError(InputError):
  """A checkpoint that cannot be restored into this run; the message names the folder and the fix."""


class _UnreadableStep(CheckpointError):
  """One step folder that cannot be read (corrupt, truncated, of another structure)."""


def _first_line(error: Exception) -> str:
  text = str(error).strip()
  return text.splitlines()[0] if text else ""


def _manager(directory: str, options: ocp.CheckpointManagerOptions) -> ocp.CheckpointManager:
  # Handlers named up front, so the state's metadata can be read before anything is restored.
  handlers = {"state": ocp.StandardCheckpointHandler(), "meta": ocp.JsonCheckpointHandler()}
  return ocp.CheckpointManager(directory, options=options, item_handlers=handlers)


# Orbax's commit record of a step (its timestamps), read for every step when a folder is opened.
_COMMIT_RECORD = "_CHECKPOINT_METADATA"


def _damaged_commit_records(directory: str) -> list[int]:
  """The steps of ``directory`` whose commit record is there but unreadable. Orbax skips a missing
  or non-JSON record, but one that is JSON and not a record (``0``, ``[]``, a timestamp that is
  not an integer) stops it from opening the whole folder."""
  if not os.path.isdir(directory):
    return []
  steps = sorted(int(name) for name in os.listdir(directory) if name.isdigit())
  damaged = []
  for step in steps:
    folder = os.path.join(directory, str(step))
    if os.path.exists(os.path.join(folder, _COMMIT_RECORD)):
      try:
        ocp.metadata.get_step_metadata(folder)
      except Exception:  # orbax raises ValueError for every kind of bad record
        damaged.append(step)
  return damaged


def _set_aside(directory: str, steps: list[int]) -> None:
  """Renames step folders to ``<step>.unreadable``, which orbax ignores; nothing is deleted."""
  for bad in steps:
    target = os.path.join(directory, f"{bad}.unreadable")
    if os.path.exists(target):
      target += f".{len(os.listdir(directory))}"
    os.rename(os.path.join(directory, str(bad)), target)


def _open(directory: str, options: ocp.CheckpointManagerOptions) -> ocp.CheckpointManager:
  """Orbax's manager of ``directory``. Steps whose commit record stops orbax from opening it are
  set aside first, with a warning, as :meth:`Checkpointer.restore` sets aside unreadable steps.

  Raises:
    CheckpointError: orbax cannot open the folder for another reason.
  """
  try:
    return _manager(directory, options)
  except Exception as e:  # orbax's error types vary by version
    damaged = _damaged_commit_records(directory)
    if not damaged:
      raise CheckpointError(
          f"{directory}: orbax cannot open this checkpoint folder ({type(e).__name__}: {_first_line(e)}); "
          "fix: move its damaged step folders aside, or use a fresh --workdir"
      ) from e
  for step in damaged:
    _log.warning("%s: its commit record (%s) is unreadable; set aside as %s.unreadable",
                 os.path.join(directory, str(step)), _COMMIT_RECORD, step)
  _set_aside(directory, damaged)
  return _open(directory, options)


def _key_name(key: Any) -> str:
  for attribute in ("key", "name", "idx"):  # DictKey, GetAttrKey, SequenceKey / FlattenedIndexKey
    if hasattr(key, attribute):
      return str(getattr(key, attribute))
  return str(key)


def _layout(tree: Any) -> dict[str, tuple[tuple[int, ...], str]]:
  """Leaf path (as orbax nests it: every node a dict of names) → (shape, dtype)."""
  leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
  return {"/".join(map(_key_name, path)): (tuple(leaf.shape), str(leaf.dtype)) for path, leaf in leaves}


def _check_layout(manager: ocp.CheckpointManager, step: int, abstract: Any, where: str) -> None:
  """Raises _UnreadableStep unless the saved state has exactly the leaves, shapes and dtypes of
  ``abstract``."""
  try:
    saved = _layout(manager.item_metadata(step)["state"].tree)
  except Exception as e:  # missing or damaged metadata
    raise _UnreadableStep(f"{where}: checkpoint state metadata is unreadable ({type(e).__name__}: {_first_line(e)})") from e
  expected = _layout(abstract)
  if saved != expected:
    path = next(p for p in sorted(set(saved) | set(expected)) if saved.get(p) != expected.get(p))
    raise _UnreadableStep(
        f"{where}: checkpoint state has another structure (leaf {path}: saved {saved.get(path)} vs this run's "
        f"{expected.get(path)}, as (shape, dtype))"
    )


def _is_key(x: Any) -> bool:
  return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _unwrap_keys(tree: Any) -> Any:
  return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _rewrap_keys(tree: Any, like: Any) -> Any:
  return jax.tree.map(lambda x, ref: jax.random.wrap_key_data(x, impl=jax.random.key_impl(ref)) if _is_key(ref) else x, tree, like)


# Config fields renamed since checkpoints were first written (old name → new), so older run
# folders still resume.
RENAMED_FIELDS = {"log_every": "updates_per_call"}


class Checkpointer:
  """Saves and restores a pytree of training state under ``directory/<step>``.

  Args:
    directory: the run's checkpoint folder (created).
    config: JSON-serialisable description of the run (algorithm, dataset, seeds, network sizes);
      saved beside every step and compared on restore.
    max_to_keep: how many most recent steps to keep.

  A step whose orbax commit record (``<step>/_CHECKPOINT_METADATA``) is damaged so that orbax
  cannot open the folder is set aside at once (renamed ``<step>.unreadable``, with a warning).

  Raises:
    CheckpointError: orbax cannot open ``directory`` for another reason.
  """

  def __init__(self, directory: str, config: dict[str, Any], *, max_to_keep: int = 2):
    self.directory = os.path.abspath(directory)
    self.config = config
    self._options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
    self._manager = _open(self.directory, self._options)

  def latest_step(self) -> Optional[int]:
    """The newest complete step, or None if the folder has none."""
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    """The steps kept in the folder, oldest first."""
    return sorted(self._manager.all_steps())

  def save(self, step: int, state: Any, extra: Optional[dict[str, Any]] = None) -> None:
    """Saves ``state`` (any pytree of arrays, typed keys allowed) and JSON ``extra`` at ``step``;
    waits until it is on disk."""
    self._manager.save(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(_unwrap_keys(state)),
            meta=ocp.args.JsonSave({"config": self.config, "extra": extra or {}}),
        ),
    )
    self._manager.wait_until_finished()

  def restore(self, like: Any, step: Optional[int] = None) -> tuple[int, Any, dict[str, Any]]:
    """Restores the newest readable (or the given) step into the structure of ``like``.

    Without ``step``, an unreadable newest step does not stop a resume: it is set aside (renamed
    ``<step>.unreadable``, nothing is deleted), a warning names it, and the next older step is
    tried, down to the oldest kept one. A checkpoint written by a different configuration is
    refused at once: an older step of the same folder would be no better.

    Args:
      like: a pytree with the same structure, shapes and dtypes as the saved state (e.g. a
        freshly created one), or a function ``step -> pytree`` for state whose shapes depend on
        the step (an online replay); only its structure is used.
      step: which step; default the newest readable one.

    Returns:
      ``(step, state, extra)``.

    Raises:
      CheckpointError: no checkpoint; a checkpoint from a different configuration (the differing
        fields are named); the given ``step`` unreadable, or, without ``step``, no readable step
        left (each unreadable step is named).
    """
    template = like if callable(like) else (lambda _: like)
    if step is not None:
      try:
        return self._restore_step(template(step), step)
      except _UnreadableStep as e:
        raise CheckpointError(f"{e}; fix: restore another step, or use a fresh --workdir") from e
    steps = sorted(self._manager.all_steps(), reverse=True)
    if not steps:
      raise CheckpointError(f"{self.directory}: no checkpoint to resume from; run without --resume to start afresh")
    failures = []
    for candidate in steps:
      try:
        restored = self._restore_step(template(candidate), candidate)
      except _UnreadableStep as e:
        failures.append(str(e))
        _log.warning("%s; resuming from an older step", e)
        continue
      if failures:
        self._set_aside(steps[: len(failures)])
      return restored
    raise CheckpointError(
        f"{self.directory}: no readable checkpoint (steps {', '.join(map(str, steps))} are all unreadable: "
        f"{' | '.join(failures)}); fix: start afresh with another --workdir"
    )

  def _set_aside(self, steps: list[int]) -> None:
    """Renames unreadable step folders to ``<step>.unreadable`` (orbax then ignores them) and
    reopens the manager, so the run's next saves at those steps succeed."""
    self._manager.close()
    _set_aside(self.directory, steps)
    self._manager = _open(self.directory, self._options)

  def _restore_step(self, like: Any, step: int) -> tuple[int, Any, dict[str, Any]]:
    where = os.path.join(self.directory, str(step))
    try:
      meta = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    except Exception as e:  # orbax raises several types for unreadable folders
      raise _UnreadableStep(f"{where}: checkpoint metadata is unreadable ({type(e).__name__}: {_first_line(e)})") from e
    saved = meta.get("config", {}) if isinstance(meta, dict) else {}
    saved = {RENAMED_FIELDS.get(k, k): v for k, v in saved.items()}
    differing = sorted(k for k in set(saved) | set(self.config) if saved.get(k) != self.config.get(k))
    if differing:
      details = ", ".join(f"{k}: checkpoint={saved.get(k)!r} vs run={self.config.get(k)!r}" for k in differing)
      raise CheckpointError(
          f"{where}: checkpoint was written by a different run ({details}); resume with the same settings "
          "or use a fresh --workdir"
      )
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _unwrap_keys(like))
    _check_layout(self._manager, step, abstract, where)  # orbax would cast a leaf of another dtype silently
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract)))["state"]
    except Exception as e:
      raise _UnreadableStep(
          f"{where}: checkpoint state is corrupt or has another structure ({type(e).__name__}: {_first_line(e)})"
      ) from e
    return step, _rewrap_keys(restored, like), meta.get("extra", {})

  def close(self) -> None:
    """Waits for pending saves and releases the manager."""
    self._manager.wait_until_finished()
    self._manager.close()


def read_checkpoint(directory: str, step: Optional[int] = None) -> tuple[int, Any, dict[str, Any]]:
  """Reads a checkpoint folder written by :class:`Checkpointer` without a template, for inspecting
  a run (e.g. the replay an online run collected): no config check, typed keys come back as their
  raw ``uint32`` data, arrays as NumPy/JAX arrays in the saved nesting of dicts.

  Args:
    directory: the run's checkpoint folder (``<workdir>/checkpoints``).
    step: which step; default the newest.

  Returns:
    ``(step, state, meta)``: ``meta`` holds the saved ``config`` and ``extra``.

  Raises:
    CheckpointError: no checkpoint in ``directory``, or a step that cannot be read.
  """
  directory = os.path.abspath(directory)
  if not os.path.isdir(directory):
    raise CheckpointError(f"{directory}: no such folder; point at a run's <workdir>/checkpoints folder")
  try:
    manager = ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(create=False))
  except Exception as e:  # orbax reads every step's commit record here
    damaged = ", ".join(map(str, _damaged_commit_records(directory))) or "none found"
    raise CheckpointError(
        f"{directory}: orbax cannot open this checkpoint folder ({type(e).__name__}: {_first_line(e)}; steps with a "
        f"damaged {_COMMIT_RECORD}: {damaged}); move those step folders aside to read the others"
    ) from e
  try:
    step = manager.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f"{directory}: no checkpoint here; point at a run's <workdir>/checkpoints folder")
    try:
      restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()))
    except Exception as e:  # orbax raises several types for unreadable folders
      raise CheckpointError(
          f"{os.path.join(directory, str(step))}: checkpoint is unreadable ({type(e).__name__}: {_first_line(e)}); read another step"
      ) from e
  finally:
    manager.close()
  return step, restored["state"], restored["meta"]
