"""Copies the small result files of finished and unfinished runs into the repository, so the tables
in docs/ can be rebuilt after the run folders (outside the checkout) are gone:

  python experiments/evidence/archive_runs.py --runs=~/runs/sac_reference --out=docs/runs/sac_reference

keeps the folder layout and only ``metrics.csv``, ``summary.json`` and ``config.json`` (no
checkpoints, replay buffers or datasets), which is what ``reproduction_table.py``,
``score_table.py`` and the other table builders read: point their ``--runs`` at the copy.
A file already in ``--out`` is replaced by the run's newer one.
"""
import os
import shutil
import sys

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402

_RUNS = flags.DEFINE_string("runs", None, "Folder of run folders (searched recursively).", required=True)
_OUT = flags.DEFINE_string("out", None, "Where the copies go, e.g. docs/runs/<name>.", required=True)
RESULT_FILES = ("metrics.csv", "summary.json", "config.json")


def archive(runs: str, out: str) -> list[str]:
  """Copies every ``RESULT_FILES`` file under ``runs`` to the same relative path under ``out``;
  returns the copies' paths. Raises UsageError naming ``runs`` if it is not a folder."""
  if not os.path.isdir(runs):
    raise app.UsageError(f"--runs={runs} is not a folder; give the folder that holds the run folders")
  copied = []
  for folder, subfolders, files in os.walk(runs):
    subfolders[:] = [d for d in subfolders if d not in ("checkpoints", "snapshots")]
    for name in files:
      if name in RESULT_FILES:
        target = os.path.join(out, os.path.relpath(folder, runs), name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(folder, name), target)
        copied.append(target)
  return copied


def main(argv):
  del argv
  runs, out = os.path.expanduser(_RUNS.value), os.path.expanduser(_OUT.value)
  copied = archive(runs, out)
  print(f"{len(copied)} files from {runs} into {out}")


if __name__ == "__main__":
  cli.run(main)
