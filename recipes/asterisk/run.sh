#!/usr/bin/env bash
# Asterisk recipe: real 8 kHz telephone prompts in Spanish, French or Italian (Debian's
# asterisk-core-sounds packages), BiLSTM-CTC on characters within a wall-clock budget, optionally
# pretrained on espeak-ng speech of the same language; greedy and word n-gram LM decoding.
#
#   recipes/asterisk/run.sh [--stage N] [--stop-stage M] [--force] [VAR=value ...]
#   recipes/asterisk/run.sh LANG=es                       # from scratch, 25-minute budget
#   recipes/asterisk/run.sh LANG=fr PRETRAIN=espeak       # pretrain on espeak-ng, fine-tune
#   recipes/asterisk/run.sh LANG=it MIX=1 EXP=exp/asterisk-it-mix   # espeak-ng speech mixed in
#
# Stages (select with --stage N --stop-stage M):
#   0 corpus    install the Debian packages (as root; else say which) and, into .venv, the
#               real-data extra (num2words) when missing, extract the transcript package,
#               build the LibriSpeech-layout corpus (tools/build_asterisk.py: 8 kHz FLAC,
#               train/dev/test split by prompt text) and, with PRETRAIN=espeak or MIX=1, the
#               espeak-ng corpus of the language (tools/synth_espeak_lang.py)
#   1 prepare   JSONL manifests (asr prepare librispeech) in MANIFESTS
#   2 lm        word n-gram LM from the training transcripts (ctc lm build; LM_ORDER=0: none)
#   3 pretrain  PRETRAIN=espeak: asr train on the espeak-ng speech (PRETRAIN_CONFIG, budget
#               PRETRAIN_MINUTES), validated on the real dev set, into PRETRAIN_EXP
#   4 train     asr train on the real training set (CONFIG, budget MINUTES; --init PRETRAIN_EXP
#               after pretraining; MIX=1: the espeak-ng speech mixed into the training set)
#   5 evaluate  tune the LM weights on dev (ctc tune-lm), evaluate test greedy and with the LM
#               (asr evaluate --model EXP: the validated checkpoint)
#   6 report    EXP/RESULTS.md: every report under EXP in one table, the corpus and the budgets
# Each finished stage leaves EXP/.done/stageN.NAME and a rerun skips it (--force redoes the
# selected stages). Relative paths are taken from the repository root.
#
# Variables (environment or VAR=value arguments):
#   LANG=es             es | fr | it (a locale name such as C.UTF-8 in LANG is taken as es)
#   CORPUS_ROOT=data/asterisk-LANG          where the corpus is built
#   SOUNDS=/usr/share/asterisk/sounds       the voice folders (another value: nothing is
#                       installed, e.g. a stand-in tree for tests)
#   TRANSCRIPTS         core-sounds-LANG.txt(.gz) (default: the package's, extracted if needed)
#   EXTRA_SPEAKERS=1    1: the other Debian speakers of the language as training-only speakers
#                       (asterisk-prompt-es-co, -fr-armelle, -it-menardi-wav); 0: core only
#   DIGITS=train        prompts with digits: train (spelt out by num2words, training only:
#                       dev and test as with skip) | skip | verbalize (spelt out, split too)
#   TEST_FRACTION=0.15 DEV_FRACTION=0.08 SPLIT_SEED=0   prompt texts held out (tools/build_asterisk)
#   CONFIG=recipes/asterisk/conf/base.yaml  training config
#   MINUTES=25          training budget on the real set (train.max_minutes)
#   PRETRAIN=none       none | espeak
#   MIX=0               1: espeak-ng speech mixed into the training set (MIX_UTTS of it)
#   ESPEAK_ROOT=data/espeak-LANG  ESPEAK_UTTS=3000 ESPEAK_MORE_TEXT=mo   generated corpus
#   PRETRAIN_CONFIG=recipes/asterisk/conf/pretrain.yaml  PRETRAIN_MINUTES=15
#   PRETRAIN_REAL=""    real speech of other languages pretrained on with the espeak-ng speech:
#                       manifests (e.g. the train.jsonl of the other languages' corpora), each
#                       PRETRAIN_REAL_REPEAT=2 times; never this language's own real set
#   PRETRAIN_OTHER_SPEAKERS=0   1 (with TRAIN_SPEAKERS=core): pretrain also on this language's
#                       training utterances by the other speakers (not the dev set's),
#                       PRETRAIN_REAL_REPEAT times; the core speaker's stay for stage 4
#   PRETRAIN_EXP=EXP/pretrain   where the pretrained model goes; one that holds a finished
#                       model (checkpoint_choice.json) is used as it is, so several fine-tuning
#                       runs can share one pretraining
#   FINETUNE_ARGS="--set model.dropout=0.1"   extra train arguments after pretraining
#   MIX_UTTS=1000       espeak-ng utterances mixed in with MIX=1
#   TRAIN_SPEAKERS=all  all | core: stage 4 trains on every training speaker, or on the core
#                       speaker alone (the speaker of the dev set, whom dev and test hold); the
#                       other speakers stay in the corpus (other languages pretrain on them)
#   EXP                 experiment folder (exp/asterisk-LANG[-pretrain][-mix])
#   MANIFESTS=CORPUS_ROOT/manifests
#   LM_ORDER=3          n-gram order (0: no LM); the LM text is the training transcripts
#   LM_MORE_TEXT=""     also a second LM (EXP/lm/NgramN-more.arpa, scored as test-lmN-more): the
#                       transcripts (repeated) and more text of the language (tools/lang_text.py:
#                       "mo" = the gettext catalogues, "man" = the manual pages of the language,
#                       installed with manpages-LANG in stage 0, or files), held-out texts left out
#   DECODER=ours ALPHA=0.8 BETA=1.5 BEAM=64  decoding (ALPHA/BETA tuned on dev with TUNE_LM=1)
#   TUNE_LM=1  ALPHA_GRID="0.3 0.5 0.8 1.2 1.6"  BETA_GRID="0.0 1.0 2.0 3.5 5.0"
#   THREADS=1           torch threads of training (train.threads) and OMP_NUM_THREADS
#   TRAIN_ARGS          extra asr train arguments of stage 4, e.g. "--set model.dropout=0.4"
#   PYTHON              interpreter (default .venv/bin/python if present, else python3)
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
recipe_init "$@"

