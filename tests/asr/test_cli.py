"""The ``asr`` command: --help, exit codes and one-line errors; prepare, train, evaluate and
transcribe end to end on a tiny model (untrained: these tests check plumbing, not accuracy)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import soundfile as sf

from asr.cli import main
from ctc.data.manifest import Record, write_manifest


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, words", [
    ([], ["prepare", "train", "evaluate", "transcribe"]),
    (["prepare", "librispeech"], ["--root", "--subsets", "--out"]),
    (["train"], ["--config", "--train", "--valid", "--out", "--resume", "--set"]),
    (["evaluate"], ["--model", "--manifest", "--lm", "--alpha", "--beta", "--beam-size",
                    "--decoder", "--report", "--dump-posteriors"]),
    (["transcribe"], ["--model", "--lm", "--beam-size", "--format", "--output", "--device",
                      "srt", "vtt", "ctm"]),
])
def test_help_is_complete(capsys, argv, words):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for word in words:
        assert word in out


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["transcribe", "a.wav", "--model", "m", "--format", "docx"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        main(["nonsense"])
    assert exit_.value.code == 2


def _one_line_error(err: str, *names: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("asr: error")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for name in names:
        assert name in lines[0]


def test_prepare_missing_root_is_one_line(capsys, tmp_path):
    code, _, err = _run(capsys, ["prepare", "librispeech", "--root", str(tmp_path / "none"),
                                 "--subsets", "dev-clean", "--out", str(tmp_path / "m")])
    assert code == 1
    _one_line_error(err, "none")


def test_prepare_reports_problems_and_unreadable_audio(capsys, tmp_path):
    folder = tmp_path / "LibriSpeech" / "dev-clean" / "1" / "10"
    folder.mkdir(parents=True)
    sf.write(folder / "1-10-0000.flac", np.zeros(4000, np.float32), 16000)
    (folder / "1-10-0001.flac").write_bytes(b"junk")
    sf.write(folder / "1-10-0002.flac", np.zeros(4000, np.float32), 16000)
    (folder / "1-10.trans.txt").write_text("1-10-0000 A B\n1-10-0001 C D\n1-10-0005 E\n")
    code, out, err = _run(capsys, ["prepare", "librispeech", "--root", str(tmp_path),
                                   "--subsets", "dev-clean", "--out", str(tmp_path / "m")])
    assert code == 1  # the unreadable file
    assert "dev-clean: 1 utterances" in out
    assert "1-10-0002.flac" in err and "1-10-0005" in err and "1-10-0001.flac" in err
    assert (tmp_path / "m" / "dev-clean.jsonl").read_text().count("\n") == 1


def test_train_bad_config_is_one_line(capsys, tmp_path):
    (tmp_path / "c.yaml").write_text("model: {nonsense: 3}\n")
    write_manifest(tmp_path / "m.jsonl", [Record("a", "audio", "a.wav", "A")])
    code, _, err = _run(capsys, ["train", "--config", str(tmp_path / "c.yaml"), "--train",
                                 str(tmp_path / "m.jsonl"), "--valid", str(tmp_path / "m.jsonl"),
                                 "--out", str(tmp_path / "exp")])
    assert code == 1
    _one_line_error(err, "nonsense")


def test_transcribe_missing_model_is_one_line(capsys, tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    code, _, err = _run(capsys, ["transcribe", str(tmp_path / "a.wav"), "--model",
                                 str(tmp_path / "nomodel")])
    assert code == 1
    _one_line_error(err, "nomodel")


# --------------------------------------------------------------------------- tiny model

TINY = """
frontend: {n_mels: 40, cmvn: global}
model: {subsampling: 4, conv_channels: 4, layers: 1, hidden: 16}
optim: {lr: 1.0e-3, warmup_steps: 1}
train: {epochs: 1, max_steps: 2, device: cpu, ctc_impl: torch, progress: false,
        average_last: 0, keep_best: 1}
