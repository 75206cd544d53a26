#!/usr/bin/env bash
# The measured runs of the README's "Real data" table, on a quiet machine:
#   for each of es, fr, it (recipes/asterisk/run.sh), after building the corpora and pretraining
#   on espeak-ng speech (15 min, reported apart), the VARIANTS, each trained for 25 minutes on
#   one thread: scratch (the real set alone), pretrain (fine-tuned from the pretrained model),
#   pretrain-real (fine-tuned from a model pretrained on espeak-ng speech of the language and
#   the real training sets of the two other languages, REAL_PRETRAIN_MINUTES), mix (espeak-ng
#   speech mixed into the real set, from scratch), pretrain-mix (fine-tuned from the pretrained
#   model with espeak-ng speech mixed in), pretrain-long (as pretrain-mix, pretrained for
#   LONG_PRETRAIN_MINUTES on LONG_ESPEAK_UTTS espeak-ng utterances and the real training sets of
#   the two other languages, fine-tuned on the core speaker alone: TRAIN_SPEAKERS=core) --
#   then the MNIST digit lines in 15 minutes (recipes/mnist/run.sh). Every run is scored
#   greedy, with the LM of its training transcripts, and with the LM of the transcripts and more
#   text of the language (LM_MORE_TEXT=mo: the gettext catalogues; "" leaves it out). Writes
#   OUT/SUMMARY.md (every number of the table, the wall time of each training stage against its
#   budget) and OUT/logs/*.log.
#
#   recipes/asterisk/final_runs.sh [VAR=value ...]
#   recipes/asterisk/final_runs.sh LANGS="es" JOBS=2
#
# Variables: LANGS="es fr it"
#   VARIANTS="pretrain scratch pretrain-real mix pretrain-mix pretrain-long"
#   MINUTES=25  PRETRAIN_MINUTES=15  REAL_PRETRAIN_MINUTES=20  MNIST_MINUTES=15  MNIST=1
#   LONG_PRETRAIN_MINUTES=50  LONG_ESPEAK_UTTS=10000 (in DATA/espeak-long-LANG)
#   LM_MORE_TEXT=mo
#   JOBS=1 (runs at once: 1 keeps the machine otherwise idle, as the aims are stated; 2 halves
#   the wall time on 2 cores, each run still on one thread)  OUT=exp/final  DATA=data/final
#   SEED=0 (SPLIT_SEED of the corpus split; keep 0 for the table)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
for arg in "$@"; do
  case "$arg" in
    [A-Za-z_]*=*) export "${arg?}" ;;
    *) echo "final_runs.sh: unknown argument $arg (VAR=value only)" >&2; exit 2 ;;
  esac
done
LANGS="${LANGS:-es fr it}"
VARIANTS="${VARIANTS:-pretrain scratch pretrain-real mix pretrain-mix pretrain-long}"
MINUTES="${MINUTES:-25}"
PRETRAIN_MINUTES="${PRETRAIN_MINUTES:-15}"
REAL_PRETRAIN_MINUTES="${REAL_PRETRAIN_MINUTES:-20}"
LONG_PRETRAIN_MINUTES="${LONG_PRETRAIN_MINUTES:-50}"
LONG_ESPEAK_UTTS="${LONG_ESPEAK_UTTS:-10000}"
export LM_MORE_TEXT="${LM_MORE_TEXT-mo}"
MNIST_MINUTES="${MNIST_MINUTES:-15}"
MNIST="${MNIST:-1}"
JOBS="${JOBS:-1}"
OUT="${OUT:-exp/final}"
DATA="${DATA:-data/final}"
SEED="${SEED:-0}"
export OMP_NUM_THREADS=1 THREADS=1
mkdir -p "$OUT/logs"
say() { echo "$(date '+%F %T') final_runs: $*" >&2; }

# run NAME COMMAND...: one run, its output in OUT/logs/NAME.log; JOBS at once
running=0
run() {
  local name="$1"
  shift
  say "start $name"
  ( if "$@" >"$OUT/logs/$name.log" 2>&1; then say "done $name"
    else say "FAILED $name (see $OUT/logs/$name.log)"; fi ) &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
}

