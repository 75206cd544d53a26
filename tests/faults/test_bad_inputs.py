"""Fault injection: bad inputs and options give one line naming the input, never a traceback;
batches go on past a bad item and exit non-zero; no rate is claimed without data; files keep
the usual permissions. Each test reproduces one finding of issue 15 (its number in brackets)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from asr.cli import main as asr
from ctc.data.manifest import Record, write_manifest
from ctc.errors import InputError
from handwriting.cli import main as htr


def run(main, argv: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, prog: str, *names: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith(f"{prog}: error")]
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def lm_text(tmp_path: Path) -> Path:
    text = tmp_path / "lm.txt"
    text.write_text("A B\nAB BA\nBA AB A\nB A B\n" * 20, encoding="utf-8")
    return text


def build_lm(tmp_path: Path, capsys) -> Path:
    from ctc.lm.cli import main as lm_main

    out = tmp_path / "lm.arpa"
    assert lm_main(["build", "--text", str(lm_text(tmp_path)), "--order", "3",
                    "--out", str(out)]) == 0
    capsys.readouterr()
    return out


# ------------------------------------------------------------------ [1] truncated ARPA


@pytest.mark.parametrize("keep", ["head20", "most"])
def test_truncated_arpa_is_refused_by_the_decoder(speech_model, tmp_path, capsys, keep):
    from ctc.decode.lm_loader import load_ngram_lm

    full = build_lm(tmp_path, capsys).read_text().splitlines(keepends=True)
    cut = tmp_path / "t.arpa"
    cut.write_text("".join(full[:20] if keep == "head20" else full[: len(full) - 8]))
    with pytest.raises(InputError, match=r"t\.arpa:\d+: (truncated|the header announces)"):
        load_ngram_lm(cut)
    code, out, err = run(asr, ["transcribe", speech_model / "u0.wav", "--model",
                               speech_model / "exp", "--lm", cut, "--quiet"], capsys)
    assert code == 1 and out == ""
    one_line_error(err, "asr", "t.arpa")


def test_bad_gzipped_lm_names_the_users_file(speech_model, tmp_path, capsys):
    arpa = build_lm(tmp_path, capsys)
    broken = tmp_path / "lm.arpa.gz"
    broken.write_bytes(gzip.compress(arpa.read_bytes())[:200])  # cut mid-stream
    code, _, err = run(asr, ["transcribe", speech_model / "u0.wav", "--model",
                             speech_model / "exp", "--lm", broken, "--quiet"], capsys)
    assert code == 1
    line = one_line_error(err, "asr", str(broken))
    assert "/tmp" not in line.replace(str(tmp_path), "")  # no temporary copy named


# ------------------------------------------------------------------ [2] no rate without data


def test_no_wer_claimed_without_data(speech_model, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, out, err = run(asr, ["evaluate", "--model", speech_model / "exp", "--manifest", empty,
                               "--report", tmp_path / "r1"], capsys)
    assert code == 1 and "WER" not in out
    one_line_error(err, "asr", "no utterance could be scored")
    assert not (tmp_path / "r1" / "report.json").exists()
    lost = tmp_path / "lost.jsonl"
    write_manifest(lost, [Record("x", "audio", "missing1.wav", "A"),
                          Record("y", "audio", "missing2.wav", "B")])
    code, out, err = run(asr, ["evaluate", "--model", speech_model / "exp", "--manifest", lost,
                               "--report", tmp_path / "r2"], capsys)
    assert code == 1 and "WER" not in out and "0.00%" not in out + err
    one_line_error(err, "asr", "all 2 unreadable")
    assert not (tmp_path / "r2" / "report.json").exists()


# ------------------------------------------------------------------ [3] batches go on


def _png_claiming(path: Path, width: int, height: int, write_line) -> None:
    """A PNG whose header claims ``width x height`` (a decompression bomb to PIL)."""
    write_line(path, "1", 8, 8)
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4: ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr: ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17: ihdr + 21] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


def test_decompression_bomb_is_skipped_and_the_batch_goes_on(digit_model, tmp_path, capsys,
                                                             write_line):
    write_line(tmp_path / "a.png", "0123")
    _png_claiming(tmp_path / "bomb.png", 20000, 9000, write_line)
    write_line(tmp_path / "b.png", "4567")
    code, out, err = run(htr, ["recognize", tmp_path / "a.png", tmp_path / "bomb.png",
                               tmp_path / "b.png", "--model", digit_model / "exp",
                               "--quiet"], capsys)
    assert code == 1
    assert [line.split("\t")[0] for line in out.splitlines()] == [
        str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    assert "bomb.png" in err and "too large" in err
    one_line_error(err, "htr", "1 of 3 images skipped")


def test_outputs_naming_an_existing_file_are_refused(speech_model, tmp_path, capsys):
    taken = tmp_path / "taken.txt"
    taken.write_text("keep me")
    code, _, err = run(asr, ["transcribe", speech_model / "u0.wav", "--model",
                             speech_model / "exp", "--output", taken, "--quiet"], capsys)
    assert code == 1
    one_line_error(err, "asr", "--output", "taken.txt")
    code, _, err = run(asr, ["evaluate", "--model", speech_model / "exp", "--manifest",
                             speech_model / "train.jsonl", "--report", taken], capsys)
    assert code == 1
    one_line_error(err, "asr", "--report", "taken.txt")
    from ctc.metrics.score_cli import main as score

    ref = tmp_path / "ref.txt"
    ref.write_text("u1 A B\n")
    code, _, err = run(score, ["--ref", ref, "--hyp", ref, "--report", taken], capsys)
    assert code == 1
    one_line_error(err, "ctc", "taken.txt")
    assert taken.read_text() == "keep me"


# ------------------------------------------------------------------ [4] [5] training state


def _synthetic_run(out: Path, resume: bool = False, extra: tuple[str, ...] = ()) -> None:
    from ctc.train import load_config, run_training
    from ctc.train.synthetic import SyntheticFeaturizer, synthetic_records

    records = synthetic_records(8)
    cfg = load_config(None, ["train.ctc_impl=torch", "model.layers=1", "model.hidden=16",
                             "model.conv_channels=4", "model.subsampling=2",
                             "train.progress=false", "train.checkpoint_every=0",
                             "train.epochs=1", "train.log_every=1", "data.max_frames=100",
                             "train.average_last=0", *extra])
    run_training(cfg, SyntheticFeaturizer(feature_dim=8), records, records[:2], out,
                 resume=resume)


def test_orphan_temporaries_of_killed_writes_are_removed(tmp_path, capsys):
    out = tmp_path / "exp"
    _synthetic_run(out)
    orphans = [out / ".last.pt.k3y_x1.tmp", out / ".best.pt.a8b2c.tmp"]
    for orphan in orphans:
        orphan.write_bytes(b"\0" * 4096)
    _synthetic_run(out, resume=True, extra=("train.epochs=2",))
    assert not any(p.exists() for p in orphans)
    assert "removed .last.pt.k3y_x1.tmp" in capsys.readouterr().err
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize("resume", [False, True])
def test_run_killed_before_its_first_checkpoint_starts_a_consistent_log(tmp_path, capsys,
                                                                         resume):
    out = tmp_path / "exp"
    out.mkdir()
    (out / "train_log.jsonl").write_text("".join(
        json.dumps({"kind": "train", "epoch": 1, "step": s, "loss": 9.0}) + "\n"
        for s in (1, 2, 3)))
    _synthetic_run(out, resume=resume)
    err = capsys.readouterr().err
    assert "stopped before its first checkpoint" in err
    steps = [json.loads(line)["step"] for line in (out / "train_log.jsonl").read_text()
             .splitlines() if json.loads(line)["kind"] == "train"]
    assert steps == sorted(set(steps)) and steps[0] == 1  # one run's steps, once each
    assert all(json.loads(line)["loss"] != 9.0 for line in
               (out / "train_log.jsonl").read_text().splitlines())


# ------------------------------------------------------------------ [6] bad --set values


@pytest.mark.parametrize("override, key", [
    ("optim.schedule=cosin", "optim.schedule"), ("train.device=tpu", "train.device"),
    ("optim.lr=-1", "optim.lr"), ("model.hidden=0", "model.hidden"),
    ("model.dropout=2.0", "model.dropout"), ("model.layers=0", "model.layers"),
    ("train.accum_steps=0", "train.accum_steps"), ("train.epochs=0", "train.epochs"),
    ("optim.lr=nan", "optim.lr"), ("tokenizer.kind=word", "tokenizer.kind"),
])
def test_bad_set_values_fail_before_any_work(speech_model, tmp_path, capsys, override, key):
    out = tmp_path / "exp"
    code, _, err = run(asr, ["train", "--config", speech_model / "tiny.yaml", "--train",
                             speech_model / "train.jsonl", "--valid",
                             speech_model / "train.jsonl", "--out", out, "--set", override],
                       capsys)
    assert code == 1
    one_line_error(err, "asr", key)
    assert not out.exists()  # nothing written, no data read
    assert "CMVN" not in err


def test_resume_cannot_change_the_architecture(speech_model, tmp_path, capsys):
    exp = tmp_path / "exp"
    shutil.copytree(speech_model / "exp", exp)
    before = {p.name: p.stat().st_mtime_ns for p in exp.iterdir()}
    code, _, err = run(asr, ["train", "--config", speech_model / "tiny.yaml", "--train",
                             speech_model / "train.jsonl", "--valid",
                             speech_model / "train.jsonl", "--out", exp, "--resume", "--set",
                             "model.hidden=256"], capsys)
    assert code == 1
    one_line_error(err, "asr", "model.hidden=256", "16")
    assert {p.name: p.stat().st_mtime_ns for p in exp.iterdir()} == before


# ------------------------------------------------------------------ [7] non-UTF-8 text


def test_latin1_transcripts_name_file_and_line(tmp_path, capsys, write_speech):
    folder = tmp_path / "LibriSpeech" / "dev-clean" / "1" / "10"
    folder.mkdir(parents=True)
    for i in range(3):
        write_speech(folder / f"1-10-000{i}.flac", 0.5, i)
    (folder / "1-10.trans.txt").write_bytes(
        "1-10-0000 A B\n1-10-0001 CAF\u00c9 OLE\n1-10-0002 B A\n".encode("latin-1"))
    code, _, err = run(asr, ["prepare", "librispeech", "--root", tmp_path, "--subsets",
                               "dev-clean", "--out", tmp_path / "m"], capsys)
    assert code == 1 and "Traceback" not in err
    assert "1-10.trans.txt:2: not UTF-8" in err
    ids = [json.loads(line)["id"] for line in (tmp_path / "m" / "dev-clean.jsonl")
           .read_text().splitlines()]
    assert ids == ["1-10-0000", "1-10-0002"]


def test_latin1_lm_text_names_file_and_line(tmp_path, capsys):
    from ctc.lm.cli import main as lm_main

    text = tmp_path / "latin1.txt"
    text.write_bytes("un caf\u00e9\nd\u00e9j\u00e0 vu\n".encode("latin-1"))
    code, _, err = run(lm_main, ["build", "--text", text, "--out", tmp_path / "x.arpa"], capsys)
    assert code == 1
    one_line_error(err, "ctc", "latin1.txt:1: not UTF-8")
    assert not (tmp_path / "x.arpa").exists()


# ------------------------------------------------------------------ [9] permissions


def test_written_files_keep_the_usual_permissions(speech_model, tmp_path, capsys):
    old = os.umask(0o022)
    try:
        from ctc.io import atomic_write_text

        atomic_write_text(tmp_path / "new.txt", "x")
        assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644
        os.chmod(tmp_path / "new.txt", 0o640)
        atomic_write_text(tmp_path / "new.txt", "y")  # a replaced file keeps its mode
        assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o640
        arpa = build_lm(tmp_path, capsys)
        assert run(asr, ["transcribe", speech_model / "u0.wav", "--model", speech_model / "exp",
                         "--output", tmp_path / "out", "--format", "json", "--quiet"],
                   capsys)[0] == 0
        assert run(asr, ["evaluate", "--model", speech_model / "exp", "--manifest",
                         speech_model / "train.jsonl", "--report", tmp_path / "rep"],
                   capsys)[0] == 0
        written = [arpa, tmp_path / "out" / "u0.json", tmp_path / "rep" / "report.json",
                   tmp_path / "rep" / "hypotheses.jsonl"]
        for path in written:
            assert path.stat().st_mode & 0o777 == 0o644, path
    finally:
        os.umask(old)
    for name in ("best.pt", "last.pt", "config.yaml", "train_log.jsonl"):
        mode = (speech_model / "exp" / name).stat().st_mode & 0o777
        assert mode & 0o044 == 0o044 or mode == 0o666 & ~old, (name, oct(mode))


# ------------------------------------------------------------------ [10] decode options


@pytest.mark.parametrize("option", [
    ["--chunk-seconds", "0"], ["--chunk-seconds", "-5"], ["--context-seconds", "-1"],
    ["--batch-size", "0"], ["--alpha", "nan"], ["--beta", "inf"], ["--beam-size", "0"],
    ["--chunk-seconds", "nan"], ["--nbest", "0"],
])
def test_nonsense_decode_options_are_refused(speech_model, capsys, option):
    code, out, err = run(asr, ["transcribe", speech_model / "u0.wav", "--model",
                               speech_model / "exp", "--quiet", *option], capsys)
    assert code == 1 and out == ""
    one_line_error(err, "asr", option[0])


# ------------------------------------------------------------------ [11] consistency


def test_htr_prepare_iam_fails_on_missing_and_truncated_images(tmp_path, capsys, write_line):
    root = tmp_path / "iam"
    (root / "ascii").mkdir(parents=True)
    rows = []
    for i, state in enumerate(["ok", "ok", "ok"]):
        rows.append(f"a01-000u-0{i} {state} 154 1 1 1 1 1 1 A|B")
    (root / "ascii" / "lines.txt").write_text("\n".join(rows) + "\n")
    folder = root / "lines" / "a01" / "a01-000u"
    folder.mkdir(parents=True)
    write_line(folder / "a01-000u-00.png", "AB")
    write_line(folder / "a01-000u-01.png", "AB")
    data = (folder / "a01-000u-01.png").read_bytes()
    (folder / "a01-000u-01.png").write_bytes(data[: len(data) // 2])  # header intact, data cut
    split = root / "split"
    split.mkdir()
    (split / "train.txt").write_text("a01-000u\n")
    code, _, err = run(htr, ["prepare", "iam", "--root", root, "--out", tmp_path / "m",
                             "--split", split], capsys)
    assert code == 1
    assert "a01-000u-02.png" in err and "a01-000u-01.png" in err and "truncated" in err
    one_line_error(err, "htr", "1 missing", "1 unreadable")
    ids = [json.loads(line)["id"] for line in (tmp_path / "m" / "train.jsonl")
           .read_text().splitlines()]
    assert ids == ["a01-000u-00"]


def test_empty_checkpoint_file_says_why(tmp_path, capsys):
    (tmp_path / "empty.pt").write_bytes(b"")
    code, _, err = run(asr, ["transcribe", tmp_path / "empty.pt", "--model",
                             tmp_path / "empty.pt"], capsys)
    assert code == 1
    one_line_error(err, "asr", "empty.pt", "the file is empty")


def test_unreadable_training_files_are_all_named_and_skipped(speech_model, tmp_path, capsys):
    records = [Record(f"u{i}", "audio", str(speech_model / f"u{i}.wav"),
                      "AB BA" if i % 2 else "A B", duration=1.0 + 0.2 * i) for i in range(4)]
    for name in ("bad1", "bad2", "bad3"):
        (tmp_path / f"{name}.wav").write_bytes(b"RIFF....WAVEfmt garbage")
        records.append(Record(name, "audio", str(tmp_path / f"{name}.wav"), "A", duration=1.0))
    write_manifest(tmp_path / "train.jsonl", records)
    code, _, err = run(asr, ["train", "--config", speech_model / "tiny.yaml", "--train",
                               tmp_path / "train.jsonl", "--valid", speech_model / "train.jsonl",
                               "--out", tmp_path / "exp", "--set", "train.max_steps=0"], capsys)
    assert code == 0, err
    assert "Traceback" not in err
    for name in ("bad1", "bad2", "bad3"):
        assert f"{name}.wav" in err
    assert (tmp_path / "exp" / "best.pt").is_file()


# ------------------------------------------------------------------ [12] no space in vocab


def test_vocabulary_without_a_space_is_scored_and_recognised(digit_model, tmp_path, capsys):
    code, out, err = run(htr, ["evaluate", "--model", digit_model / "exp", "--manifest",
                               digit_model / "train.jsonl", "--report", tmp_path / "r"], capsys)
    assert code == 0, err
    assert "CER" in out and "Traceback" not in err
    code, out, err = run(htr, ["recognize", digit_model / "l0.png", "--model",
                               digit_model / "exp", "--format", "json", "--quiet"], capsys)
    assert code == 0, err
    assert " " not in json.loads(out)["text"]


@pytest.mark.parametrize("variable", ["CAROUSEL_THREADS", "OMP_NUM_THREADS"])
def test_a_bad_thread_count_in_the_environment_is_one_line(speech_model, tmp_path, capsys,
                                                           monkeypatch, variable):
    monkeypatch.delenv("CAROUSEL_THREADS", raising=False)
    monkeypatch.setenv(variable, "two")
    code, _, err = run(asr, ["train", "--config", speech_model / "tiny.yaml", "--train",
                             speech_model / "train.jsonl", "--valid",
                             speech_model / "train.jsonl", "--out", tmp_path / "exp"], capsys)
    assert code == 1
    one_line_error(err, "asr", variable)
