"""Score table and learning curves from run folders written in the test (known numbers)."""
import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from rlkit_jax import results

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write_run(folder, algo, dataset, scores, *, settings=({},), data_score=12.5, q=True):
  """scores: [H][T][S] normalized scores at steps 10, 20, ..."""
  os.makedirs(folder)
  rows = []
  for h, setting in enumerate(settings):
    for t, per_seed in enumerate(scores[h]):
      for s, value in enumerate(per_seed):
        row = {"step": 10 * (t + 1), "setting_index": h, "seed_index": s, **setting, "normalized_score": value}
        if q:
          row["q_policy_actions"] = value / 10
        rows.append(row)
  with open(os.path.join(folder, "metrics.csv"), "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  summary = {
      "algo": algo, "dataset": dataset, "num_seeds": len(scores[0][0]), "dataset_normalized_score": data_score,
      "settings": [{"hyperparameters": dict(s)} for s in settings],
  }
  with open(os.path.join(folder, "summary.json"), "w") as f:
    json.dump(summary, f)


@pytest.fixture
def runs(tmp_path):
  root = tmp_path / "runs"
  _write_run(root / "bc" / "a", "bc", "hopper-medium-v5", [[[10, 20, 30], [40, 50, 60], [30, 30, 30]]])
  _write_run(root / "iql" / "a", "iql", "hopper-medium-v5", [[[1, 2, 3], [4, 5, 6]]], q=False)
  _write_run(
      root / "iql" / "b", "iql", "walker2d-medium-v5", [[[0, 0, 0], [2, 4, 6]], [[9, 9, 9], [1, 1, 1]]],
      settings=({"expectile": 0.7}, {"expectile": 0.9}), data_score=3.0,
  )
  return str(root)


def test_metric_grid_places_rows_and_leaves_missing_cells_nan():
  rows = [{"step": "20", "seed_index": "2", "x": "5"}, {"step": "10", "seed_index": "0", "x": "1"},
          {"step": "20", "seed_index": "0", "x": "3"}]
  steps, grid = results.metric_grid(rows, "x")  # seeds present: 0 and 2
  np.testing.assert_array_equal(steps, [10, 20])
  np.testing.assert_array_equal(grid, [[1, np.nan], [3, 5]])
  _, grid = results.metric_grid(rows, "x", seeds=range(3))
  np.testing.assert_array_equal(grid, [[1, np.nan, np.nan], [3, np.nan, 5]])
  with pytest.raises(KeyError):
    results.metric_grid(rows, "x", seeds=[0, 1])


def test_curves_final_and_best(runs):
  (bc,) = results.load_curves(os.path.join(runs, "bc", "a"))
  assert bc.algo == "bc" and bc.dataset == "hopper-medium-v5"
  np.testing.assert_array_equal(bc.steps, [10, 20, 30])
  assert bc.final == (30.0, 0.0)
  assert bc.best == pytest.approx((50.0, np.std([40, 50, 60]), 20))
  np.testing.assert_allclose(bc.columns["q_policy_actions"], np.asarray([[10, 20, 30], [40, 50, 60], [30, 30, 30]]) / 10)
  swept = results.load_curves(os.path.join(runs, "iql", "b"))
  assert [c.algo for c in swept] == ["iql[expectile=0.7]", "iql[expectile=0.9]"]
  assert swept[0].final == pytest.approx((4.0, np.std([2, 4, 6])))
  assert swept[1].best == (9.0, 0.0, 10)


def test_table_has_every_cell(runs):
  curves = [c for d in results.find_runs(runs) for c in results.load_curves(d)]
  table = results.score_table(curves, algo_order=("bc", "iql"))
  lines = table.strip().splitlines()
  assert lines[0] == "| dataset | data | bc | iql | iql[expectile=0.7] | iql[expectile=0.9] |"
  assert lines[2] == "| hopper-medium-v5 | 12.5 | 30.0 ± 0.0 (50.0) | 5.0 ± 0.8 (5.0) | – | – |"
  assert lines[3] == "| walker2d-medium-v5 | 3.0 | – | – | 4.0 ± 1.6 (4.0) | 1.0 ± 0.0 (9.0) |"


def test_unfinished_run_is_named(tmp_path):
  os.makedirs(tmp_path / "run")
  (tmp_path / "run" / "metrics.csv").write_text("step\n")
  with pytest.raises(results.ResultsError, match=r"run/summary.json: missing.*--resume"):
    results.load_curves(str(tmp_path / "run"))


def _score_table(runs, out, *extra):
  return subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "evidence", "score_table.py"), f"--runs={runs}", f"--out={out}", *extra],
      capture_output=True, text=True, timeout=180,
  )


