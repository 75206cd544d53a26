"""Kaldi data folders in and out: wav.scp (files and pipes), text, utt2spk, segments, durations;
broken folders give one line per bad entry naming file:line; exports pass validate_data_dir's
rules and read back to the same records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.audio import load_audio
from asr.cli import main
from asr.featurizer import LogMelFeaturizer
from asr.kaldi import c_sorted, export_kaldi, prepare_kaldi
from ctc.data.manifest import Record, read_manifest, write_manifest
from ctc.errors import InputError

RATE = 16000


def _wave(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def audio(tmp_path) -> dict[str, Path]:
    out = {}
    for i, (name, seconds) in enumerate([("a.wav", 1.0), ("b.flac", 1.5), ("c.wav", 0.8),
                                         ("long.wav", 6.0)]):
        out[name] = tmp_path / "audio" / name
        out[name].parent.mkdir(exist_ok=True)
        sf.write(out[name], _wave(seconds, i), RATE, subtype="PCM_16")
    return out


def test_whole_files_and_a_pipe_without_running_it(tmp_path, audio):
    marker = tmp_path / "pipe-ran"
    data = _write(tmp_path / "data" / "train", {
        "wav.scp": f"spk1-u1 {audio['a.wav']}\nspk1-u2 {audio['b.flac']}\n"
                   f"spk2-u3 touch {marker}; cat {audio['c.wav']} |\n",
        "text": "spk1-u1 HELLO  WORLD\nspk1-u2 SECOND\nspk2-u3 THIRD ONE\n",
        "utt2spk": "spk1-u1 spk1\nspk1-u2 spk1\nspk2-u3 spk2\n",
        "utt2dur": "spk2-u3 0.8\n"})
    outcome = prepare_kaldi(data, tmp_path / "m.jsonl")
    assert outcome.problems == [] and outcome.records == 3
    assert not marker.exists()  # its duration came from utt2dur
    records = {r.id: r for r in read_manifest(tmp_path / "m.jsonl")}
    assert records["spk1-u1"].text == "HELLO WORLD" and records["spk1-u1"].speaker == "spk1"
    assert records["spk1-u2"].duration == pytest.approx(1.5)
    assert records["spk1-u2"].sample_rate == RATE
    pipe = records["spk2-u3"]
    assert pipe.path.endswith("|") and pipe.duration == pytest.approx(0.8)
    assert np.allclose(load_audio(pipe.path), load_audio(audio["c.wav"]))
    assert marker.exists()


def test_segments_use_recording_time_and_durations_need_no_audio(tmp_path, audio):
    data = _write(tmp_path / "seg", {
        "wav.scp": f"rec1 {audio['long.wav']}\n",
        "segments": "s1-b rec1 2.5 4.0\ns1-a rec1 0.5 2.0\ns1-c rec1 4.0 -1\n",
        "text": "s1-a ONE\ns1-b TWO\ns1-c THREE\n",
        "utt2spk": "s1-a s1\ns1-b s1\ns1-c s1\n"})
    prepare_kaldi(data, f"{tmp_path}/out/")
    records = read_manifest(tmp_path / "out" / "seg.jsonl")
    assert [r.id for r in records] == ["s1-a", "s1-b", "s1-c"]
    assert [(r.start, r.end) for r in records] == [(0.5, 2.0), (2.5, 4.0), (4.0, 6.0)]
    whole = load_audio(audio["long.wav"])
    feat = LogMelFeaturizer(cmvn="none")
    got = load_audio(records[1].path, RATE, records[1].start, records[1].end)
    assert np.allclose(got, whole[int(2.5 * RATE):int(4.0 * RATE)])
    _, placement = feat.place(records[1])
    assert placement.offset == 2.5


def test_broken_folder_reports_each_entry_by_file_and_line(tmp_path, audio, capsys):
    data = _write(tmp_path / "bad", {
        "wav.scp": f"rec1 {audio['long.wav']}\nrec2 {tmp_path}/missing.wav\n"
                   "rec3 /data/feats.ark:1234\nrec4\n",
        "segments": "u1 rec1 0 1.0\nu2 rec1 5.0 7.5\nu3 rec9 0 1\nu4 rec1 x 2\n"
                    "u5 rec1 2 1\nu6 rec2 0 1\n",
        "text": "u1 OK\nu2 PAST END\nu3 NO RECORDING\nu4 BAD TIME\nu5 BACKWARDS\n"
                "u6 MISSING FILE\nu7 NOT IN SEGMENTS\n",
        "utt2spk": "u1 s\nu2 s\nu3 s\nu4 s\nu5 s\nu6 s\nu7 s\nu8 s\n"})
    status = main(["prepare", "kaldi", "--data-dir", str(data), "--out",
                   str(tmp_path / "m.jsonl")])
    err = capsys.readouterr().err
    assert status == 1
    lines = [line for line in err.splitlines() if "skipped:" in line]
    expected = [f"{data}/segments:2: segment [5, 7.5) of 'u2' lies past the end of recording "
                "'rec1' (6 s)",
                f"{data}/segments:3: recording 'rec9' has no wav.scp entry",
                f"{data}/segments:4: start 'x' is not a number",
                f"{data}/segments:5: segment end 1 is not after its start 2",
                f"{data}/wav.scp:2: recording 'rec2': no such audio file",
                f"{data}/wav.scp:3: recording 'rec3' is an archive offset",
                f"{data}/wav.scp:4: no value after the key 'rec4'",
                f"{data}/text:7: utterance 'u7' is not in {data}/segments",
                f"{data}/utt2spk:8: utterance 'u8' has no line in text"]
    for want in expected:
        assert any(want in line for line in lines), (want, lines)
    assert [r.id for r in read_manifest(tmp_path / "m.jsonl")] == ["u1"]


def test_missing_wav_entry_without_segments(tmp_path, audio, capsys):
    data = _write(tmp_path / "d", {"wav.scp": f"u1 {audio['a.wav']}\n",
                                   "text": "u1 A\nu2 B\n", "utt2spk": "u1 s\nu2 s\n"})
    assert main(["prepare", "kaldi", "--data-dir", str(data), "--out",
                 str(tmp_path / "m.jsonl")]) == 1
    err = capsys.readouterr().err
    assert f"{data}/text:2: utterance 'u2' has no wav.scp entry" in err
    with pytest.raises(InputError, match=r"no wav\.scp"):
        prepare_kaldi(_write(tmp_path / "e", {"text": "u1 A\n"}), tmp_path / "x.jsonl")


def test_failing_pipe_is_one_line_naming_recording_and_command(tmp_path, audio, capsys):
    data = _write(tmp_path / "p", {
        "wav.scp": "u1 sh -c 'echo cannot open input >&2; exit 3' |\n"
                   f"u2 cat {audio['a.wav']} |\n",
        "text": "u1 A\nu2 B\n", "utt2spk": "u1 s\nu2 s\n", "utt2dur": "u1 1.0\nu2 1.0\n"})
    outcome = prepare_kaldi(data, tmp_path / "m.jsonl")  # durations known: nothing runs
    assert outcome.problems == []
    record = read_manifest(tmp_path / "m.jsonl")[0]
    with pytest.raises(InputError) as err:
        LogMelFeaturizer()(record)
    message = str(err.value)
    assert "\n" not in message and "'u1'" in message and "exit status 3" in message
    assert "echo cannot open input" in message and message.endswith("cannot open input")
    # without a duration the pipe runs at prepare time, and its failure names wav.scp:line
    (data / "utt2dur").unlink()
    assert main(["prepare", "kaldi", "--data-dir", str(data), "--out",
                 str(tmp_path / "n.jsonl")]) == 1
    err_text = capsys.readouterr().err
    assert f"{data}/wav.scp:1: command" in err_text and "exit status 3" in err_text
    assert [r.id for r in read_manifest(tmp_path / "n.jsonl")] == ["u2"]


def test_relative_paths_and_non_utf8_lines(tmp_path, audio, capsys):
    data = _write(tmp_path / "r", {"wav.scp": "u1 audio/a.wav\nu2 audio/c.wav\n",
                                   "utt2spk": "u1 s\nu2 s\n"})
    (data / "text").write_bytes(b"u1 caf\xe9\nu2 OK\n")
    assert main(["prepare", "kaldi", "--data-dir", str(data), "--root", str(tmp_path),
                 "--out", str(tmp_path / "m.jsonl")]) == 1
    assert f"{data}/text:1: not UTF-8" in capsys.readouterr().err
    records = read_manifest(tmp_path / "m.jsonl")
    assert [r.id for r in records] == ["u2"] and Path(records[0].path).is_absolute()


def _records(audio) -> list[Record]:
    return [Record("utt-b", "audio", str(audio["a.wav"]), "B  TEXT", 1.0, speaker="zed"),
            Record("zed-1", "audio", str(audio["c.wav"]), "C", speaker="zed"),
            Record("a1", "audio", str(audio["b.flac"]), "FLAC ONE", speaker="al"),
            Record("nospk", "audio", str(audio["a.wav"]), "")]


def test_export_is_valid_sorted_and_reads_back(tmp_path, audio, validate_kaldi_dir, capsys):
    write_manifest(tmp_path / "m.jsonl", _records(audio))
    out = tmp_path / "kaldi"
    assert main(["export", "kaldi", "--manifest", str(tmp_path / "m.jsonl"),
                 "--out", str(out)]) == 0
    assert "2 utterance id(s) did not start with their speaker id" in capsys.readouterr().err
    validate_kaldi_dir(out)
    assert (out / "utt2spk").read_text() == ("al-a1 al\nnospk nospk\nzed-1 zed\n"
                                             "zed-utt-b zed\n")
    assert (out / "spk2utt").read_text() == "al al-a1\nnospk nospk\nzed zed-1 zed-utt-b\n"
    wav = dict(line.split(" ", 1) for line in (out / "wav.scp").read_text().splitlines())
    assert wav["al-a1"] == f"sox {audio['b.flac']} -t wav - |"
    assert not (out / "segments").exists()
    prepare_kaldi(out, tmp_path / "back.jsonl")
    back = {r.id: r for r in read_manifest(tmp_path / "back.jsonl")}
    assert back["zed-utt-b"].text == "B TEXT" and back["zed-utt-b"].speaker == "zed"
    assert back["nospk"].text == "" and back["zed-1"].duration == pytest.approx(0.8)
    if shutil.which("sox"):
        assert np.allclose(load_audio(back["al-a1"].path), load_audio(audio["b.flac"]),
                           atol=1e-4)


def test_export_with_segments_round_trips(tmp_path, audio, validate_kaldi_dir):
    long = str(audio["long.wav"])
    records = [Record("s-2", "audio", long, "TWO", 1.0, speaker="s", start=3.0, end=4.0),
               Record("s-1", "audio", long, "ONE", 2.0, speaker="s", start=0.25, end=2.25),
               Record("s-3", "audio", str(audio["a.wav"]), "WHOLE", speaker="s")]
    write_manifest(tmp_path / "m.jsonl", records)
    out = tmp_path / "k"
    (out).mkdir()
    (out / "feats.scp").write_text("stale\n")
    outcome = export_kaldi(tmp_path / "m.jsonl", out)
    assert any("feats.scp" in note for note in outcome.notes)
    validate_kaldi_dir(out)
    assert (out / "segments").read_text() == ("s-1 long 0.25 2.25\ns-2 long 3 4\n"
                                              "s-3 a 0 1\n")
    assert (out / "reco2dur").read_text() == "a 1\nlong 6\n"
    prepare_kaldi(out, tmp_path / "back.jsonl")
    back = {r.id: (r.start, r.end, r.text) for r in read_manifest(tmp_path / "back.jsonl")}
    assert back == {"s-1": (0.25, 2.25, "ONE"), "s-2": (3.0, 4.0, "TWO"),
                    "s-3": (0.0, 1.0, "WHOLE")}
    # a later export without segments removes the stale segments file
    write_manifest(tmp_path / "w.jsonl", records[2:])
    export_kaldi(tmp_path / "w.jsonl", out)
    assert not (out / "segments").exists()
    validate_kaldi_dir(out)


def test_export_skips_bad_records_by_line(tmp_path, audio, capsys):
    lines = [json.dumps({"id": "ok", "modality": "audio", "path": str(audio["a.wav"]),
                         "text": "A"}),
             "{not json",
             json.dumps({"id": "has space", "modality": "audio", "path": str(audio["a.wav"]),
                         "text": "B"}),
             json.dumps({"id": "gone", "modality": "audio", "path": str(tmp_path / "no.wav"),
                         "text": "C"})]
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["export", "kaldi", "--manifest", str(tmp_path / "m.jsonl"), "--out",
                 str(tmp_path / "k")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path}/m.jsonl:2: invalid JSON" in err
    assert f"{tmp_path}/m.jsonl:3: id 'has space' holds whitespace" in err
    assert f"{tmp_path}/m.jsonl:4: {tmp_path}/no.wav: no such audio file" in err
    assert (tmp_path / "k" / "text").read_text() == "ok A\n"


def test_checker_catches_what_kaldi_rejects(tmp_path, audio, validate_kaldi_dir):
    write_manifest(tmp_path / "m.jsonl", _records(audio))
    out = tmp_path / "k"
    export_kaldi(tmp_path / "m.jsonl", out)
    text = (out / "text").read_text().splitlines()
    (out / "text").write_text("\n".join(reversed(text)) + "\n")
    with pytest.raises(AssertionError, match="sorted"):
        validate_kaldi_dir(out)
    assert c_sorted(["b", "B", "a-b", "a", "a_b"]) == ["B", "a", "a-b", "a_b", "b"]
