"""NeMo manifests in and out: whole files and offsets, lines without duration, broken lines named
by file:line, and a round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from asr.cli import main
from asr.nemo import export_nemo, prepare_nemo
from ctc.data.manifest import Record, read_manifest, write_manifest
from ctc.errors import InputError

RATE = 16000


@pytest.fixture
def wavs(tmp_path):
    (tmp_path / "wav").mkdir()
    for name, seconds in (("a", 1.0), ("long", 5.0)):
        sf.write(tmp_path / "wav" / f"{name}.wav",
                 np.full(int(seconds * RATE), 0.01, np.float32), RATE)
    return tmp_path / "wav"


def _lines(path, objs) -> None:
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs))


def test_whole_files_offsets_and_relative_paths(tmp_path, wavs):
    _lines(tmp_path / "train_manifest.json", [
        {"audio_filepath": "wav/a.wav", "duration": 1.0, "text": "hello  there",
         "speaker": 7},
        {"audio_filepath": str(wavs / "long.wav"), "duration": 1.5, "offset": 2.0,
         "text": "middle", "utt_id": "mid"}])
    outcome = prepare_nemo(tmp_path / "train_manifest.json", tmp_path / "out.jsonl")
    assert outcome.problems == [] and outcome.records == 2
    first, second = read_manifest(tmp_path / "out.jsonl")
    assert first.id == "a-000000" and first.text == "hello there" and first.speaker == "7"
    assert first.start is None and first.duration == 1.0
    assert second.id == "mid" and (second.start, second.end) == (2.0, 3.5)


def test_broken_lines_are_named_and_skipped(tmp_path, wavs, capsys):
    _lines(tmp_path / "m.json", [
        {"audio_filepath": "wav/a.wav", "duration": 1.0, "text": "ok"},
        "{broken",
        {"duration": 1.0, "text": "no path"},
        {"audio_filepath": "wav/missing.wav", "duration": 1.0, "text": "gone"},
        {"audio_filepath": "wav/a.wav", "duration": -2, "text": "negative"},
        {"audio_filepath": "wav/long.wav", "duration": 2.0, "offset": 4.0, "text": "past"},
        {"audio_filepath": "wav/a.wav", "duration": 1.0},
        {"audio_filepath": "wav/long.wav", "text": "no duration"}])
    status = main(["prepare", "nemo", "--manifest", str(tmp_path / "m.json"), "--out",
                   str(tmp_path / "o.jsonl")])
    err = capsys.readouterr().err
    assert status == 1
    m = tmp_path / "m.json"
    for want in (f"{m}:2: invalid JSON", f"{m}:3: no 'audio_filepath'",
                 f"{m}:4: no such audio file {tmp_path}/wav/missing.wav",
                 f"{m}:5: 'duration' must be a number of seconds >= 0, got -2",
                 f"{m}:6: segment [4, 6) lies past the end of",
                 f"{m}:7: no 'text'",
                 f"note: {m}:8: no 'duration'; 5.000 s measured from long.wav"):
        assert want in err, (want, err)
    assert all(len(line) < 300 for line in err.splitlines())
    records = read_manifest(tmp_path / "o.jsonl")
    assert [r.text for r in records] == ["ok", "no duration"]
    assert records[1].duration == 5.0
    with pytest.raises(InputError, match="no line could be prepared"):
        _lines(tmp_path / "bad.json", ["{"])
        prepare_nemo(tmp_path / "bad.json", tmp_path / "x.jsonl")


def test_export_round_trips_and_skips_pipes(tmp_path, wavs, capsys):
    records = [Record("w", "audio", str(wavs / "a.wav"), "whole", speaker="s1"),
               Record("seg", "audio", str(wavs / "long.wav"), "part", 1.0, start=1.0, end=2.0),
               Record("piped", "audio", f"cat {wavs / 'a.wav'} |", "pipe", 1.0)]
    write_manifest(tmp_path / "m.jsonl", records)
    assert main(["export", "nemo", "--manifest", str(tmp_path / "m.jsonl"), "--out",
                 str(tmp_path / "nemo.json")]) == 1
    assert f"{tmp_path}/m.jsonl:3: 'piped' is read through a command" in \
        capsys.readouterr().err
    lines = [json.loads(x) for x in (tmp_path / "nemo.json").read_text().splitlines()]
    assert lines[0] == {"audio_filepath": str(wavs / "a.wav"), "duration": 1.0,
                        "text": "whole", "speaker": "s1", "utt_id": "w"}
    assert lines[1]["offset"] == 1.0 and lines[1]["duration"] == 1.0
    prepare_nemo(tmp_path / "nemo.json", tmp_path / "back.jsonl")
    back = read_manifest(tmp_path / "back.jsonl")
    assert [(r.id, r.text, r.start, r.end) for r in back] == [("w", "whole", None, None),
                                                              ("seg", "part", 1.0, 2.0)]
    export_nemo(tmp_path / "back.jsonl", tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == (tmp_path / "nemo.json").read_text()