case "${LANG:-}" in
  es | fr | it) CORPUS_LANG="$LANG" ;;
  '' | C | C.* | POSIX | *_* | *.*) CORPUS_LANG=es ;;
  *) die "LANG=$LANG: choose es, fr or it" ;;
esac
export LANG=C.UTF-8  # the children get a real locale, not a language code

CORPUS_ROOT="${CORPUS_ROOT:-data/asterisk-$CORPUS_LANG}"
SOUNDS="${SOUNDS:-/usr/share/asterisk/sounds}"
TRANSCRIPTS="${TRANSCRIPTS:-}"
EXTRA_SPEAKERS="${EXTRA_SPEAKERS:-1}"
DIGITS="${DIGITS:-train}"
TEST_FRACTION="${TEST_FRACTION:-0.15}"
DEV_FRACTION="${DEV_FRACTION:-0.08}"
SPLIT_SEED="${SPLIT_SEED:-0}"
CONFIG="${CONFIG:-recipes/asterisk/conf/base.yaml}"
MINUTES="${MINUTES:-25}"
PRETRAIN="${PRETRAIN:-none}"
MIX="${MIX:-0}"
ESPEAK_ROOT="${ESPEAK_ROOT:-data/espeak-$CORPUS_LANG}"
ESPEAK_UTTS="${ESPEAK_UTTS:-3000}"
ESPEAK_MORE_TEXT="${ESPEAK_MORE_TEXT-mo}"
PRETRAIN_CONFIG="${PRETRAIN_CONFIG:-recipes/asterisk/conf/pretrain.yaml}"
PRETRAIN_MINUTES="${PRETRAIN_MINUTES:-15}"
PRETRAIN_REAL="${PRETRAIN_REAL:-}"
PRETRAIN_REAL_REPEAT="${PRETRAIN_REAL_REPEAT:-2}"
FINETUNE_ARGS="${FINETUNE_ARGS:---set model.dropout=0.1}"
MIX_UTTS="${MIX_UTTS:-1000}"
TRAIN_SPEAKERS="${TRAIN_SPEAKERS:-all}"
PRETRAIN_OTHER_SPEAKERS="${PRETRAIN_OTHER_SPEAKERS:-0}"
case "$PRETRAIN" in none | espeak) ;; *) die "PRETRAIN=$PRETRAIN: choose none or espeak" ;; esac
case "$TRAIN_SPEAKERS" in
  all | core) ;;
  *) die "TRAIN_SPEAKERS=$TRAIN_SPEAKERS: choose all or core" ;;
