"""The offline job: H sweep settings × S seeds of one algorithm trained on one dataset as one
compiled program. :mod:`.config` holds the ``--algo`` choices, the settings and the dataset's
preparation; :mod:`.job` the job (:func:`run_offline`)."""
from rlkit_jax.offline.config import (
    ALGOS,
    DEFAULT_DATASET,
    Algorithm,
    OfflineConfig,
    create_fn,
    prepare_dataset,
    relabel_with_reward_model,
    with_data_prompt,
    with_task_horizon,
)
from rlkit_jax.offline.job import load_trained, run_label, run_offline, with_dataset_defaults

__all__ = [
    "ALGOS", "Algorithm", "DEFAULT_DATASET", "OfflineConfig", "create_fn", "prepare_dataset", "relabel_with_reward_model",
    "load_trained", "run_label", "run_offline", "with_data_prompt", "with_dataset_defaults", "with_task_horizon",
]
