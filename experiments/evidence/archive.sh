# Sourced by the evidence scripts. archive_run WORKDIR NAME: when ARCHIVE is set (e.g.
# ARCHIVE=<checkout>/docs/runs/table100k), copies WORKDIR's result files (metrics.csv, summary.json,
# config.json; archive_runs.py) to $ARCHIVE/NAME after every run, finished or not, so the tables can
# be rebuilt when the run folders outside the checkout are lost. Without ARCHIVE it does nothing.
archive_run() {
  [ -n "${ARCHIVE:-}" ] || return 0
  [ -d "$1" ] || return 0
  python experiments/evidence/archive_runs.py --runs="$1" --out="$ARCHIVE/$2" | tail -n 1
}