esac
case "$PRETRAIN_OTHER_SPEAKERS" in
  0) ;;
  1) [ "$TRAIN_SPEAKERS" = core ] \
       || die "PRETRAIN_OTHER_SPEAKERS=1 needs TRAIN_SPEAKERS=core (else stage 4 trains on them too)"
     [ "$PRETRAIN" = espeak ] || die "PRETRAIN_OTHER_SPEAKERS=1 needs PRETRAIN=espeak" ;;
  *) die "PRETRAIN_OTHER_SPEAKERS=$PRETRAIN_OTHER_SPEAKERS: choose 0 or 1" ;;
esac
suffix=""
if [ "$PRETRAIN" = espeak ]; then suffix="$suffix-pretrain"; fi
if [ "$MIX" = 1 ]; then suffix="$suffix-mix"; fi
EXP="${EXP:-exp/asterisk-$CORPUS_LANG$suffix}"
PRETRAIN_EXP="${PRETRAIN_EXP:-$EXP/pretrain}"
MANIFESTS="${MANIFESTS:-$CORPUS_ROOT/manifests}"
LM_ORDER="${LM_ORDER:-3}"
LM_MORE_TEXT="${LM_MORE_TEXT:-}"
DECODER="${DECODER:-ours}"
ALPHA="${ALPHA:-0.8}"
BETA="${BETA:-1.5}"
BEAM="${BEAM:-64}"
TUNE_LM="${TUNE_LM:-1}"
ALPHA_GRID="${ALPHA_GRID:-0.3 0.5 0.8 1.2 1.6}"
BETA_GRID="${BETA_GRID:-0.0 1.0 2.0 3.5 5.0}"
THREADS="${THREADS:-1}"
TRAIN_ARGS="${TRAIN_ARGS:-}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$THREADS}"

LM="$EXP/lm/${LM_ORDER}gram.arpa"
LM_MORE="$EXP/lm/${LM_ORDER}gram-more.arpa"
REAL_SET="$MANIFESTS/train.jsonl"  # the real training set of stage 4
if [ "$TRAIN_SPEAKERS" = core ]; then REAL_SET="$EXP/train-core.jsonl"; fi
ESPEAK_MANIFESTS="$ESPEAK_ROOT/manifests"
use_espeak=0
if [ "$PRETRAIN" = espeak ] || [ "$MIX" = 1 ]; then use_espeak=1; fi

# the Debian packages of the language: core audio, other speakers; the transcripts come from
# asterisk-core-sounds-LANG, which conflicts with the other speakers' packages: extracted
packages=("asterisk-core-sounds-$CORPUS_LANG-wav")
if [ "$EXTRA_SPEAKERS" = 1 ]; then
  case "$CORPUS_LANG" in
    es) packages+=(asterisk-prompt-es-co) ;;
    fr) packages+=(asterisk-prompt-fr-armelle) ;;
    it) packages+=(asterisk-prompt-it-menardi-wav) ;;
  esac
