#!/usr/bin/env bash
# LibriSpeech recipe: BiLSTM-CTC on characters, greedy and word n-gram LM decoding.
#
#   recipes/librispeech/run.sh                      # mini: generated espeak-ng corpus, CPU
#   recipes/librispeech/run.sh --stage 3 EXP=exp/ls-mini2 TRAIN_ARGS="--set train.epochs=10"
#   CORPUS=librispeech CORPUS_ROOT=/data/librispeech CONFIG=recipes/librispeech/conf/full.yaml \
#     LM_TEXT=/data/librispeech-lm-norm.txt recipes/librispeech/run.sh --stage 1
#
# Stages (Kaldi/ESPnet convention, select with --stage N --stop-stage M):
#   0  synthesize the espeak-ng corpus in the LibriSpeech layout (CORPUS=synth only)
#   1  prepare JSONL manifests (asr prepare librispeech)
#   2  build the word n-gram LM from LM_TEXT (ctc lm build; skipped when LM_TEXT is empty)
#   3  train (asr train)
#   4  tune the LM weights on the dev subset (ctc tune-lm; TUNE_LM=1), then evaluate each test
#      subset greedy and with the LM (asr evaluate)
#   5  collect the reports into EXP/RESULTS.md
# Each finished stage leaves EXP/.done/stageN, so a rerun skips it (delete it, or pass
# --force, to redo). Every variable below can be set from the environment or as VAR=value.
set -euo pipefail

# VAR=value arguments (as in recipes/iam/run.sh) override the environment
for arg in "$@"; do
  case "$arg" in [A-Z_]*=*) export "${arg?}" ;; esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"

CORPUS="${CORPUS:-synth}"                      # synth | librispeech
CONFIG="${CONFIG:-recipes/librispeech/conf/mini.yaml}"
if [ "$CORPUS" = synth ]; then
  CORPUS_ROOT="${CORPUS_ROOT:-data/librispeech-synth}"
  TRAIN_SUBSETS="${TRAIN_SUBSETS:-train-espeak}"
  DEV_SUBSET="${DEV_SUBSET:-dev-espeak}"
  TEST_SUBSETS="${TEST_SUBSETS:-dev-espeak test-espeak}"
  LM_TEXT="${LM_TEXT-$CORPUS_ROOT/LibriSpeech/lm-text.txt}"
  EXP="${EXP:-exp/librispeech-mini}"
  ALPHA="${ALPHA:-1.0}"                          # tuned on dev-espeak (3-gram, beam 100)
  BETA="${BETA:-5.0}"
else
  CORPUS_ROOT="${CORPUS_ROOT:?set CORPUS_ROOT to the folder holding LibriSpeech/}"
  TRAIN_SUBSETS="${TRAIN_SUBSETS:-train-clean-100 train-clean-360 train-other-500}"
  DEV_SUBSET="${DEV_SUBSET:-dev-clean}"
  TEST_SUBSETS="${TEST_SUBSETS:-dev-clean dev-other test-clean test-other}"
  LM_TEXT="${LM_TEXT-}"                          # e.g. librispeech-lm-norm.txt (openslr.org/11)
  EXP="${EXP:-exp/librispeech-full}"
fi
MANIFESTS="${MANIFESTS:-$EXP/manifests}"
SYNTH_TRAIN="${SYNTH_TRAIN:-2500}"             # utterances of the generated corpus
SYNTH_DEV="${SYNTH_DEV:-200}"
SYNTH_TEST="${SYNTH_TEST:-200}"
SYNTH_LM_SENTENCES="${SYNTH_LM_SENTENCES:-20000}"
NJ="${NJ:-$(nproc)}"
LM_ORDER="${LM_ORDER:-3}"
DECODER="${DECODER:-ours}"                     # ours | pyctcdecode | flashlight
ALPHA="${ALPHA:-0.6}"
BETA="${BETA:-3.0}"
BEAM="${BEAM:-100}"                            # our decoder: ~0.2 ms per utterance at 100
TUNE_LM="${TUNE_LM:-1}"                        # 1: tune ALPHA/BETA on DEV_SUBSET (ctc tune-lm)
ALPHA_GRID="${ALPHA_GRID:-0.45 0.6 0.8 1.0 1.3}"
BETA_GRID="${BETA_GRID:-2.0 3.5 5.0 6.5 8.0}"
DEVICE="${DEVICE:-cpu}"                        # evaluation device; training: train.device
TRAIN_ARGS="${TRAIN_ARGS:-}"                   # extra asr train options, e.g. "--set optim.lr=1e-3"
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
# The mini model's matrices are small: one intra-op thread per process measured 8x faster than
# two on a loaded 2-core machine (OpenMP threads waiting on each other). Override as you like.
if [ "$CORPUS" = synth ]; then export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"; fi
ASR="${ASR:-$PYTHON -m asr.cli}"
CTC="${CTC:-$PYTHON -m ctc.cli}"

stage=0
stop_stage=5
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --stop-stage|--stop_stage) stop_stage="$2"; shift 2 ;;
    --force) force=1; shift ;;
    [A-Z_]*=*) shift ;;                          # exported above
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

