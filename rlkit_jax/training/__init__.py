"""The training core every job uses (:mod:`.core`: init of H settings × S seeds, the vmapped
``lax.scan`` of updates, sharding), the non-finite guard (:mod:`.divergence`), evaluation of many
runs at once (:mod:`.evaluation`, imported on use: it needs gymnasium) and :func:`train`, the core
as a library call on your own arrays (:mod:`.loop`)."""
from rlkit_jax.training.divergence import Divergence, DivergenceLog, all_finite, guard_runs, select_runs
from rlkit_jax.training.core import RunState, create_runs, init_run_state, make_train_chunk, place, sweep_settings, update_runs
from rlkit_jax.training.loop import TrainResult, train

__all__ = [
    "Divergence", "DivergenceLog", "RunState", "TrainResult", "all_finite", "create_runs", "guard_runs", "init_run_state",
    "make_train_chunk", "place", "select_runs", "sweep_settings", "train", "update_runs",
]