fi
if [ "$use_espeak" = 1 ]; then packages+=(espeak-ng); fi
# the manual pages of the language, a text source of the generated speech or of the LM
man_text=0
for t in $LM_MORE_TEXT; do [ "$t" != man ] || man_text=1; done
if [ "$use_espeak" = 1 ]; then
  for t in $ESPEAK_MORE_TEXT; do [ "$t" != man ] || man_text=1; done
fi
if [ "$man_text" = 1 ]; then packages+=("manpages-$CORPUS_LANG" groff-base); fi

install_packages() {
  local missing=() p
  for p in "${packages[@]}" sox; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ "${#missing[@]}" -gt 0 ] || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
             "${missing[@]}" >/dev/null; } \
      || die "apt-get could not install ${missing[*]}"
  else
    die "missing Debian packages: ${missing[*]} (as root: apt-get install ${missing[*]})"
  fi
}

# transcripts: the installed package's doc, else the package extracted into CORPUS_ROOT/debs
transcript_root() {
  local pkg="asterisk-core-sounds-$CORPUS_LANG" debs="$CORPUS_ROOT/debs"
  if [ -f "/usr/share/doc/$pkg/core-sounds-$CORPUS_LANG.txt.gz" ]; then return 0; fi
  if [ -f "$debs/usr/share/doc/$pkg/core-sounds-$CORPUS_LANG.txt.gz" ]; then return 0; fi
  mkdir -p "$debs"
  log "extracting the transcripts of $pkg into $debs (apt-get download; not installed: it \
conflicts with the other speakers' packages)"
  (cd "$debs" && { apt-get download -qq "$pkg" 2>/dev/null \
    || { [ "$(id -u)" = 0 ] && apt-get update -qq && apt-get download -qq "$pkg" 2>/dev/null; }; }) \
    || die "cannot download $pkg: install it (apt-get install $pkg) or extract it into $debs"
  dpkg-deb -x "$debs/${pkg}_"*.deb "$debs"
}

# REAL_SET with TRAIN_SPEAKERS=core: the training utterances by the speakers of the dev set
write_core_set() {
  mkdir -p "$EXP"
  "$PYTHON" "$REPO/tools/speaker_sets.py" core "$MANIFESTS/train.jsonl" "$MANIFESTS/dev.jsonl" \
    "$REAL_SET" || exit 1
}

if want_stage 0 corpus "build the $CORPUS_LANG corpus in $CORPUS_ROOT"; then
  if [ "$SOUNDS" = /usr/share/asterisk/sounds ]; then install_packages; fi
  if [ "$DIGITS" != skip ]; then need_extra real-data num2words; fi  # spells the numbers out
  extra=()
  if [ "$EXTRA_SPEAKERS" != 1 ]; then extra=(--extra none); fi
  if [ -n "$TRANSCRIPTS" ]; then
    extra+=(--transcripts "$TRANSCRIPTS")
  else
    transcript_root
  fi
  "$PYTHON" tools/build_asterisk.py --lang "$CORPUS_LANG" --root "$CORPUS_ROOT" \
    --sounds "$SOUNDS" --deb-root "$CORPUS_ROOT/debs" --test-fraction "$TEST_FRACTION" \
    --dev-fraction "$DEV_FRACTION" --seed "$SPLIT_SEED" --digits "$DIGITS" "${extra[@]}"
  if [ "$use_espeak" = 1 ]; then
    more=()
    for t in $ESPEAK_MORE_TEXT; do more+=(--more-text "$t"); done
    "$PYTHON" tools/synth_espeak_lang.py --lang "$CORPUS_LANG" --root "$ESPEAK_ROOT" \
      --utterances "$ESPEAK_UTTS" --text "$CORPUS_ROOT/lm-text.txt" \
      --exclude "$CORPUS_ROOT/heldout-text.txt" "${more[@]}" --jobs "$(nproc)"
  fi
  stage_done 0 corpus
