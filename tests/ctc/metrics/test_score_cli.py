"""``ctc score`` end to end on Kaldi, JSONL and trn files; its one-line errors."""

from __future__ import annotations

import json

import jiwer
import pytest

from ctc.cli import main as ctc_main
from ctc.errors import InputError
from ctc.metrics.score_cli import ScoreConfig, get_args, main, run
from ctc.metrics.transcripts import read_transcripts

REFS = {"u1": "the cat sat on the mat", "u2": "hello world", "u3": "a b c d"}
HYPS = {"u1": "the bat sat on mat", "u2": "hello word", "u3": "a b c d"}


def _kaldi(path, texts):
    path.write_text("".join(f"{i} {t}\n" for i, t in texts.items()))
    return path


def _jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_kaldi_files_end_to_end(tmp_path, capsys):
    ref = _kaldi(tmp_path / "ref.txt", REFS)
    hyp = _kaldi(tmp_path / "hyp.txt", dict(reversed(HYPS.items())))  # order must not matter
    assert ctc_main(["score", "--ref", str(ref), "--hyp", str(hyp),
                     "--report", str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    wer = jiwer.wer(list(REFS.values()), list(HYPS.values()))
    assert f"WER {100 * wer:.2f}%" in out and "CER" in out and "on 3 utterances" in out
    summary = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert summary["wer"]["rate"] == pytest.approx(wer)
    for name in ("report.md", "alignments.txt", "wer_by_length.png", "wer_confusions.png"):
        assert (tmp_path / "rep" / name).exists()


def test_jsonl_with_ref_and_hyp_fields_needs_no_ref_file(tmp_path, capsys):
    hyp = _jsonl(tmp_path / "hyps.jsonl", [
        {"id": i, "ref": REFS[i], "hyp": HYPS[i], "speaker": "spk" + i[-1]} for i in REFS])
    summary = run(get_args(["--hyp", str(hyp), "--unit", "word", "--bootstrap", "100"]))
    assert summary["wer"]["rate"] == pytest.approx(jiwer.wer(list(REFS.values()),
                                                             list(HYPS.values())))
    assert "cer" not in summary
    assert [r["speaker"] for r in summary["by_speaker"]["wer"]] == ["spk1", "spk2", "spk3"]
    assert "CER" not in capsys.readouterr().out


def test_jsonl_text_files_trn_and_normalisation(tmp_path):
    ref = _jsonl(tmp_path / "ref.jsonl", [{"id": "a", "text": "Hello, World!"}])
    hyp = tmp_path / "hyp.trn"
    hyp.write_text("hello world (a)\n")
    raw = run(ScoreConfig(hyps=[hyp], ref=ref, bootstrap=0))
    norm = run(ScoreConfig(hyps=[hyp], ref=ref, normalize=["lower,punct"], bootstrap=0))
    assert raw["wer"]["rate"] == 1.0 and norm["wer"]["rate"] == 0.0
    assert norm["normalization"]["description"].startswith("lower-cased")


def test_compare_two_systems_writes_comparison(tmp_path, capsys):
    refs = {f"u{i}": "one two three four five six" for i in range(40)}
    worse = {k: "one too three for five" for k in refs}
    better = {k: ("one two three four five six" if i % 4 else "one two three for five six")
              for i, k in enumerate(refs)}
    ref, a, b = (_kaldi(tmp_path / n, t) for n, t in
                 (("ref.txt", refs), ("old.txt", worse), ("new.txt", better)))
    assert main(["--ref", str(ref), "--compare", str(a), str(b), "--report",
                 str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "P(new better) = 1.000" in out
    result = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert result["wer"]["delta"] < 0 and result["wer"]["delta_high"] < 0
    assert result["wer"]["utterances_b_better"] == 40
    assert (tmp_path / "cmp" / "old" / "report.md").exists()
    assert (tmp_path / "cmp" / "new" / "report.md").exists()
    assert "# new against old" in (tmp_path / "cmp" / "comparison.md").read_text()
    same = run(get_args(["--ref", str(ref), "--hyp", str(a), "--compare", str(b),
                         "--bootstrap", "50"]))
    assert same["comparison"]["wer"]["prob_b_better"] == 1.0


def test_mismatched_ids_name_file_and_ids(tmp_path, capsys):
    ref = _kaldi(tmp_path / "ref.txt", REFS)
    hyp = _kaldi(tmp_path / "hyp.txt", {"u1": "x", "u9": "y"})
    assert main(["--ref", str(ref), "--hyp", str(hyp)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "2 id(s) of" in err and "ref.txt missing from" in err and "(u2, u3)" in err
    assert "hyp.txt not in" in err and "(u9)" in err and "--intersection" in err
    summary = run(get_args(["--ref", str(ref), "--hyp", str(hyp), "--intersection",
                            "--bootstrap", "0"]))
    assert summary["utterances"] == 1
    assert "scoring the 1 common ids" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    ('{"id": "u1", "text": "a"}\nnot json\n', r"hyp.jsonl:2: invalid JSON"),
    ('{"id": "u1"}\n', r"hyp.jsonl:1: no 'hyp' or 'text' field"),
    ('{"id": "u1", "text": "a"}\n{"id": "u1", "text": "b"}\n', r"hyp.jsonl:2: duplicate id 'u1'"),
    ('{"id": "u1", "text": 3}\n', r"field 'text' must be a string"),
    ("\n\n", r"hyp.jsonl: no transcripts"),
])
def test_malformed_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "hyp.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_transcripts(path)


def test_cli_errors_are_one_line(tmp_path, capsys):
    ref = _kaldi(tmp_path / "ref.txt", REFS)
    assert main(["--ref", str(ref), "--hyp", str(tmp_path / "missing.txt")]) == 1
    assert capsys.readouterr().err.strip().endswith("missing.txt: no such file")
    hyp = _jsonl(tmp_path / "h.jsonl", [{"id": "u1", "hyp": "x"}])
    assert main(["--hyp", str(hyp)]) == 1
    assert "no --ref given and 1 record(s) have no 'ref' field (u1)" in capsys.readouterr().err
    assert main(["--ref", str(ref), "--hyp", str(ref), "--normalize", "upper"]) == 1
    assert "unknown normalisation upper" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        get_args(["--ref", str(ref), "--compare", str(ref)])


def test_kaldi_reader_keeps_empty_transcripts(tmp_path):
    path = tmp_path / "text"
    path.write_text("u1\nu2   two  words \n")
    got = read_transcripts(path, role="ref")
    assert got["u1"].text == "" and got["u2"].text == "two  words"


def test_utt2spk_gives_per_speaker_table(tmp_path):
    ref = _kaldi(tmp_path / "ref.txt", REFS)
    hyp = _kaldi(tmp_path / "hyp.txt", HYPS)
    (tmp_path / "utt2spk").write_text("u1 alice\nu2 bob\nu3 alice\n")
    run(get_args(["--ref", str(ref), "--hyp", str(hyp), "--utt2spk", str(tmp_path / "utt2spk"),
                  "--report", str(tmp_path / "rep"), "--unit", "word", "--bootstrap", "10"]))
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| alice | 2 | 10 |" in md and "| bob | 1 | 2 |" in md
