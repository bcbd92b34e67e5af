"""The online-RL job: S seeds of SAC as one compiled program, acting in S gymnasium envs, trained
on the task's reward or on a learned one (a :class:`~rlkit_jax.rewards.base.RewardSource`).

:mod:`.config` holds the settings, :mod:`.replay` the replay buffer and its labels, :mod:`.resume`
what a checkpoint holds and how a run is put back from it, :mod:`.loop` the job
(:func:`train_online`, :func:`run_online`); :mod:`rlkit_jax.online_results` reads the run folders
(:func:`rlkit_jax.online_results.load_metrics`, :func:`rlkit_jax.online_results.plot_online`).
"""
from rlkit_jax.online.config import OnlineConfig, check_env
from rlkit_jax.online.loop import OnlineRun, run_online, train_online
from rlkit_jax.online.replay import load_replay

__all__ = ["OnlineConfig", "OnlineRun", "check_env", "load_replay", "run_online", "train_online"]
