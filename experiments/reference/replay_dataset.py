"""A medium-replay dataset made by independent code: the first N rows of a d3rlpy SAC's replay
buffer (``reproduce_sac.py --side=reference`` saves it as ``<workdir>/d3rlpy/seed<i>/buffer.npz``),
written in D4RL's HDF5 layout for ``reproduce.py``.

  python experiments/reference/replay_dataset.py --buffer=~/runs/sac_reference/sac_walker2d-v5/d3rlpy/seed0/buffer.npz \\
      --env=Walker2d-v5 --num_transitions=200000 --out=~/datasets/walker2d-medium-replay-v5.hdf5

The buffer keeps terminations but not time-outs; a row whose s' is not the next row's s (the env
was reset: a time limit or the loop's restart) and that did not terminate becomes a time-out, and
the last row kept ends a trajectory.
"""
from __future__ import annotations

import os
import shlex
import sys

import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from rlkit_jax.data import qlearning_arrays  # noqa: E402
from rlkit_jax.data.hdf5 import write_d4rl_hdf5  # noqa: E402
from rlkit_jax.errors import UsageError  # noqa: E402

_BUFFER = flags.DEFINE_string("buffer", None, "reproduce_sac.py's d3rlpy/seed<i>/buffer.npz.", required=True)
_ENV = flags.DEFINE_string("env", None, "Gymnasium task the buffer was collected on (e.g. Walker2d-v5).", required=True)
cli.task_flag("env")
_NUM_TRANSITIONS = flags.DEFINE_integer("num_transitions", 200_000, "Rows kept: the buffer's first N.", lower_bound=1)
_OUT = flags.DEFINE_string("out", None, "Output .hdf5 path.", required=True)


def replay_arrays(buffer: dict[str, np.ndarray], num_transitions: int) -> dict[str, np.ndarray]:
  """The first ``num_transitions`` rows of a saved buffer with ``terminals`` and ``timeouts`` as bool ``[N]``:
  a trajectory ends where our loader ends one (:func:`rlkit_jax.data.qlearning_arrays`: at a
  termination, where s' is not the next row's s, and at the last row); the ends that are not
  terminations are the time-outs."""
  arrays = {k: np.asarray(buffer[k][:num_transitions]) for k in ("observations", "actions", "next_observations")}
  arrays["rewards"] = np.asarray(buffer["rewards"][:num_transitions], np.float32)
  arrays["terminals"] = np.asarray(buffer["terminals"][:num_transitions]) > 0.5
  _, episode_ends = qlearning_arrays(arrays)
  return {**arrays, "timeouts": episode_ends & ~arrays["terminals"]}


def main(argv):
  del argv
  path = os.path.expanduser(_BUFFER.value)
  if not os.path.exists(path):
    raise UsageError(f"--buffer={path}: no such file; fix: run reproduce_sac.py --side=reference to that step first")
  with np.load(path) as stored:
    buffer = {k: stored[k] for k in stored.files}
  size = len(buffer["rewards"])
  if size < _NUM_TRANSITIONS.value:
    raise UsageError(f"--buffer={path} holds {size} rows, fewer than --num_transitions={_NUM_TRANSITIONS.value}; "
                     "fix: lower --num_transitions or resume the SAC run further")
  arrays = replay_arrays(buffer, _NUM_TRANSITIONS.value)
  out = os.path.expanduser(_OUT.value)
  write_d4rl_hdf5(out, arrays, {
      "env_id": _ENV.value, "dataset_kind": "medium-replay", "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
      "policy": "d3rlpy SAC replay buffer (experiments/reference/reproduce_sac.py)", "source": path,
  })
  print(f"wrote {out}: {len(arrays['rewards'])} rows, {int(arrays['terminals'].sum())} terminations, "
        f"{int(arrays['timeouts'].sum())} time-outs")


if __name__ == "__main__":
  cli.run(main)
