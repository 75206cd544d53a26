"""Fixtures of the speech tests.

``validate_kaldi_dir``: the rules of Kaldi's ``utils/validate_data_dir.sh`` (--no-feats), as a
checker. What the script checks, in order: every table ends with a newline, is sorted by its
first field in ``LC_ALL=C`` order and has no repeated key; ``utt2spk`` and ``spk2utt`` describe
the same mapping (``spk2utt`` being the inverse of ``utt2spk``, with utterance and speaker
orders that agree); ``text`` holds the same utterances as ``utt2spk``; without ``segments``,
``wav.scp`` holds the same ids; with ``segments``, every segment names a recording of
``wav.scp``, its times are numbers with end > start (or -1), and every recording is used;
``utt2dur`` and ``reco2dur``, when present, cover exactly the utterances and the recordings.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


def _table(path: Path) -> list[tuple[str, str]]:
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"{path}: no newline at the end"
    rows = []
    for line in data.decode("utf-8").splitlines():
        assert line.strip(), f"{path}: an empty line"
        key, _, value = line.partition(" ")
        rows.append((key, value))
    keys = [k.encode() for k, _ in rows]
    assert keys == sorted(set(keys)), f"{path}: not in sorted order or has duplicates"
    return rows


def validate_data_dir(folder: Path) -> None:
    """Raise AssertionError naming the rule a Kaldi data folder breaks."""
    for name in ("utt2spk", "spk2utt", "text", "wav.scp"):
        assert (folder / name).is_file(), f"{folder}: no {name}"
    utt2spk = dict(_table(folder / "utt2spk"))
    spk2utt = _table(folder / "spk2utt")
    inverse = [(u, s) for s, utts in spk2utt for u in utts.split()]
    assert inverse == list(utt2spk.items()), "spk2utt and utt2spk do not seem to match"
    text = dict(_table(folder / "text"))
    assert set(text) == set(utt2spk), "text and utt2spk have different utterances"
    wav = dict(_table(folder / "wav.scp"))
    assert all(v.strip() for v in wav.values()), "wav.scp: an entry without a path"
    if (folder / "segments").is_file():
        segments = dict(_table(folder / "segments"))
        assert set(segments) == set(utt2spk), "segments and utt2spk have different utterances"
        used = set()
        for utt, value in segments.items():
            reco, start, end = value.split()
            assert reco in wav, f"segments: {utt} names recording {reco} not in wav.scp"
            start_s, end_s = float(start), float(end)
            assert start_s >= 0 and (end_s > start_s or end_s == -1), f"segments: {utt} times"
            used.add(reco)
        assert used == set(wav), "wav.scp has recordings that no segment uses"
        recordings = set(wav)
    else:
        assert set(wav) == set(utt2spk), "wav.scp and utt2spk have different ids"
        recordings = set(wav)
    if (folder / "utt2dur").is_file():
        assert {k for k, _ in _table(folder / "utt2dur")} == set(utt2spk), "utt2dur keys"
    if (folder / "reco2dur").is_file():
        assert {k for k, _ in _table(folder / "reco2dur")} == recordings, "reco2dur keys"


@pytest.fixture
def validate_kaldi_dir() -> Callable[[Path], None]:
    """:func:`validate_data_dir`: raise AssertionError naming the rule a data folder breaks."""
    return validate_data_dir
