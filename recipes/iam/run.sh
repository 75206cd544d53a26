#!/usr/bin/env bash
# IAM text-line recognition recipe (Puigcerver 2017 style CNN + BiLSTM + CTC).
#
#   recipes/iam/run.sh [--stage N] [--stop-stage M] [VAR=value ...]
#
# Stages (each leaves a .done sentinel in $EXP/.stages and is skipped when it exists):
#   0 synth     render a handwriting-font corpus in the IAM layout (only when CORPUS=synth)
#   1 prepare   IAM tree -> JSONL manifests + transcription text
#   2 lm        word n-gram LM on LM_TEXT (skipped when LM_ORDER=0)
#   3 train     htr train with conf/$CONF.yaml
#   4 evaluate  greedy and LM decoding of the test split
#   5 report    CER/WER table in $EXP/RESULTS.md
#
# Variables (environment or VAR=value arguments):
#   CORPUS=synth|iam   generated corpus (default) or a real IAM tree in IAM_ROOT
#   IAM_ROOT           IAM root (ascii/lines.txt, lines/, largeWriterIndependent...); for
#                      CORPUS=synth it is where the corpus is written (default data/iam_synth)
#   SPLIT=official     official | aachen | DIR of split lists
#   CONF=mini          conf/mini.yaml (CPU, generated corpus) or conf/full.yaml (GPU, real IAM)
#   EXP=exp/iam_$CONF  experiment directory;  DATA=data/iam  manifests directory
#   SYNTH_TRAIN=2400 SYNTH_DEV=120 SYNTH_TEST=240   sentences per split of the generated corpus
#   LM_ORDER=4  ALPHA=0.6  BETA=3.0  BEAM=32        LM decoding
#   LM_TEXT=FILE  LM training text, one line per line (default: IAM_ROOT/lm-text.txt, which
#                 synth_iam.py writes, else the training transcriptions)
#   TUNE_LM=1   tune ALPHA/BETA on the valid split (ctc tune-lm) before the LM test run
#   ALPHA_GRID="0.3 0.5 0.8 1.2 1.6"  BETA_GRID="0.0 1.0 2.0 3.5 5.0"   tune-lm grid
#   TRAIN_ARGS="--set train.epochs=5"                extra htr train arguments
#   PYTHON=python3                                   interpreter with carousel importable
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

stage=0
stop_stage=5
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --stop-stage|--stop_stage) stop_stage="$2"; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *=*) export "${1?}"; shift ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

CORPUS="${CORPUS:-synth}"
CONF="${CONF:-mini}"
SPLIT="${SPLIT:-official}"
IAM_ROOT="${IAM_ROOT:-data/iam_synth}"
DATA="${DATA:-data/iam_${CORPUS}}"
EXP="${EXP:-exp/iam_${CONF}}"
SYNTH_TRAIN="${SYNTH_TRAIN:-2400}"
SYNTH_DEV="${SYNTH_DEV:-120}"
SYNTH_TEST="${SYNTH_TEST:-240}"
LM_ORDER="${LM_ORDER:-4}"
LM_TEXT="${LM_TEXT:-}"
ALPHA="${ALPHA:-0.6}"
BETA="${BETA:-3.0}"
BEAM="${BEAM:-32}"
TUNE_LM="${TUNE_LM:-1}"
ALPHA_GRID="${ALPHA_GRID:-0.3 0.5 0.8 1.2 1.6}"
BETA_GRID="${BETA_GRID:-0.0 1.0 2.0 3.5 5.0}"
TRAIN_ARGS="${TRAIN_ARGS:-}"
PYTHON="${PYTHON:-python3}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

htr() { "$PYTHON" -m handwriting.cli "$@"; }
ctc() { "$PYTHON" -m ctc.cli "$@"; }
log() { echo "$(date '+%F %T') (run.sh:${BASH_LINENO[-2]}) $*" >&2; }
run_stage() {  # run_stage N NAME: true when stage N is selected and not done yet
  local n="$1" name="$2"
  [ "$stage" -le "$n" ] && [ "$stop_stage" -ge "$n" ] || return 1
  if [ -f "$EXP/.stages/$n.$name.done" ]; then log "stage $n ($name): done already"; return 1; fi
  log "stage $n: $name"
}
done_stage() { mkdir -p "$EXP/.stages"; touch "$EXP/.stages/$1.$2.done"; }

