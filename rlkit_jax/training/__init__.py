"""The training core's pieces shared by every job: the non-finite guard (:mod:`.divergence`) and
:func:`train`, the core as a library call on your own arrays (:mod:`.loop`)."""
from rlkit_jax.training.divergence import Divergence, DivergenceLog, all_finite, guard_runs, select_runs
from rlkit_jax.training.loop import TrainResult, train

__all__ = ["Divergence", "DivergenceLog", "TrainResult", "all_finite", "guard_runs", "select_runs", "train"]
