"""The training core's pieces shared by every job: the non-finite guard (:mod:`.divergence`)."""
from rlkit_jax.training.divergence import Divergence, DivergenceLog, all_finite, guard_runs, select_runs

__all__ = ["Divergence", "DivergenceLog", "all_finite", "guard_runs", "select_runs"]