mkdir -p "$EXP"

if [ "$CORPUS" = synth ] && run_stage 0 synth; then
  "$PYTHON" "$ROOT/tools/synth_iam.py" --out "$IAM_ROOT" --train "$SYNTH_TRAIN" \
    --dev "$SYNTH_DEV" --test "$SYNTH_TEST"
  done_stage 0 synth
fi

if run_stage 1 prepare; then
  htr prepare iam --root "$IAM_ROOT" --out "$DATA" --split "$SPLIT"
  done_stage 1 prepare
fi

LM="$EXP/lm/${LM_ORDER}gram.arpa"
if [ "$LM_ORDER" -gt 0 ] && run_stage 2 lm; then
  if [ -z "$LM_TEXT" ]; then
    LM_TEXT="$DATA/train.txt"
    [ -f "$IAM_ROOT/lm-text.txt" ] && LM_TEXT="$IAM_ROOT/lm-text.txt"
  fi
  log "LM text: $LM_TEXT"
  ctc lm build --text "$LM_TEXT" --order "$LM_ORDER" --out "$LM"
  done_stage 2 lm
fi

if run_stage 3 train; then
  # shellcheck disable=SC2086
  htr train --config "$HERE/conf/$CONF.yaml" --train "$DATA/train.jsonl" \
    --valid "$DATA/valid.jsonl" --out "$EXP" $TRAIN_ARGS
  done_stage 3 train
fi

if run_stage 4 evaluate; then
  htr evaluate --model "$EXP" --manifest "$DATA/test.jsonl" --report "$EXP/eval/test_greedy" \
    --title "test, greedy"
  if [ "$LM_ORDER" -gt 0 ] && [ "$TUNE_LM" = 1 ]; then
    # LM weight and word bonus tuned on the validation split (Graves et al. 2009 style)
    htr evaluate --model "$EXP" --manifest "$DATA/valid.jsonl" --report "$EXP/eval/valid_greedy" \
      --title "valid, greedy" --dump-posteriors "$EXP/eval/valid_posteriors.pt"
    # shellcheck disable=SC2086
    ctc tune-lm --posteriors "$EXP/eval/valid_posteriors.pt" --lm "$LM" \
      --out "$EXP/lm_tuned.json" --beam-size "$BEAM" \
      --alpha-grid $ALPHA_GRID --beta-grid $BETA_GRID
    read -r ALPHA BETA < <("$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1]));
print(t["alpha"], t["beta"])' "$EXP/lm_tuned.json")
    log "tuned on valid: alpha=$ALPHA beta=$BETA"
  fi
  if [ "$LM_ORDER" -gt 0 ]; then
    htr evaluate --model "$EXP" --manifest "$DATA/test.jsonl" --report "$EXP/eval/test_lm" \
      --lm "$LM" --alpha "$ALPHA" --beta "$BETA" --beam-size "$BEAM" \
      --title "test, ${LM_ORDER}-gram LM"
  fi
  done_stage 4 evaluate
fi

if run_stage 5 report; then
  "$PYTHON" - "$EXP" <<'PY'
import json, sys
from pathlib import Path
exp = Path(sys.argv[1])
rows = ["| decoding | lines | CER % | WER % |", "|---|---|---|---|"]
for report in sorted(exp.glob("eval/*/report.json")):
    s = json.loads(report.read_text())
    rows.append(f"| {s['title']} | {s['utterances']} | {100 * s['cer']['rate']:.2f} | "
                f"{100 * s['wer']['rate']:.2f} |")
text = f"# {exp.name}\n\n" + "\n".join(rows) + "\n"
(exp / "RESULTS.md").write_text(text)
print(text)
PY
  done_stage 5 report
fi
