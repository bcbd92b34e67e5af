"""experiments/benchmark.py end to end at a toy size, in a fresh process."""
import json
import os
import subprocess
import sys

from offline_testing import REPO


def test_benchmark_measures_only_the_ensembles_when_seeds_is_empty():
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "benchmark.py"), "--seeds=", "--critics=2,3", "--updates=2",
       "--repeats=1", "--hidden=8", "--batch_size=4"],
      capture_output=True, text=True, timeout=300, cwd=os.path.join(REPO, "experiments"),
  )
  assert out.returncode == 0, out.stderr[-2000:]
  assert "matmul peak" not in out.stdout  # the IQL measurement was skipped
  report = json.loads(out.stdout[out.stdout.index("{"):out.stdout.index("\n}") + 2])
  rows = report["ensembles"]
  assert [(r["algo"], r["num_critics"]) for r in rows] == [("sac_n", 2), ("sac_n", 3), ("edac", 2), ("edac", 3)]
  assert all(r["updates_per_s"] > 0 for r in rows)
  assert [r["cost_vs_first_n"] for r in rows if r["num_critics"] == 2] == [1.0, 1.0]