fi

if want_stage 1 prepare "prepare manifests in $MANIFESTS"; then
  asr prepare librispeech --root "$CORPUS_ROOT" --subsets train dev test --out "$MANIFESTS"
  if [ "$use_espeak" = 1 ]; then
    asr prepare librispeech --root "$ESPEAK_ROOT" --subsets train-espeak dev-espeak \
      --out "$ESPEAK_MANIFESTS"
  fi
  stage_done 1 prepare
fi

if want_stage 2 lm "build the ${LM_ORDER}-gram LM from $CORPUS_ROOT/lm-text.txt"; then
  if [ "$LM_ORDER" -gt 0 ]; then
    mkdir -p "$EXP/lm"
    ctc lm build --text "$CORPUS_ROOT/lm-text.txt" --order "$LM_ORDER" --out "$LM"
    if [ -n "$LM_MORE_TEXT" ]; then
      more=()
      for t in $LM_MORE_TEXT; do more+=(--more-text "$t"); done
      "$PYTHON" tools/lang_text.py --lang "$CORPUS_LANG" --text "$CORPUS_ROOT/lm-text.txt" \
        --exclude "$CORPUS_ROOT/heldout-text.txt" "${more[@]}" --out "$EXP/lm/lm-text-more.txt" \
        | tee "$EXP/lm/lm-text-more.info"
      ctc lm build --text "$EXP/lm/lm-text-more.txt" --order "$LM_ORDER" --out "$LM_MORE"
    fi
  else
    log "LM_ORDER=0: decoding will be greedy only"
  fi
  stage_done 2 lm
fi

if want_stage 3 pretrain "pretrain on espeak-ng speech ($PRETRAIN_MINUTES min) into $PRETRAIN_EXP"; then
  if [ "$PRETRAIN" != espeak ]; then
    log "PRETRAIN=none: nothing to pretrain"
  elif [ -f "$PRETRAIN_EXP/checkpoint_choice.json" ] && [ "$force" = 0 ]; then
    log "$PRETRAIN_EXP holds a pretrained model: used as it is"
  else
    resume=()
    if [ -f "$PRETRAIN_EXP/last.pt" ] && [ "$force" = 0 ]; then resume=(--resume); fi
    pretrain_set="$ESPEAK_MANIFESTS/train-espeak.jsonl"
    if [ -n "$PRETRAIN_REAL" ] || [ "$PRETRAIN_OTHER_SPEAKERS" = 1 ]; then
      mkdir -p "$PRETRAIN_EXP"
      pretrain_set="$PRETRAIN_EXP/train-pretrain.jsonl"
      others_of=""  # with PRETRAIN_OTHER_SPEAKERS=1: the dev set, whose speakers are left out
      if [ "$PRETRAIN_OTHER_SPEAKERS" = 1 ]; then others_of="$MANIFESTS/dev.jsonl"; fi
      # shellcheck disable=SC2086  # PRETRAIN_REAL is a list of manifests
      "$PYTHON" "$REPO/tools/speaker_sets.py" pretrain "$pretrain_set" "$PRETRAIN_REAL_REPEAT" \
        "$MANIFESTS/train.jsonl" "$ESPEAK_MANIFESTS/train-espeak.jsonl" "$others_of" \
        $PRETRAIN_REAL || exit 1
    fi
    asr train --config "$PRETRAIN_CONFIG" --train "$pretrain_set" \
      --valid "$MANIFESTS/dev.jsonl" --out "$PRETRAIN_EXP" "${resume[@]}" \
      --set "train.max_minutes=$PRETRAIN_MINUTES" --set "train.threads=$THREADS"
  fi
  stage_done 3 pretrain
