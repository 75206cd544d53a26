"""Lhotse manifests in and out through the lhotse package (skipped without it): supervisions
become segments in recording time, command sources become pipes, broken lines are named by
file:line, and an export reads back."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import soundfile as sf

from asr.audio import load_audio
from asr.cli import main
from ctc.data.manifest import Record, read_manifest, write_manifest

lhotse = pytest.importorskip("lhotse")

from asr.lhotse_io import export_lhotse, prepare_lhotse  # noqa: E402

RATE = 16000


@pytest.fixture
def corpus(tmp_path):
    """Two recordings (4 s and 1 s, the second read through a command) with supervisions."""
    for name, seconds, seed in (("r1", 4.0, 0), ("r2", 1.0, 1)):
        wave = np.random.default_rng(seed).uniform(-0.2, 0.2, int(seconds * RATE))
        sf.write(tmp_path / f"{name}.wav", wave.astype(np.float32), RATE, subtype="PCM_16")
    r1 = lhotse.Recording.from_file(tmp_path / "r1.wav", recording_id="r1")
    r2 = lhotse.Recording(id="r2", sources=[lhotse.audio.AudioSource(
        "command", [0], f"cat {tmp_path / 'r2.wav'}")], sampling_rate=RATE,
        num_samples=RATE, duration=1.0)
    sups = [lhotse.SupervisionSegment("s1", "r1", 0.5, 1.0, channel=0, text="one  two",
                                      speaker="A"),
            lhotse.SupervisionSegment("s2", "r1", 2.0, 1.5, channel=0, text="three",
                                      speaker="B"),
            lhotse.SupervisionSegment("s3", "r2", 0.0, 1.0, channel=0, text="whole")]
    recordings = lhotse.RecordingSet.from_recordings([r1, r2])
    supervisions = lhotse.SupervisionSet.from_segments(sups)
    recordings.to_file(tmp_path / "recordings.jsonl.gz")
    supervisions.to_file(tmp_path / "supervisions.jsonl.gz")
    return tmp_path, recordings, supervisions


def _cuts(recordings, supervisions) -> dict:
    """The cut of each recording, by recording id."""
    cuts = lhotse.CutSet.from_manifests(recordings=recordings, supervisions=supervisions)
    return {c.recording_id: c for c in cuts}


def test_cuts_become_segments_in_recording_time(corpus):
    folder, recordings, supervisions = corpus
    by_recording = _cuts(recordings, supervisions)
    # a cut that starts 1 s into r1 holds s2 at 1.0 s of the cut
    cuts = lhotse.CutSet.from_cuts([by_recording["r1"].truncate(
        offset=1.0, duration=3.0, keep_excessive_supervisions=False), by_recording["r2"]])
    cuts.to_file(folder / "cuts.jsonl.gz")
    outcome = prepare_lhotse(folder / "m.jsonl", cuts=folder / "cuts.jsonl.gz")
    assert outcome.problems == []
    records = {r.id: r for r in read_manifest(folder / "m.jsonl")}
    assert set(records) == {"s2", "s3"}
    s2 = records["s2"]
    assert (s2.start, s2.end, s2.text, s2.speaker) == (2.0, 3.5, "three", "B")
    assert np.allclose(load_audio(s2.path, RATE, s2.start, s2.end),
                       load_audio(folder / "r1.wav")[2 * RATE:int(3.5 * RATE)])
    s3 = records["s3"]
    assert s3.path == f"cat {folder / 'r2.wav'} |" and s3.start is None and s3.duration == 1.0
    assert np.allclose(load_audio(s3.path), load_audio(folder / "r2.wav"))


def test_recordings_and_supervisions(corpus):
    folder, _, _ = corpus
    status = main(["prepare", "lhotse", "--recordings", str(folder / "recordings.jsonl.gz"),
                   "--supervisions", str(folder / "supervisions.jsonl.gz"),
                   "--out", str(folder / "m.jsonl")])
    assert status == 0
    assert [(r.id, r.start, r.end) for r in read_manifest(folder / "m.jsonl")] == [
        ("s1", 0.5, 1.5), ("s2", 2.0, 3.5), ("s3", None, None)]


def test_broken_lines_are_named(corpus, capsys):
    folder, recordings, supervisions = corpus
    cuts = _cuts(recordings, supervisions)
    good = [cuts["r1"].to_dict(), cuts["r2"].to_dict()]
    url = json.loads(json.dumps(good[1]))
    url["id"] = "u"
    url["recording"]["sources"][0] = {"type": "url", "channels": [0],
                                      "source": "https://example.org/a.wav"}
    past = json.loads(json.dumps(good[1]))
    past["id"] = "p"
    past["supervisions"][0].update(id="late", duration=3.0)
    notext = json.loads(json.dumps(good[1]))
    notext["id"] = "n"
    notext["supervisions"][0].update(id="quiet", text=None)
    mixed = lhotse.CutSet.from_cuts([cuts["r1"].mix(cuts["r2"])])
    lines = [json.dumps(good[0]), "{oops", json.dumps(url), json.dumps(past),
             json.dumps(notext), json.dumps(next(iter(mixed)).to_dict())]
    path = folder / "cuts.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    assert main(["prepare", "lhotse", "--cuts", str(path), "--out",
                 str(folder / "m.jsonl")]) == 1
    err = capsys.readouterr().err
    for want in (f"{path}:2: invalid JSON",
                 f"{path}:3: recording 'r2' has a 'url' source",
                 f"{path}:4: supervision 'late' [0.000, 3.000) lies outside its recording 'r2'",
                 f"{path}:5: supervision 'quiet' has no text",
                 f"{path}:6: cut"):
        assert want in err, (want, err)
    assert [r.id for r in read_manifest(folder / "m.jsonl")] == ["s1", "s2"]


def test_export_reads_back(tmp_path):
    wave = np.random.default_rng(2).uniform(-0.2, 0.2, 3 * RATE).astype(np.float32)
    sf.write(tmp_path / "x.flac", wave, RATE)
    records = [Record("a", "audio", str(tmp_path / "x.flac"), "first", 1.0, speaker="S",
                      start=0.0, end=1.0),
               Record("b", "audio", str(tmp_path / "x.flac"), "second", 1.0, start=1.5,
                      end=2.5),
               Record("c", "audio", f"cat {tmp_path / 'x.flac'} |", "piped")]
    write_manifest(tmp_path / "m.jsonl", records)
    outcome = export_lhotse(tmp_path / "m.jsonl", tmp_path / "lh")
    assert outcome.problems == [] and outcome.records == 3
    cuts = lhotse.CutSet.from_file(tmp_path / "lh" / "cuts.jsonl.gz")
    assert sorted(len(c.supervisions) for c in cuts) == [1, 2]
    loaded = lhotse.RecordingSet.from_file(tmp_path / "lh" / "recordings.jsonl.gz")
    assert {r.sources[0].type for r in loaded} == {"file", "command"}
    prepare_lhotse(tmp_path / "back.jsonl", cuts=tmp_path / "lh" / "cuts.jsonl.gz")
    back = {r.id: (r.text, r.start, r.end, r.speaker) for r in read_manifest(
        tmp_path / "back.jsonl")}
    assert back == {"a": ("first", 0.0, 1.0, "S"), "b": ("second", 1.5, 2.5, None),
                    "c": ("piped", None, None, None)}