data: {max_frames: 4000}
"""


def _speech(path, seconds, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size))
             .astype(np.float32), 16000)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    pytest.importorskip("ctc.train")
    root = tmp_path_factory.mktemp("tiny")
    records = []
    for i in range(4):
        _speech(root / f"u{i}.wav", 1.0 + 0.2 * i, i)
        records.append(Record(f"u{i}", "audio", f"u{i}.wav", "AB BA" if i % 2 else "A B",
                              duration=1.0 + 0.2 * i))
    write_manifest(root / "train.jsonl", records)
    (root / "tiny.yaml").write_text(TINY)
    code = main(["train", "--config", str(root / "tiny.yaml"), "--train", str(root / "train.jsonl"),
                 "--valid", str(root / "train.jsonl"), "--out", str(root / "exp")])
    assert code == 0
    return root


def test_trained_checkpoint_carries_global_cmvn(tiny_model):
    from ctc.recognizer import Recognizer

    rec = Recognizer.load(tiny_model / "exp")
    assert rec.featurizer.cmvn == "global" and len(rec.featurizer.cmvn_mean) == 40
    assert rec.output_frame_shift == pytest.approx(0.04)


def test_evaluate_prints_wer_and_writes_report(capsys, tiny_model):
    code, out, err = _run(capsys, ["evaluate", "--model", str(tiny_model / "exp"), "--manifest",
                                   str(tiny_model / "train.jsonl"), "--report",
                                   str(tiny_model / "report")])
    assert code == 0, err
    assert re.search(r"WER \d+\.\d\d%", out) and "CER" in out
    assert json.loads((tiny_model / "report" / "report.json").read_text())["utterances"] == 4


def test_transcribe_formats_and_bad_files(capsys, tiny_model, tmp_path):
    _speech(tmp_path / "good.wav", 2.5, 9)
    sf.write(tmp_path / "stereo44.flac",
             np.stack([np.zeros(44100), np.ones(44100) * 0.1], 1).astype(np.float32), 44100)
    (tmp_path / "bad.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    out_dir = tmp_path / "out"
    for fmt in ("json", "srt", "vtt", "ctm", "txt"):
        code, _, err = _run(capsys, ["transcribe", str(tmp_path), "--model",
                                     str(tiny_model / "exp"), "--format", fmt, "--output",
                                     str(out_dir), "--chunk-seconds", "0.8", "--quiet"])
        assert code == 1
        _one_line_error(err, "1 of 3")
        assert "bad.wav" in err and "Traceback" not in err
        assert (out_dir / f"good.{fmt}").is_file() and (out_dir / f"stereo44.{fmt}").is_file()
        assert not (out_dir / f"bad.{fmt}").exists()
    obj = json.loads((out_dir / "good.json").read_text())
    assert obj["duration"] == pytest.approx(2.5)
    assert all(0 <= w["start"] <= w["end"] <= 2.5 for w in obj["words"])
    assert (out_dir / "good.vtt").read_text().startswith("WEBVTT")
    code, out, _ = _run(capsys, ["transcribe", str(tmp_path / "good.wav"), "--model",
                                 str(tiny_model / "exp"), "--quiet"])
    assert code == 0 and out.count("\n") == 1


# --------------------------------------------------------------------------- BPE through the CLI


@pytest.fixture(scope="module")
def bpe_model(tmp_path_factory):
    """A tiny BPE model trained through ``asr train``, whose output layer is then set so that
    every frame emits the same word-initial piece ("▁" + letters): whatever path text takes to
    the user, the marker must not reach it."""
    pytest.importorskip("sentencepiece")
    import torch

    root = tmp_path_factory.mktemp("bpe")
    records = []
    for i in range(6):
        _speech(root / f"u{i}.wav", 1.0 + 0.1 * i, i)
        records.append(Record(f"u{i}", "audio", f"u{i}.wav", ["ABBA BAB", "BAB ABBA"][i % 2],
                              duration=1.0 + 0.1 * i))
    write_manifest(root / "train.jsonl", records)
    (root / "tiny.yaml").write_text(TINY)
    code = main(["train", "--config", str(root / "tiny.yaml"), "--train", str(root / "train.jsonl"),
                 "--valid", str(root / "train.jsonl"), "--out", str(root / "exp"),
                 "--set", "tokenizer.kind=bpe", "--set", "tokenizer.vocab_size=12"])
    assert code == 0
    best = root / "exp" / "best.pt"
    state = torch.load(best, weights_only=True)
    symbols = state["tokenizer"]["symbols"]
    piece = max((i for i, s in enumerate(symbols) if s.startswith("\u2581") and len(s) > 2),
                key=lambda i: len(symbols[i]))
    state["model"]["head.weight"].zero_()
    state["model"]["head.bias"].fill_(-10.0)
    state["model"]["head.bias"][piece] = 5.0
    torch.save(state, best)
    (root / "exp" / "last.pt").unlink()
    return root, symbols[piece][1:]


def test_bpe_model_is_scored_and_transcribed_without_word_markers(capsys, bpe_model, tmp_path):
    root, word = bpe_model
    code, out, err = _run(capsys, ["evaluate", "--model", str(root / "exp" / "best.pt"),
                                   "--manifest", str(root / "train.jsonl"), "--report",
                                   str(tmp_path / "greedy")])
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "greedy" / "hypotheses.jsonl")
            .read_text().splitlines()]
    assert [r["hyp"] for r in rows] == [word] * 6
    assert all(w["word"] == word for r in rows for w in r["words"])
    lm = tmp_path / "lm.arpa"
    from ctc.lm.arpa import write_arpa
    from ctc.lm.kneser_ney import estimate, read_sentences

    write_arpa(estimate(read_sentences(["ABBA BAB", "BAB ABBA", word] * 3), 2), lm)
    code, out, err = _run(capsys, ["evaluate", "--model", str(root / "exp" / "best.pt"),
                                   "--manifest", str(root / "train.jsonl"), "--report",
                                   str(tmp_path / "lm"), "--lm", str(lm)])
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "lm" / "hypotheses.jsonl")
            .read_text().splitlines()]
    assert [r["hyp"] for r in rows] == [word] * 6
    outputs = {}
    for fmt in ("txt", "json", "ctm", "srt"):
        code, out, err = _run(capsys, ["transcribe", str(root / "u0.wav"), "--model",
                                       str(root / "exp" / "best.pt"), "--format", fmt,
                                       "--quiet"] + (["--lm", str(lm)] if fmt == "json" else []))
        assert code == 0, err
        assert "\u2581" not in out and word in out
        outputs[fmt] = out
    assert outputs["txt"] == word + "\n"
    assert json.loads(outputs["json"])["words"][0]["word"] == word


def test_transcribe_and_evaluate_with_nbest_hotwords_and_confidences(capsys, tiny_model,
                                                                     tmp_path):
    from ctc.lm.arpa import write_arpa
    from ctc.lm.kneser_ney import estimate, read_sentences

    lm = tmp_path / "lm.arpa"
    write_arpa(estimate(read_sentences(["A B", "AB BA", "BA A B"] * 4), 2), lm)
    code, out, err = _run(capsys, ["transcribe", str(tiny_model / "u1.wav"), "--model",
                                   str(tiny_model / "exp"), "--lm", str(lm), "--nbest", "3",
                                   "--hotword", "AB:4", "--format", "json", "--quiet"])
    assert code == 0, err
    obj = json.loads(out)
    assert 1 <= len(obj["nbest"]) <= 3 and obj["nbest"][0]["text"] == obj["text"]
    assert all(0.0 <= w["confidence"] <= 1.0 for w in obj["words"])
    code, out, err = _run(capsys, ["transcribe", str(tiny_model / "u1.wav"), "--model",
                                   str(tiny_model / "exp"), "--format", "ctm", "--quiet"])
    assert code == 0 and all(len(line.split()) == 6 for line in out.splitlines())
    code, out, err = _run(capsys, ["evaluate", "--model", str(tiny_model / "exp"), "--manifest",
                                   str(tiny_model / "train.jsonl"), "--report",
                                   str(tmp_path / "rep"), "--lm", str(lm), "--nbest", "2"])
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "rep" / "hypotheses.jsonl").read_text()
            .splitlines()]
    assert all(1 <= len(r["nbest"]) <= 2 and 0.0 <= r["confidence"] <= 1.0 for r in rows)


def test_train_init_keeps_or_reestimates_cmvn(capsys, tiny_model, tmp_path):
    from ctc.recognizer import Recognizer

    base = Recognizer.load(tiny_model / "exp")
    common = ["train", "--config", str(tiny_model / "tiny.yaml"), "--train",
              str(tiny_model / "train.jsonl"), "--valid", str(tiny_model / "train.jsonl"),
              "--init", str(tiny_model / "exp")]
    code, _, err = _run(capsys, [*common, "--out", str(tmp_path / "keep")])
    assert code == 0, err
    assert "kept from the --init model" in err and "initialised from" in err
    kept = Recognizer.load(tmp_path / "keep")
    assert kept.featurizer.cmvn_mean == base.featurizer.cmvn_mean
    code, _, err = _run(capsys, [*common, "--out", str(tmp_path / "new"), "--init-frontend",
                                 "reestimate"])
    assert code == 0, err
    assert "global CMVN statistics from 4 training utterances" in err
    code, _, err = _run(capsys, [*common, "--out", str(tmp_path / "bad"), "--set",
                                 "model.hidden=24"])
    assert code == 1
    _one_line_error(err, "--init", "model.hidden=24")