fi

if want_stage 4 train "train on the real set ($MINUTES min) with $CONFIG into $EXP"; then
  if [ "$TRAIN_SPEAKERS" = core ]; then write_core_set; fi
  train="$REAL_SET"
  if [ "$MIX" = 1 ]; then
    train="$EXP/train-mix.jsonl"
    { cat "$REAL_SET"; head -n "$MIX_UTTS" "$ESPEAK_MANIFESTS/train-espeak.jsonl"; } \
      > "$train.tmp"
    mv "$train.tmp" "$train"
  fi
  args=()
  if [ "$PRETRAIN" = espeak ]; then
    # shellcheck disable=SC2206  # FINETUNE_ARGS is a list of arguments
    args=(--init "$PRETRAIN_EXP" $FINETUNE_ARGS)
  fi
  resume=()
  if [ -f "$EXP/last.pt" ] && [ "$force" = 0 ]; then resume=(--resume); fi
  # shellcheck disable=SC2086  # TRAIN_ARGS is a list of arguments
  asr train --config "$CONFIG" --train "$train" --valid "$MANIFESTS/dev.jsonl" --out "$EXP" \
    "${resume[@]}" "${args[@]}" --set "train.max_minutes=$MINUTES" \
    --set "train.threads=$THREADS" $TRAIN_ARGS
  stage_done 4 train
fi

if want_stage 5 evaluate "evaluate on test"; then
  use_lm=0
  if [ "$LM_ORDER" -gt 0 ] && [ -f "$LM" ]; then use_lm=1; fi
  if [ "$use_lm" = 1 ] && [ "$TUNE_LM" = 1 ]; then
    asr evaluate --model "$EXP" --manifest "$MANIFESTS/dev.jsonl" --title "dev, greedy" \
      --report "$EXP/decode/dev-greedy" --dump-posteriors "$EXP/decode/dev-posteriors.pt"
    # shellcheck disable=SC2086  # the grids are lists of numbers
    ctc tune-lm --posteriors "$EXP/decode/dev-posteriors.pt" --lm "$LM" --decoder "$DECODER" \
      --beam-size "$BEAM" --alpha-grid $ALPHA_GRID --beta-grid $BETA_GRID \
      --out "$EXP/lm_tuned.json"
    tuned_weights "$EXP/lm_tuned.json"
    log "tuned on dev: alpha=$ALPHA beta=$BETA"
  fi
  asr evaluate --model "$EXP" --manifest "$MANIFESTS/test.jsonl" --title "test, greedy" \
    --report "$EXP/decode/test-greedy"
  if [ "$use_lm" = 1 ]; then
    asr evaluate --model "$EXP" --manifest "$MANIFESTS/test.jsonl" --lm "$LM" \
      --decoder "$DECODER" --alpha "$ALPHA" --beta "$BETA" --beam-size "$BEAM" \
      --title "test, ${LM_ORDER}-gram LM" --report "$EXP/decode/test-lm${LM_ORDER}"
  fi
  if [ "$use_lm" = 1 ] && [ -n "$LM_MORE_TEXT" ]; then
    [ -f "$LM_MORE" ] || die "LM_MORE_TEXT is set but $LM_MORE is missing: rerun stage 2"
    if [ "$TUNE_LM" = 1 ]; then
      # shellcheck disable=SC2086  # the grids are lists of numbers
      ctc tune-lm --posteriors "$EXP/decode/dev-posteriors.pt" --lm "$LM_MORE" \
        --decoder "$DECODER" --beam-size "$BEAM" --alpha-grid $ALPHA_GRID --beta-grid $BETA_GRID \
        --out "$EXP/lm_tuned_more.json"
      tuned_weights "$EXP/lm_tuned_more.json"
      log "tuned on dev (LM with more text): alpha=$ALPHA beta=$BETA"
    fi
    asr evaluate --model "$EXP" --manifest "$MANIFESTS/test.jsonl" --lm "$LM_MORE" \
      --decoder "$DECODER" --alpha "$ALPHA" --beta "$BETA" --beam-size "$BEAM" \
      --title "test, ${LM_ORDER}-gram LM with more text ($LM_MORE_TEXT)" \
      --report "$EXP/decode/test-lm${LM_ORDER}-more"
  fi
  stage_done 5 evaluate