def test_script_writes_table_and_plots(runs, tmp_path):
  out = str(tmp_path / "docs" / "table")
  proc = _score_table(runs, out)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert open(out + ".md").read().startswith("| dataset | data | bc | iql |")
  for suffix in ("_curves.png", "_q.png"):
    with open(out + suffix, "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_script_appends_notes_and_checks_them_first(runs, tmp_path):
  """--notes: the file goes below the table as it is; one with the intervals line but no
  --intervals is refused in one line before the table is written."""
  out = str(tmp_path / "table")
  notes = tmp_path / "notes.md"
  notes.write_text("Made by a command.\n")
  proc = _score_table(runs, out, f"--notes={notes}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  table = open(out + ".md").read()
  assert table.startswith("| dataset | data | bc | iql |") and table.endswith("|\n\nMade by a command.\n")
  os.remove(out + ".md")
  notes.write_text("Intervals:\n\n<!-- intervals -->\n")
  proc = _score_table(runs, out, f"--notes={notes}")
  assert proc.returncode != 0 and f"--notes={notes}: has the line <!-- intervals --> but --intervals is off" in proc.stderr
  assert "Traceback" not in proc.stderr and not os.path.exists(out + ".md")
  proc = _score_table(runs, out, f"--notes={tmp_path}/none.md")
  assert proc.returncode != 0 and "none.md: no such file" in proc.stderr


def test_script_interval_estimates(tmp_path):
  """rliable's IQM per cell (3 seeds: nothing trimmed, the mean) and over seeds × datasets (6 runs:
  scipy's 25% trim drops one at each end)."""
  pytest.importorskip("rliable")
  root = tmp_path / "runs"
  finals = {("bc", "hopper-medium-v5"): [10, 20, 60], ("bc", "walker2d-medium-v5"): [0, 30, 40],
            ("iql", "hopper-medium-v5"): [50, 50, 80], ("iql", "walker2d-medium-v5"): [20, 20, 20]}
  for (algo, dataset), last in finals.items():
    _write_run(root / algo / dataset, algo, dataset, [[[0, 0, 0], last]])
  out = str(tmp_path / "docs" / "table")
  (tmp_path / "notes.md").write_text("Intervals:\n\n<!-- intervals -->\n\nEnd.\n")
  proc = _score_table(root, out, "--intervals", "--reps=200", f"--notes={tmp_path / 'notes.md'}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  report = open(out + "_iqm.md").read()
  assert open(out + ".md").read().endswith("|\n\nIntervals:\n\n" + report + "\nEnd.\n")  # --notes: the line replaced
  lines = report.splitlines()
  assert lines[0] == "| dataset | bc | iql |"
  assert lines[2].startswith("| hopper-medium-v5 | 30.0 [") and "| 60.0 [" in lines[2]
  assert lines[5] == "Over 2 datasets × 3 seeds (hopper-medium-v5, walker2d-medium-v5):"
  bc_row = next(line for line in lines if line.startswith("| bc |"))
  assert bc_row.startswith(f"| bc | {np.mean([10, 20, 30, 40]):.1f} [") and f"| {np.mean([10, 20, 60, 0, 30, 40]):.1f} [" in bc_row
  for suffix in ("_aggregate.png", "_profiles.png"):
    with open(out + suffix, "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_script_aggregate_leaves_out_an_algorithm_with_a_missing_cell(tmp_path):
  """A column that has not reached every dataset (a new algorithm's first cells) is named and left
  out of the aggregate; the aggregate still covers every dataset, and the left-out column's seed
  count (here 2: a cell still in progress) does not stop it."""
  pytest.importorskip("rliable")
  root = tmp_path / "runs"
  finals = {("bc", "hopper-medium-v5"): [10, 20, 60], ("bc", "walker2d-medium-v5"): [0, 30, 40],
            ("dt", "hopper-medium-v5"): [70, 70]}
  for (algo, dataset), last in finals.items():
    _write_run(root / algo / dataset, algo, dataset, [[[0] * len(last), last]])
  out = str(tmp_path / "table")
  proc = _score_table(root, out, "--intervals", "--reps=200")
  assert proc.returncode == 0, proc.stderr[-2000:]
  lines = open(out + "_iqm.md").read().splitlines()
  assert lines[0] == "| dataset | bc | dt |" and lines[3].endswith("| – |")
  assert "Over 2 datasets × 3 seeds (hopper-medium-v5, walker2d-medium-v5):" in lines
  assert any(line.startswith("| bc |") for line in lines) and not any(line.startswith("| dt |") for line in lines)
  assert lines[-1] == "Not in the aggregate (a dataset has no cell): dt."


def test_script_intervals_without_rliable_is_one_line(runs, tmp_path):
  """Where rliable is missing (a fresh test venv), --intervals names the extra to install."""
  if importlib.util.find_spec("rliable") is not None:
    pytest.skip("rliable is installed here")
  proc = _score_table(runs, str(tmp_path / "table"), "--intervals")
  assert proc.returncode != 0 and "pip install -e '.[reference]'" in proc.stderr
  assert "Traceback" not in proc.stderr


def test_archived_runs_rebuild_the_same_table(runs, tmp_path):
  """archive_runs.py keeps the result files and drops checkpoints; the table from the copy is the
  table from the runs."""
  os.makedirs(os.path.join(runs, "bc", "a", "checkpoints", "1000"))
  open(os.path.join(runs, "bc", "a", "checkpoints", "1000", "state"), "w").write("x")
  copy = str(tmp_path / "archive")
  proc = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "evidence", "archive_runs.py"), f"--runs={runs}", f"--out={copy}"],
      capture_output=True, text=True, timeout=60,
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "6 files" in proc.stdout
  assert not os.path.exists(os.path.join(copy, "bc", "a", "checkpoints"))
  tables = []
  for source in (runs, copy):
    curves = [c for d in results.find_runs(source) for c in results.load_curves(d)]
    tables.append(results.score_table(curves, algo_order=("bc", "iql")))
  assert tables[0] == tables[1]
  missing = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "evidence", "archive_runs.py"), f"--runs={tmp_path}/none", f"--out={copy}"],
      capture_output=True, text=True, timeout=60,
  )
  assert missing.returncode != 0 and "is not a folder" in missing.stderr


