"""Slow: the Asterisk recipe end to end at toy size (stages 0-6, pretraining on espeak-ng speech
with the other speaker, and fine-tuning with --init on the core speaker alone with generated
speech mixed in, budgets of seconds) on a stand-in of the Debian packages: Spanish prompts spoken
by espeak-ng at 8 kHz in a sounds tree with their transcripts, and by another espeak-ng voice as
the other speaker (the packages themselves are not needed)."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ["bash", str(ROOT / "recipes/asterisk/run.sh")]
STAGES = ["corpus", "prepare", "lm", "pretrain", "train", "evaluate", "report"]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")]

TINY = """\
frontend: {kind: logmel, sample_rate: 8000, n_fft: 256, n_mels: 20, cmvn: global}
model: {frontend: conv2d, subsampling: 4, conv_channels: 4, layers: 1, hidden: 32}
optim: {lr: 0.003, warmup_steps: 5}
train: {epochs: 3, device: cpu, progress: false, ctc_impl: torch, keep_best: 2,
        average_last: 2, checkpoint_every: 0}
data: {max_frames: 3000}
"""

# the default DIGITS=train spells "marque 1" out with num2words (the real-data extra)
DIGITS = "train" if importlib.util.find_spec("num2words") else "skip"

WORDS = ("por favor ingrese su contraseña gracias adiós la conferencia ha sido bloqueada "
         "número de agente buzón de voz mensaje nuevo opción inválida marque otra vez "
         "hasta luego bienvenido al sistema").split()


def stand_in(work: Path) -> tuple[Path, Path]:
    """espeak-ng Spanish prompts at 8 kHz under sounds/es_MX_f_Allison (the core speaker) and,
    in another voice, under sounds/es (the other speaker's folder), and transcripts."""
    rng = np.random.default_rng(0)
    sounds = work / "sounds" / "es_MX_f_Allison"
    sounds.mkdir(parents=True)
    other = work / "sounds" / "es"
    other.mkdir()
    lines = ["; stand-in of core-sounds-es.txt", "beep: [tono]", "marque: marque 1"]
    prompts = [("marque", "marque uno")]
    for i in range(40):
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 6))))
        lines.append(f"prompt-{i:02d}: {text.capitalize()}.")
        prompts.append((f"prompt-{i:02d}", text))
    import soxr

    for name, text in prompts:
        for folder, voice in ((sounds, "es"), (other, "es+f2")):
            wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text],
                                 capture_output=True, check=True).stdout
            wave, rate = sf.read(io.BytesIO(wav), dtype="float32")
            sf.write(folder / f"{name}.wav", soxr.resample(wave, rate, 8000), 8000,
                     subtype="PCM_16")
    transcripts = work / "core-sounds-es.txt.gz"
    with gzip.open(transcripts, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return work / "sounds", transcripts


def other_language(work: Path) -> Path:
    """A manifest of "real" speech in another language (espeak-ng Italian stands in)."""
    folder = work / "other"
    folder.mkdir()
    records = []
    for i, text in enumerate(["buongiorno", "arrivederci a presto", "grazie mille"]):
        wav = subprocess.run(["espeak-ng", "-v", "it", "--stdout", text], capture_output=True,
                             check=True).stdout
        wave, rate = sf.read(io.BytesIO(wav), dtype="float32")
        path = folder / f"it-{i}.wav"
        sf.write(path, wave, rate, subtype="PCM_16")
        records.append({"id": f"101-1-{i:04d}", "modality": "audio", "path": str(path),
                        "text": text, "duration": len(wave) / rate, "sample_rate": rate,
                        "speaker": "101"})
    manifest = folder / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return manifest


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("asterisk")
    sounds, transcripts = stand_in(work)
    (work / "tiny.yaml").write_text(TINY)
    (work / "more.txt").write_text("el sistema no responde\nmarque su número otra vez\n",
                                   encoding="utf-8")
    env = dict(os.environ, PYTHON=sys.executable, SOUNDS=str(sounds),
               TRANSCRIPTS=str(transcripts), CORPUS_ROOT=str(work / "corpus"),
               ESPEAK_ROOT=str(work / "espeak"), EXP=str(work / "exp"),
               CONFIG=str(work / "tiny.yaml"), PRETRAIN_CONFIG=str(work / "tiny.yaml"),
               PRETRAIN="espeak", ESPEAK_UTTS="30", ESPEAK_MORE_TEXT="", MINUTES="0.5",
               PRETRAIN_MINUTES="0.5", TEST_FRACTION="0.2", DEV_FRACTION="0.2", BEAM="8",
               ALPHA_GRID="0.5 1.0", BETA_GRID="0.0 2.0", OMP_NUM_THREADS="1",
               PRETRAIN_REAL=str(other_language(work)), LM_MORE_TEXT=str(work / "more.txt"),
               DIGITS=DIGITS, TRAIN_SPEAKERS="core", MIX="1", MIX_UTTS="5",
               PRETRAIN_OTHER_SPEAKERS="1")
    proc = subprocess.run([*RECIPE, "LANG=es"], env=env, capture_output=True, text=True,
                          timeout=1500, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work, proc


def test_recipe_runs_all_stages(recipe_run):
    work, proc = recipe_run
    exp = work / "exp"
    assert sorted(p.name for p in (exp / ".done").iterdir()) == [
        f"stage{n}.{name}" for n, name in enumerate(STAGES)]
    corpus = work / "corpus"
    assert {sf.info(str(p)).samplerate for p in corpus.rglob("*.flac")} == {8000}
    assert "annotation" in (corpus / "skipped.txt").read_text()
    lm_text = (corpus / "lm-text.txt").read_text(encoding="utf-8").splitlines()
    assert ("marque uno" in lm_text) == (DIGITS == "train")
    assert "marque uno" not in (corpus / "heldout-text.txt").read_text(encoding="utf-8")
    assert (exp / "pretrain" / "checkpoint_choice.json").is_file()
    train = (corpus / "manifests" / "train.jsonl").read_text().splitlines()
    core = (exp / "train-core.jsonl").read_text().splitlines()
    assert {json.loads(line)["speaker"] for line in train} == {"101", "102"}
    assert core == [line for line in train if json.loads(line)["speaker"] == "101"]
    mixed = (exp / "train-mix.jsonl").read_text().splitlines()
    assert mixed[:len(core)] == core and len(mixed) == len(core) + 5
    assert "--init" not in proc.stderr or "error" not in proc.stderr
    results = (exp / "RESULTS.md").read_text()
    rates = r"\| [\d.]+ \| [\d.]+ \|"
    for title in ("test, greedy", "test, 3-gram LM", "dev, greedy",
                  rf"test, 3-gram LM with more text \({re.escape(str(work))}/more.txt\)"):
        assert re.search(rf"^\| {title} \| [^|]+ \| \d+ " + rates, results, re.M), results
    assert re.search(r"^\| test \| \d+ \| [\d.]+ \| \d+ \| es_MX_f_Allison \d+ \|", results,
                     re.M), results
    assert "Pretraining (not in the budget above)" in results
    assert re.search(r"^\| train \| \d+ \| [\d.]+ \| \d+ \| es_MX_f_Allison \d+, es \d+ \|",
                     results, re.M), results
    assert (f"Trained on the core speaker alone (TRAIN_SPEAKERS=core): {len(core)} of "
            f"{len(train)} training utterances." in results), results
    assert "Mixed in: 5 espeak-ng utterances (MIX_UTTS=5)." in results
    assert "Pretrained also on real speech of other languages" in results
    ids = [json.loads(line)["id"] for line in
           (exp / "pretrain" / "train-pretrain.jsonl").read_text().splitlines()]
    others = [json.loads(line)["id"] for line in train if json.loads(line)["speaker"] == "102"]
    assert others and len(ids) == len(set(ids)) == 30 + 2 * 3 + 2 * len(others)
    assert "real0.1-101-1-0002" in ids and f"own.1-{others[0]}" in ids
    assert (f"Pretrained also on this language's other speakers (PRETRAIN_OTHER_SPEAKERS=1): "
            f"{len(others)} training utterances (2x)." in results), results
    lm_text = (exp / "lm" / "lm-text-more.txt").read_text(encoding="utf-8").splitlines()
    assert lm_text[-2:] == ["el sistema no responde", "marque su número otra vez"]
    assert (exp / "lm" / "3gram-more.arpa").is_file()
    assert re.search(r"^LM with more text \(\S+more\.txt; tools/lang_text\.py\): \d+ transcript "
                     r"lines \(5x\), 2 more sentences of the language\.$", results, re.M), results
    assert re.search(r"model: \S+\.pt", proc.stdout + proc.stderr)


def test_rerun_skips_every_stage(recipe_run):
    work, _ = recipe_run
    env = dict(os.environ, PYTHON=sys.executable, EXP=str(work / "exp"),
               CORPUS_ROOT=str(work / "corpus"), PRETRAIN="espeak")
    rerun = subprocess.run([*RECIPE, "LANG=es"], env=env, capture_output=True, text=True,
                           timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.count("already done") == len(STAGES), rerun.stderr
