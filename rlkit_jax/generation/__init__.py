"""Dataset generation with the D4RL recipe: an online agent trains on a task, then its replay and
rollouts of its snapshots are written as D4RL-layout HDF5 files. SAC on ``Box`` tasks
(:mod:`.sac`: the online job, :func:`rlkit_jax.online.train_online`, with a snapshot hook;
resumable), Double DQN on ``Discrete`` ones (:mod:`.dqn`); both train through the training core
(:func:`rlkit_jax.training.update_runs`) and share :mod:`.recipe`. ``rlkit_jax.data`` reads
what they write and knows no algorithm."""
from rlkit_jax.generation.dqn import make_discrete_datasets, train_dqn
from rlkit_jax.generation.recipe import DATASET_KINDS, dataset_name, write_dataset_kinds
from rlkit_jax.generation.sac import SnapshotRecorder, make_d4rl_datasets

__all__ = ["DATASET_KINDS", "dataset_name", "make_d4rl_datasets", "make_discrete_datasets", "SnapshotRecorder", "train_dqn", "write_dataset_kinds"]