log() { echo "$(date '+%F %T') (run.sh:${BASH_LINENO[0]}) $*" >&2; }
# want N: true when stage N is selected and not already done
want() {
  [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ] || return 1
  if [ "$force" = 0 ] && [ -f "$EXP/.done/stage$1" ]; then
    log "stage $1: already done ($EXP/.done/stage$1)"; return 1
  fi
  log "stage $1: $2"
}
done_stage() { mkdir -p "$EXP/.done"; touch "$EXP/.done/stage$1"; }
LM="$EXP/lm/${LM_ORDER}gram.arpa"

if want 0 "synthesize the espeak-ng corpus"; then
  if [ "$CORPUS" = synth ]; then
    $PYTHON tools/synth_librispeech.py --root "$CORPUS_ROOT" --train "$SYNTH_TRAIN" \
      --dev "$SYNTH_DEV" --test "$SYNTH_TEST" --lm-sentences "$SYNTH_LM_SENTENCES" --jobs "$NJ"
  else
    log "stage 0: CORPUS=$CORPUS, nothing to synthesize"
  fi
  done_stage 0
fi

if want 1 "prepare manifests in $MANIFESTS"; then
  subsets=$(echo $TRAIN_SUBSETS $DEV_SUBSET $TEST_SUBSETS | tr ' ' '\n' | awk '!seen[$0]++')
  # shellcheck disable=SC2086
  $ASR prepare librispeech --root "$CORPUS_ROOT" --subsets $subsets --out "$MANIFESTS"
  for s in $TRAIN_SUBSETS; do cat "$MANIFESTS/$s.jsonl"; done > "$MANIFESTS/.train.jsonl.tmp"
  mv "$MANIFESTS/.train.jsonl.tmp" "$MANIFESTS/train.jsonl"
  done_stage 1
fi

if want 2 "build the ${LM_ORDER}-gram LM from ${LM_TEXT:-<none>}"; then
  if [ -n "$LM_TEXT" ] && [ -f "$LM_TEXT" ]; then
    mkdir -p "$EXP/lm"
    $CTC lm build --text "$LM_TEXT" --order "$LM_ORDER" --out "$LM"
  else
    log "stage 2: no LM_TEXT, decoding will be greedy only"
  fi
  done_stage 2
fi

if want 3 "train with $CONFIG into $EXP"; then
  resume=""
  [ -f "$EXP/last.pt" ] && resume="--resume"
  # shellcheck disable=SC2086
  $ASR train --config "$CONFIG" --train "$MANIFESTS/train.jsonl" \
    --valid "$MANIFESTS/$DEV_SUBSET.jsonl" --out "$EXP" $resume $TRAIN_ARGS
  done_stage 3
fi

if want 4 "evaluate on $TEST_SUBSETS"; then
  if [ -f "$LM" ] && [ "$TUNE_LM" = 1 ]; then
    # LM weight and word bonus: grid search on the dev set, written beside the model
    $ASR evaluate --model "$EXP" --manifest "$MANIFESTS/$DEV_SUBSET.jsonl" --device "$DEVICE" \
      --report "$EXP/tune/$DEV_SUBSET-greedy" --dump-posteriors "$EXP/tune/posteriors.pt"
    $CTC tune-lm --posteriors "$EXP/tune/posteriors.pt" --lm "$LM" --decoder "$DECODER" \
      --beam-size "$BEAM" --alpha-grid $ALPHA_GRID --beta-grid $BETA_GRID --out "$EXP/lm_tuned.json"
    read -r ALPHA BETA < <($PYTHON -c 'import json, sys; t = json.load(open(sys.argv[1]))
print(t["alpha"], t["beta"])' "$EXP/lm_tuned.json")
    log "stage 4: tuned on $DEV_SUBSET: alpha=$ALPHA beta=$BETA"
  fi
  for s in $TEST_SUBSETS; do
    $ASR evaluate --model "$EXP" --manifest "$MANIFESTS/$s.jsonl" --device "$DEVICE" \
      --report "$EXP/decode/$s-greedy"
    if [ -f "$LM" ]; then
      $ASR evaluate --model "$EXP" --manifest "$MANIFESTS/$s.jsonl" --device "$DEVICE" \
        --lm "$LM" --decoder "$DECODER" --alpha "$ALPHA" --beta "$BETA" --beam-size "$BEAM" \
        --report "$EXP/decode/$s-lm${LM_ORDER}"
    fi
  done
  done_stage 4
fi

if want 5 "collect results into $EXP/RESULTS.md"; then
  $PYTHON - "$EXP" <<'PY'
import json, sys
from pathlib import Path
exp = Path(sys.argv[1])
rows = ["| test set | decoding | utterances | WER % | CER % |", "|---|---|---|---|---|"]
for report in sorted(exp.glob("decode/*/report.json")):
    r = json.loads(report.read_text())
    name, _, decoding = report.parent.name.rpartition("-")
    rows.append(f"| {name} | {decoding} | {r['utterances']} | {100 * r['wer']['rate']:.2f} "
                f"| {100 * r['cer']['rate']:.2f} |")
text = f"# Results: {exp}\n\n" + "\n".join(rows) + "\n"
(exp / "RESULTS.md").write_text(text)
print(text)
PY
  done_stage 5
fi