asterisk() {  # asterisk LANG VARIANT VAR=value...
  local lang="$1" variant="$2"
  shift 2
  bash recipes/asterisk/run.sh "LANG=$lang" "EXP=$OUT/$lang-$variant" \
    "CORPUS_ROOT=$DATA/asterisk-$lang" "ESPEAK_ROOT=$DATA/espeak-$lang" \
    "SPLIT_SEED=$SEED" "MINUTES=$MINUTES" "$@"
}

wants() { case " $VARIANTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# pretrain-real and pretrain-long pretrain on the real training sets of the other languages:
# all three corpora
corpus_langs="$LANGS"
if wants pretrain-real || wants pretrain-long; then corpus_langs="es fr it"; fi
other_real() {  # the training manifests of the languages other than $1
  local other out=""
  for other in es fr it; do
    if [ "$other" != "$1" ]; then out="$out $DATA/asterisk-$other/manifests/train.jsonl"; fi
  done
  echo "${out# }"
}

# the corpora first, one language at a time (building them is not timed)
for lang in $corpus_langs; do
  say "corpora of $lang"
  asterisk "$lang" pretrain PRETRAIN=espeak "PRETRAIN_MINUTES=$PRETRAIN_MINUTES" \
    --stop-stage 1 >"$OUT/logs/$lang-corpus.log" 2>&1
done
real() {  # real LANG ARGS...: the pretrain-real run of LANG
  local lang="$1"
  shift
  asterisk "$lang" pretrain-real PRETRAIN=espeak "PRETRAIN_REAL=$(other_real "$lang")" \
    "PRETRAIN_MINUTES=$REAL_PRETRAIN_MINUTES" "$@"
}
long() {  # long LANG ARGS...: the pretrain-long run of LANG (its own, larger espeak-ng corpus)
  local lang="$1"
  shift
  asterisk "$lang" pretrain-long PRETRAIN=espeak MIX=1 TRAIN_SPEAKERS=core \
    "ESPEAK_UTTS=$LONG_ESPEAK_UTTS" \
    "ESPEAK_ROOT=$DATA/espeak-long-$lang" "PRETRAIN_REAL=$(other_real "$lang")" \
    "PRETRAIN_MINUTES=$LONG_PRETRAIN_MINUTES" "$@"
}
if wants pretrain-long; then
  for lang in $LANGS; do  # the corpus again (the same files) and the larger espeak-ng corpus
    say "espeak-ng corpus of $lang for pretrain-long"
    long "$lang" --stop-stage 1 >"$OUT/logs/$lang-corpus-long.log" 2>&1
  done
fi
if [ "$MNIST" = 1 ]; then
  bash recipes/mnist/run.sh "EXP=$OUT/mnist" "CORPUS_ROOT=$DATA/mnist_lines" \
    --stop-stage 1 >"$OUT/logs/mnist-corpus.log" 2>&1
fi

# pretraining (timed apart): one job per language, before the budgeted runs that use it
# (the MNIST run needs no pretraining: it fills a free slot here)
for lang in $LANGS; do
  if wants pretrain || wants pretrain-mix; then
    run "$lang-pretraining" asterisk "$lang" pretrain PRETRAIN=espeak \
      "PRETRAIN_MINUTES=$PRETRAIN_MINUTES" --stage 2 --stop-stage 3
  fi
  if wants pretrain-long; then
    run "$lang-pretrain-longing" long "$lang" --stage 2 --stop-stage 3
  fi
  if wants pretrain-real; then
    run "$lang-pretrain-realing" real "$lang" --stage 2 --stop-stage 3
  fi
done
if [ "$MNIST" = 1 ]; then
  run mnist bash recipes/mnist/run.sh "EXP=$OUT/mnist" "CORPUS_ROOT=$DATA/mnist_lines" \
    "MINUTES=$MNIST_MINUTES"
fi
wait
running=0

# one variant of every language before the next variant: the first variant is the one to have
for variant in $VARIANTS; do
  for lang in $LANGS; do
    pretrained="$OUT/$lang-pretrain/pretrain"
    # --stage 1: the corpora are built above; a second build would rewrite files in use
    case "$variant" in
      pretrain) run "$lang-pretrain" asterisk "$lang" pretrain PRETRAIN=espeak --stage 1 ;;
      pretrain-real) run "$lang-pretrain-real" real "$lang" --stage 1 ;;
      scratch) run "$lang-scratch" asterisk "$lang" scratch --stage 1 ;;
      mix) run "$lang-mix" asterisk "$lang" mix MIX=1 --stage 1 ;;
      pretrain-mix) run "$lang-pretrain-mix" asterisk "$lang" pretrain-mix PRETRAIN=espeak MIX=1 \
        "PRETRAIN_EXP=$pretrained" --stage 1 ;;
      pretrain-long) run "$lang-pretrain-long" long "$lang" --stage 1 ;;
      *) say "unknown variant $variant (pretrain-real, pretrain, scratch, mix, pretrain-mix," \
        "pretrain-long)"
        exit 2 ;;
    esac
  done