def test_evidence_scripts_archive_each_run_only_when_asked(runs, tmp_path):
  """archive.sh's archive_run (sourced by the evidence scripts) copies a run's result files to
  $ARCHIVE/NAME, and does nothing without ARCHIVE or for a run folder that does not exist yet."""
  script = 'source experiments/evidence/archive.sh && archive_run "$RUN" bc/a && archive_run "$RUN/none" bc/b'
  env = dict(os.environ, RUN=os.path.join(runs, "bc", "a"), PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
  for archive in (None, str(tmp_path / "archive")):
    env.pop("ARCHIVE", None)
    if archive:
      env["ARCHIVE"] = archive
    proc = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert ("files from" in proc.stdout) == bool(archive)  # archive_runs.py ran only with ARCHIVE set
  assert sorted(os.listdir(tmp_path)) == ["archive", "runs"]
  copied = os.path.join(tmp_path, "archive", "bc", "a", "metrics.csv")
  assert open(copied).read() == open(os.path.join(runs, "bc", "a", "metrics.csv")).read()
  assert not os.path.exists(os.path.join(tmp_path, "archive", "bc", "b"))


def test_the_table_runs_archive_a_finished_cell_and_train_nothing(runs, tmp_path):
  """score_table_runs.sh skips a cell that has its summary.json, archiving its result files; a cell
  without one is not archived before it trains (the checkout never holds a partial cell)."""
  out = tmp_path / "out"
  shutil.copytree(os.path.join(runs, "bc", "a"), out / "bc" / "hopper-medium-v5")
  env = dict(os.environ, OUT=str(out), ARCHIVE=str(tmp_path / "archive"), ALGOS="bc", TASKS="hopper", KINDS="medium",
             PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
  script = os.path.join("experiments", "evidence", "score_table_runs.sh")
  proc = subprocess.run(["bash", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "== bc" not in proc.stdout  # nothing trained
  assert sorted(os.listdir(tmp_path / "archive" / "bc" / "hopper-medium-v5")) == sorted(
      f for f in os.listdir(out / "bc" / "hopper-medium-v5") if f != "checkpoints")
  os.remove(out / "bc" / "hopper-medium-v5" / "summary.json")
  shutil.rmtree(tmp_path / "archive")
  env["DATASET_DIR"] = str(tmp_path / "no_datasets")  # training starts and fails at once: no file
  proc = subprocess.run(["bash", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert "== bc hopper-medium-v5" in proc.stdout and proc.returncode != 0
  assert not os.path.exists(tmp_path / "archive")


def test_a_row_of_two_different_files_is_refused(runs):
  """Cells of one dataset name trained on different data (dataset_digest) are not one row: the
  table refuses them, and name_rows_by_file gives each file its own row."""
  def set_digest(folder, digest):
    path = os.path.join(runs, folder, "summary.json")
    summary = json.load(open(path))
    json.dump({**summary, "dataset_digest": digest}, open(path, "w"))

  set_digest("bc/a", "a" * 64)
  set_digest("iql/a", "a" * 64)
  curves = [c for d in results.find_runs(runs) for c in results.load_curves(d)]
  assert {c.dataset_digest for c in curves if c.dataset == "hopper-medium-v5"} == {"a" * 64}
  results.score_table(curves)  # one file: fine
  set_digest("iql/a", "b" * 64)
  curves = [c for d in results.find_runs(runs) for c in results.load_curves(d)]
  with pytest.raises(results.ResultsError, match=r"hopper-medium-v5: its runs trained on 2 different files .*bc/a.*iql/a"):
    results.score_table(curves)
  rows = results.score_table(results.name_rows_by_file(curves)).splitlines()[2:]
  assert [r.split(" | ")[0] for r in rows] == ["| hopper-medium-v5@aaaaaaaa", "| hopper-medium-v5@bbbbbbbb", "| walker2d-medium-v5"]
