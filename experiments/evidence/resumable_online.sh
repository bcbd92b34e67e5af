# Sourced by the evidence scripts: run_online WORKDIR [train_online.py flags...] trains into
# WORKDIR unless it holds a finished run (summary.json), resuming from its checkpoints if any; with
# ARCHIVE set, its result files then go to $ARCHIVE/<WORKDIR below OUT> (archive.sh).
source experiments/evidence/archive.sh
run_online() {
  local workdir=$1; shift
  [ -f "$workdir/summary.json" ] && return
  local resume=""
  [ -d "$workdir/checkpoints" ] && resume="--resume"
  python experiments/train_online.py --workdir="$workdir" $resume "$@" | tail -n 2
  archive_run "$workdir" "${workdir#"${OUT:-}"/}"
}