done
wait

.venv/bin/python - "$OUT" <<'EOF'
"""OUT/SUMMARY.md: test CER/WER of every run, and each training stage's wall time."""
import json
import re
import sys
from datetime import datetime
from pathlib import Path

out = Path(sys.argv[1])
rows = ["| run | model | test greedy CER % | test greedy WER % | test LM CER % | test LM WER % "
        "| LM+ CER % | LM+ WER % | training wall min (budget) | pretraining wall min (budget) |",
        "|---|---|---|---|---|---|---|---|---|---|"]


def rate(path, key):
    try:
        return f"{100 * json.loads(path.read_text())[key]['rate']:.2f}"
    except (OSError, KeyError, ValueError):
        return "-"


def stage_minutes(log, name):
    """Wall minutes from 'stage N (name): ...' to 'stage N (name): done' in a recipe log."""
    stamps = {}
    for line in log.read_text(errors="replace").splitlines() if log.is_file() else []:
        m = re.match(r"(\S+ \S+) \([^)]*\) stage \d+ \(" + name + r"\): (.*)", line)
        if m:
            stamps["done" if m.group(2) == "done" else "start"] = datetime.fromisoformat(
                m.group(1))
    if len(stamps) == 2:
        return f"{(stamps['done'] - stamps['start']).total_seconds() / 60:.1f}"
    return "-"


def budget(config):
    m = re.search(r"max_minutes: (\S+)", config.read_text()) if config.is_file() else None
    return m.group(1) if m else "?"


for exp in sorted(p for p in out.iterdir() if p.is_dir() and p.name != "logs"):
    log = out / "logs" / f"{exp.name}.log"
    if not log.is_file():  # a folder of the corpus step only, no run of its own
        continue
    choice = exp / "checkpoint_choice.json"
    model = json.loads(choice.read_text()).get("chosen", "?") if choice.is_file() else "?"
    if (exp / "decode").is_dir():
        greedy, lm = exp / "decode/test-greedy/report.json", exp / "decode/test-lm3/report.json"
        more = exp / "decode/test-lm3-more/report.json"
    else:
        greedy, lm, more = exp / "eval/test_greedy/report.json", Path("-"), Path("-")
    pre = "-"
    # pretrain-mix fine-tunes the pretrain run's model: its pretraining is that run's
    owner = exp.with_name(exp.name.removesuffix("-mix")) if exp.name.endswith(
        "-pretrain-mix") else exp
    if (owner / "pretrain").is_dir():
        pre_log = out / "logs" / f"{owner.name}ing.log"
        pre = f"{stage_minutes(pre_log, 'pretrain')} ({budget(owner / 'pretrain/config.yaml')})"
        if owner != exp:
            pre += f", {owner.name}'s"
    rows.append(f"| {exp.name} | {model} | {rate(greedy, 'cer')} | {rate(greedy, 'wer')} | "
                f"{rate(lm, 'cer')} | {rate(lm, 'wer')} | {rate(more, 'cer')} | "
                f"{rate(more, 'wer')} | {stage_minutes(log, 'train')} "
                f"({budget(exp / 'config.yaml')}) | {pre} |")
text = "# Final runs\n\n" + "\n".join(rows) + "\n\nLM: 3-gram of the training transcripts; LM+: " \
    "of the transcripts and more text of the language (LM_MORE_TEXT). Wall minutes: the " \
    "recipe's train (pretrain) stage from start to done, reading the data and the final " \
    "validation included.\n"
(out / "SUMMARY.md").write_text(text, encoding="utf-8")
print(text)
EOF
