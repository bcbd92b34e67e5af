"""Offline datasets: loading by name or file (D4RL, generated, Minari), validation, in-jit sampling.

``rlkit_jax.data.load("hopper-medium-replay-v5")`` → :class:`Dataset`; generation (SAC + the D4RL
recipe) lives in :mod:`rlkit_jax.generation`; this package knows no algorithm.
"""
from rlkit_jax.data.d4rl import download_d4rl, load_d4rl, read_d4rl_hdf5
from rlkit_jax.data.registry import (
    D4RL_NAMES,
    DISCRETE_NAMES,
    GENERATED_NAMES,
    REGISTRY,
    DatasetSpec,
    d4rl_cache_path,
    d4rl_dataset_dir,
    get_spec,
    reference_scores,
)
from rlkit_jax.data.qlearning import qlearning_arrays
from rlkit_jax.data.validation import dataset_from_arrays
from rlkit_jax.data.dataset import Dataset, DatasetError, take_episodes
from rlkit_jax.data.hdf5 import D4RL_KEYS, write_d4rl_hdf5
from rlkit_jax.data.loading import action_dim, dataset_dirs, is_discrete, load
from rlkit_jax.data.minari import load_minari
from rlkit_jax.data.transitions import Transitions, sample_batch

__all__ = [
    "D4RL_KEYS",
    "D4RL_NAMES",
    "DISCRETE_NAMES",
    "GENERATED_NAMES",
    "REGISTRY",
    "Dataset",
    "DatasetError",
    "DatasetSpec",
    "Transitions",
    "action_dim",
    "d4rl_cache_path",
    "d4rl_dataset_dir",
    "dataset_dirs",
    "dataset_from_arrays",
    "download_d4rl",
    "get_spec",
    "is_discrete",
    "load",
    "load_d4rl",
    "load_minari",
    "qlearning_arrays",
    "read_d4rl_hdf5",
    "reference_scores",
    "sample_batch",
    "take_episodes",
    "write_d4rl_hdf5",
]