fi

if want_stage 6 report "collect the results in $EXP/RESULTS.md"; then
  collect_results >/dev/null
  {
    echo
    echo "Language: $CORPUS_LANG; corpus $CORPUS_ROOT (EXTRA_SPEAKERS=$EXTRA_SPEAKERS, DIGITS=$DIGITS):"
    echo
    "$PYTHON" - "$CORPUS_ROOT/stats.json" <<'EOF'
import json, sys
stats = json.load(open(sys.argv[1], encoding="utf-8"))
print("| subset | utterances | minutes | prompts | speakers |")
print("|---|---|---|---|---|")
for name, s in stats.items():
    who = ", ".join(f"{k} {v}" for k, v in s["per_speaker"].items())
    print(f"| {name} | {s['utterances']} | {s['minutes']:.1f} | {s['prompts']} | {who} |")
EOF
    echo
    echo "Training: $CONFIG${TRAIN_ARGS:+ $TRAIN_ARGS}, budget $MINUTES min, $THREADS thread(s); model: $(sed -n 's/.*"chosen": "\([^"]*\)".*/\1/p' "$EXP/checkpoint_choice.json" 2>/dev/null || echo '?')."
    if [ "$PRETRAIN" = espeak ]; then
      budget=$(sed -n 's/^ *max_minutes: *//p' "$PRETRAIN_EXP/config.yaml" 2>/dev/null || true)
      echo "Pretraining (not in the budget above): $PRETRAIN_EXP on $(wc -l < "$ESPEAK_MANIFESTS/train-espeak.jsonl") espeak-ng utterances, budget ${budget:-?} min; fine-tuning $FINETUNE_ARGS."
    fi
    if [ -n "$PRETRAIN_REAL" ]; then echo "Pretrained also on real speech of other languages: $PRETRAIN_REAL (${PRETRAIN_REAL_REPEAT}x)."; fi
    if [ "$PRETRAIN_OTHER_SPEAKERS" = 1 ]; then
      echo "Pretrained also on this language's other speakers (PRETRAIN_OTHER_SPEAKERS=1): $(grep -c '"id": "own\.0-' "$PRETRAIN_EXP/train-pretrain.jsonl" || true) training utterances (${PRETRAIN_REAL_REPEAT}x)."
    fi
    if [ "$TRAIN_SPEAKERS" = core ]; then
      echo "Trained on the core speaker alone (TRAIN_SPEAKERS=core): $(wc -l < "$REAL_SET") of $(wc -l < "$MANIFESTS/train.jsonl") training utterances."
    fi
    if [ "$MIX" = 1 ]; then
      mixed=$(( $(wc -l < "$EXP/train-mix.jsonl") - $(wc -l < "$REAL_SET") ))
      echo "Mixed in: $mixed espeak-ng utterances (MIX_UTTS=$MIX_UTTS)."
    fi
    if [ -n "$LM_MORE_TEXT" ]; then
      # what tools/lang_text.py said it wrote: "PATH: N transcript lines (Kx), M more sentences..."
      text="$(wc -l < "$EXP/lm/lm-text-more.txt") lines"
      if [ -f "$EXP/lm/lm-text-more.info" ]; then text="$(sed 's/^.*: //' "$EXP/lm/lm-text-more.info")"; fi
      echo "LM with more text ($LM_MORE_TEXT; tools/lang_text.py): $text."
    fi
  } >> "$EXP/RESULTS.md"
  cat "$EXP/RESULTS.md"
  stage_done 6 report
fi
