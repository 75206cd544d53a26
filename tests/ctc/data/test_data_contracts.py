"""Manifests, token tables, greedy decoding and error counts: the contracts every part shares."""

from __future__ import annotations

import json

import jiwer
import pytest
import torch

from ctc.data import CharTokenizer, Record, read_manifest, write_manifest
from ctc.data.tokens import tokenizer_from_dict
from ctc.decode import greedy_decode
from ctc.errors import InputError
from ctc.metrics import count_errors


def test_manifest_round_trip_resolves_relative_paths(tmp_path):
    records = [Record("a", "audio", "wav/a.flac", "hello world", duration=1.5, speaker="s1"),
               Record("b", "image", "/abs/b.png", "line", width=300, height=64)]
    path = tmp_path / "m.jsonl"
    assert write_manifest(path, records) == 2
    back = read_manifest(path)
    assert back[0].path == str(tmp_path / "wav/a.flac")
    assert back[1] == records[1]
    assert "width" not in json.loads(path.read_text().splitlines()[0])


@pytest.mark.parametrize("line, message", [
    ('{"id": "a", "modality": "audio", "path": "x"}', r"missing field\(s\) text"),
    ('{"id": "a", "modality": "video", "path": "x", "text": ""}', "modality must be"),
    ("not json", "invalid JSON"),
])
def test_manifest_errors_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "modality": "audio", "path": "x", "text": "t"}\n' + line + "\n")
    with pytest.raises(InputError, match=rf"bad.jsonl:2: .*{message}"):
        read_manifest(path)


def test_manifest_duplicate_ids_and_missing_file(tmp_path):
    path = tmp_path / "dup.jsonl"
    row = '{"id": "a", "modality": "audio", "path": "x", "text": "t"}\n'
    path.write_text(row * 2)
    with pytest.raises(InputError, match="duplicate id 'a'"):
        read_manifest(path)
    with pytest.raises(InputError, match="manifest not found"):
        read_manifest(tmp_path / "nope.jsonl")


def test_char_tokenizer_round_trip_and_unknown_characters():
    tok = CharTokenizer.build(["hello world", "low"])
    assert tok.symbols[0] == "<b>" and tok.blank == 0
    ids = tok.encode("hello")
    assert 0 not in ids and tok.decode(ids) == "hello"
    assert tokenizer_from_dict(tok.to_dict()).symbols == tok.symbols
    with pytest.raises(InputError, match="not in the vocabulary: 'z'"):
        tok.encode("zoo")


def test_greedy_collapses_repeats_and_respects_lengths():
    # path over 6 frames: a a _ a b b  -> a a b ; with length 4 -> a a
    v = 3
    path = torch.tensor([[1, 1, 0, 1, 2, 2]])
    log_probs = torch.nn.functional.one_hot(path, v).float().log()
    (hyp,) = greedy_decode(log_probs, torch.tensor([6]))
    assert hyp.tokens == (1, 1, 2) and hyp.frames == (0, 3, 4)
    (short,) = greedy_decode(log_probs, torch.tensor([4]))
    assert short.tokens == (1, 1)


def test_error_counts_equal_jiwer():
    refs = ["the cat sat on the mat", "hello world", "a b c d"]
    hyps = ["the cat sit on mat", "hello big world", ""]
    words = count_errors(refs, hyps, "word")
    out = jiwer.process_words(refs, hyps)
    assert (words.substitutions, words.deletions, words.insertions) == (
        out.substitutions, out.deletions, out.insertions)
    assert words.rate == pytest.approx(out.wer)
    assert words.sentence_errors == 3
    chars = count_errors(refs, hyps, "char")
    assert chars.rate == pytest.approx(jiwer.cer(refs, hyps))
