# shellcheck shell=bash
# recipes/lib.sh: what the recipes (recipes/*/run.sh) share. A recipe sources it, hands it its
# arguments, then sets its defaults:
#
#   set -euo pipefail
#   . "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#   recipe_init "$@"                      # cd to the repository, parse the arguments, PYTHON
#   CORPUS="${CORPUS:-synth}" ...         # defaults: VAR=value arguments are already exported
#   if want_stage 1 prepare "prepare manifests"; then ...; stage_done 1 prepare; fi
#
# Arguments: --stage N, --stop-stage M (or --stop_stage; also --stage=N), --force (redo the
# selected stages even when done), VAR=value (exported), -h/--help (the recipe's header comment).
# Stage sentinels: $EXP/.done/stageN.NAME (one per finished stage; a rerun skips the stage).
# Helpers: log, warn, die, deprecated_var, want_stage, stage_done, need_extra, tuned_weights,
# collect_results, and asr/htr/ctc (the commands, run with $PYTHON).

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

stage=0            # first stage to run (--stage)
stop_stage=1000    # last stage to run (--stop-stage)
force=0            # 1: redo the selected stages even when their sentinel exists (--force)

# _log_at DEPTH MESSAGE...: one log line on stderr, "date time (script:line) MESSAGE", naming
# the line of the recipe that called the function DEPTH levels up (1: the caller's caller)
_log_at() {
  local depth="$1" src
  shift
  src="${BASH_SOURCE[$((depth + 1))]-?}"
  echo "$(date '+%F %T') (${src##*recipes/}:${BASH_LINENO[$depth]-?}) $*" >&2
}
log() { _log_at 1 "$@"; }
warn() { _log_at 1 "WARNING: $*"; }
die() { _log_at 1 "ERROR: $*"; exit 1; }

# usage: the recipe's header comment (from its second line to the first line not a comment)
usage() {
  local script="${BASH_SOURCE[${#BASH_SOURCE[@]} - 1]}"
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$script"
}

# _set_stage VAR OPTION VALUE: VAR=VALUE if VALUE is a whole number, else exit naming OPTION
_set_stage() {
  case "$3" in
    '' | *[!0-9]*) echo "run.sh: $2 needs a whole number, not '$3' (try --help)" >&2; exit 2 ;;
  esac
  printf -v "$1" '%s' "$3"
}

# recipe_init "$@": cd to the repository root, parse the recipe's arguments (VAR=value ones are
# exported now, before the recipe sets its defaults), choose PYTHON (.venv/bin/python if
# present, else python3) and put the repository on PYTHONPATH.
recipe_init() {
  cd "$REPO" || exit 1
  while [ $# -gt 0 ]; do
    case "$1" in
      --stage) _set_stage stage "$1" "${2-}"; shift 2 ;;
      --stage=*) _set_stage stage --stage "${1#*=}"; shift ;;
      --stop-stage | --stop_stage) _set_stage stop_stage "$1" "${2-}"; shift 2 ;;
      --stop-stage=* | --stop_stage=*) _set_stage stop_stage --stop-stage "${1#*=}"; shift ;;
      --force) force=1; shift ;;
      -h | --help) usage; exit 0 ;;
      [A-Za-z_]*=*)
        if [[ ! "${1%%=*}" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
          echo "run.sh: not a variable assignment: $1 (try --help)" >&2; exit 2
        fi
        export "${1?}"; shift ;;
      *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
  done
  if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
  fi
  export PYTHON
  export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
}

# deprecated_var OLD NEW [VALUE]: accept the old variable name OLD for NEW, with a warning.
# When OLD is set and NEW is not, NEW becomes VALUE (default: OLD's value) and is exported.
deprecated_var() {
  local old="$1" new="$2"
  [ -n "${!old:-}" ] || return 0
  if [ -n "${!new:-}" ]; then
    _log_at 1 "WARNING: $old is deprecated and ignored: $new is set (${!new})"
  else
    local value="${3:-${!old}}"
    _log_at 1 "WARNING: $old is deprecated, use $new (now $new=$value)"
    printf -v "$new" '%s' "$value"
    export "${new?}"
  fi
}

# want_stage N NAME DESCRIPTION...: true (after a log line) when stage N is selected by
# --stage/--stop-stage and not done yet, or --force is given; a done stage is skipped with a
# log line. Running a stage removes its sentinel, so an interrupted stage is never marked done.
want_stage() {
  local n="$1" name="$2" sentinel="$EXP/.done/stage$1.$2" old
  shift 2
  [ "$stage" -le "$n" ] && [ "$stop_stage" -ge "$n" ] || return 1
  # sentinels of the recipes before lib.sh: $EXP/.done/stageN and $EXP/.stages/N.NAME.done
  for old in "$EXP/.done/stage$n" "$EXP/.stages/$n.$name.done"; do
    if [ -f "$old" ] && [ ! -f "$sentinel" ]; then
      mkdir -p "$EXP/.done"
      mv "$old" "$sentinel"
      rmdir --ignore-fail-on-non-empty "$EXP/.stages" 2>/dev/null || true
    fi
  done
  if [ -f "$sentinel" ] && [ "$force" = 0 ]; then
    _log_at 1 "stage $n ($name): already done ($sentinel; --force redoes it)"
    return 1
  fi
  rm -f "$sentinel"
  _log_at 1 "stage $n ($name): $*"
}

# stage_done N NAME: leave the sentinel of a finished stage
stage_done() {
  mkdir -p "$EXP/.done"
  touch "$EXP/.done/stage$1.$2"
  _log_at 1 "stage $1 ($2): done"
}

# need_extra EXTRA MODULE...: when $PYTHON cannot import a MODULE, install the package's optional
# EXTRA (pyproject.toml) into the repository's .venv (make install-extra, the Makefile's way of
# installing the package); with another interpreter, exit naming the pip command
need_extra() {
  local extra="$1" missing=() module
  shift
  for module in "$@"; do
    "$PYTHON" -c "import $module" 2>/dev/null || missing+=("$module")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  if [ "$PYTHON" != "$REPO/.venv/bin/python" ]; then
    _log_at 1 "ERROR: $PYTHON lacks ${missing[*]}: $PYTHON -m pip install -e '$REPO[$extra]'"
    exit 1
  fi
  _log_at 1 "installing the $extra extra into .venv (${missing[*]} missing)"
  if ! make -s -C "$REPO" install-extra "EXTRA=$extra" >&2; then
    _log_at 1 "ERROR: could not install the $extra extra: make -C '$REPO' install-extra EXTRA=$extra"
    exit 1
  fi
}

# tuned_weights FILE: set ALPHA and BETA from FILE, an lm_tuned.json of `ctc tune-lm`
tuned_weights() {
  local weights
  if ! weights="$("$PYTHON" -m ctc.decode.tuned "$1")"; then
    _log_at 1 "ERROR: cannot read the tuned LM weights in $1"
    exit 1
  fi
  read -r ALPHA BETA <<<"$weights"
  export ALPHA BETA
}

# collect_results: $EXP/RESULTS.md, one table of every report.json under $EXP (and the tuned
# LM weights), printed too
collect_results() {
  "$PYTHON" -m ctc.metrics.results_table "$EXP" --out "$EXP/RESULTS.md"
  cat "$EXP/RESULTS.md"
}

# the commands, run with $PYTHON
asr() { "$PYTHON" -m asr.cli "$@"; }
htr() { "$PYTHON" -m handwriting.cli "$@"; }
ctc() { "$PYTHON" -m ctc.cli "$@"; }
