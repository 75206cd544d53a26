"""LibriSpeech preparation on a small tree in the real layout; the espeak-ng corpus generator."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.librispeech import prepare_librispeech
from ctc.data.manifest import read_manifest
from ctc.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> Path:
    """Two speakers, three chapters; one flac lacks a transcript line, one line lacks audio."""
    corpus = root / "LibriSpeech"
    layout = {("dev-clean", "84", "121123"): ["0000", "0001"],
              ("dev-clean", "174", "50561"): ["0000"],
              ("train-clean-5", "19", "198"): ["0001", "0002"]}
    for (subset, spk, chapter), utts in layout.items():
        folder = corpus / subset / spk / chapter
        folder.mkdir(parents=True)
        lines = []
        for utt in utts:
            uid = f"{spk}-{chapter}-{utt}"
            sf.write(folder / f"{uid}.flac", np.zeros(8000 + 1600 * int(utt), np.float32), 16000)
            lines.append(f"{uid} HELLO WORLD NUMBER {int(utt)}")
        (folder / f"{spk}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    # audio without transcript, transcript line without audio
    sf.write(corpus / "dev-clean/84/121123/84-121123-0009.flac", np.zeros(800, np.float32), 16000)
    with (corpus / "dev-clean/174/50561/174-50561.trans.txt").open("a") as handle:
        handle.write("174-50561-0042 A LINE WITHOUT AUDIO\n")
    # unreadable audio
    (corpus / "train-clean-5/19/198/19-198-0002.flac").write_bytes(b"not flac")
    return corpus


def test_prepare_real_layout(tmp_path):
    _tree(tmp_path / "corpus")
    reports = prepare_librispeech(tmp_path / "corpus", ["dev-clean", "train-clean-5"],
                                  tmp_path / "manifests")
    dev, train = reports
    assert dev.utterances == 3 and train.utterances == 1
    assert [Path(p).name for p in dev.audio_without_transcript] == ["84-121123-0009.flac"]
    assert dev.transcript_without_audio == ["174-50561-0042"]
    assert len(train.unreadable) == 1 and "19-198-0002.flac" in train.unreadable[0]
    records = read_manifest(tmp_path / "manifests" / "dev-clean.jsonl")
    assert [r.id for r in records] == ["174-50561-0000", "84-121123-0000", "84-121123-0001"]
    first = records[1]
    assert first.text == "HELLO WORLD NUMBER 0" and first.speaker == "84"
    assert first.duration == pytest.approx(0.5) and first.sample_rate == 16000
    assert Path(first.path).is_file() and first.modality == "audio"
    raw = json.loads((tmp_path / "manifests" / "dev-clean.jsonl").read_text().splitlines()[0])
    assert set(raw) >= {"id", "path", "duration", "text", "speaker"}


def test_prepare_accepts_the_librispeech_folder_itself_and_rejects_missing(tmp_path):
    corpus = _tree(tmp_path)
    reports = prepare_librispeech(corpus, ["dev-clean"], tmp_path / "m")
    assert reports[0].utterances == 3
    with pytest.raises(InputError, match="test-other"):
        prepare_librispeech(corpus, ["test-other"], tmp_path / "m")


def _synth_module():
    spec = importlib.util.spec_from_file_location("synth_librispeech",
                                                  ROOT / "tools" / "synth_librispeech.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("synth_librispeech", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_synth_tiny_corpus_is_librispeech_layout_and_speaker_disjoint(tmp_path):
    synth = _synth_module()
    sizes = {"train-x": 8, "dev-x": 3, "test-x": 3}
    done = synth.build_corpus(tmp_path, sizes, {"train-x": 3, "dev-x": 1, "test-x": 1},
                              seed=3, jobs=2, lm_sentences=5, progress=False)
    assert done == sizes
    corpus = tmp_path / "LibriSpeech"
    flacs = sorted(corpus.glob("*/*/*/*.flac"))
    assert len(flacs) == 14
    info = sf.info(flacs[0])
    assert info.samplerate == 16000 and info.channels == 1 and info.frames > 8000
    reports = prepare_librispeech(tmp_path, list(sizes), tmp_path / "m")
    assert all(not r.audio_without_transcript and not r.transcript_without_audio
               for r in reports)
    speakers = {name: {r.speaker for r in read_manifest(tmp_path / "m" / f"{name}.jsonl")}
                for name in sizes}
    assert not speakers["train-x"] & (speakers["dev-x"] | speakers["test-x"])
    voices = {}
    for line in (corpus / "SPEAKERS.TXT").read_text().splitlines()[1:]:
        _, _, subset, voice, *_ = (f.strip() for f in line.split("|"))
        voices.setdefault(subset, set()).add(voice)
    assert not voices["train-x"] & (voices["dev-x"] | voices["test-x"])
    texts = {name: {r.text for r in read_manifest(tmp_path / "m" / f"{name}.jsonl")}
             for name in sizes}
    assert all(t == t.upper() for t in texts["train-x"])
    lm_lines = set((corpus / "lm-text.txt").read_text().splitlines())
    assert texts["train-x"] <= lm_lines and not lm_lines & (texts["dev-x"] | texts["test-x"])
    # idempotent: a rerun keeps existing files untouched
    mtime = flacs[0].stat().st_mtime_ns
    synth.build_corpus(tmp_path, sizes, {"train-x": 3, "dev-x": 1, "test-x": 1}, seed=3, jobs=2,
                       lm_sentences=5, progress=False)
    assert flacs[0].stat().st_mtime_ns == mtime
