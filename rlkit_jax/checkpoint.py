"""Orbax checkpoints of training state, with a config fingerprint to refuse foreign checkpoints.

Typed PRNG keys are stored as their raw ``uint32`` data and re-wrapped on restore. Orbax writes
each step into a temporary folder and renames it when complete, so a crash never leaves a
half-written step that loads as if whole.
"""
from __future__ import annotations

import os
from typing import Any, Optional

import jax
import orbax.checkpoint as ocp


class CheckpointError(ValueError):
  """A checkpoint that cannot be restored into this run; the message names the folder and the fix."""


def _is_key(x: Any) -> bool:
  return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _unwrap_keys(tree: Any) -> Any:
  return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _rewrap_keys(tree: Any, like: Any) -> Any:
  return jax.tree.map(lambda x, ref: jax.random.wrap_key_data(x, impl=jax.random.key_impl(ref)) if _is_key(ref) else x, tree, like)


class Checkpointer:
  """Saves and restores a pytree of training state under ``directory/<step>``.

  Args:
    directory: the run's checkpoint folder (created).
    config: JSON-serialisable description of the run (algorithm, dataset, seeds, network sizes);
      saved beside every step and compared on restore.
    max_to_keep: how many most recent steps to keep.
  """

  def __init__(self, directory: str, config: dict[str, Any], *, max_to_keep: int = 2):
    self.directory = os.path.abspath(directory)
    self.config = config
    self._manager = ocp.CheckpointManager(
        self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
    )

  def latest_step(self) -> Optional[int]:
    """The newest complete step, or None if the folder has none."""
    return self._manager.latest_step()

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
    """Restores the newest (or the given) step into the structure of ``like``.

    Args:
      like: a pytree with the same structure, shapes and dtypes as the saved state (e.g. a
        freshly created one); only its structure is used.
      step: which step; default the newest.

    Returns:
      ``(step, state, extra)``.

    Raises:
      CheckpointError: no checkpoint, a checkpoint from a different configuration (the differing
        fields are named), or one that is corrupt or of another structure.
    """
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f"{self.directory}: no checkpoint to resume from; run without --resume to start afresh")
    where = os.path.join(self.directory, str(step))
    try:
      meta = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    except Exception as e:  # orbax raises several types for unreadable folders
      raise CheckpointError(
          f"{where}: checkpoint metadata is unreadable ({type(e).__name__}: {e}); delete this step folder "
          "to fall back to the previous one, or use a fresh --workdir"
      ) from e
    saved = meta.get("config", {})
    differing = sorted(k for k in set(saved) | set(self.config) if saved.get(k) != self.config.get(k))
    if differing:
      details = ", ".join(f"{k}: checkpoint={saved.get(k)!r} vs run={self.config.get(k)!r}" for k in differing)
      raise CheckpointError(
          f"{where}: checkpoint was written by a different run ({details}); resume with the same settings "
          "or use a fresh --workdir"
      )
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _unwrap_keys(like))
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract)))["state"]
    except Exception as e:
      raise CheckpointError(
          f"{where}: checkpoint state is corrupt or has another structure ({type(e).__name__}: {e}); delete this "
          "step folder to fall back to the previous one, or use a fresh --workdir"
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
  manager = ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(create=False))
  try:
    step = manager.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f"{directory}: no checkpoint here; point at a run's <workdir>/checkpoints folder")
    try:
      restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()))
    except Exception as e:  # orbax raises several types for unreadable folders
      raise CheckpointError(
          f"{os.path.join(directory, str(step))}: checkpoint is unreadable ({type(e).__name__}: {e}); read another step"
      ) from e
  finally:
    manager.close()
  return step, restored["state"], restored["meta"]
