"""index.html without a browser: the data blob, its escaping, media paths, every report folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ctc.metrics.html_report import (
    compress_ops,
    media_from_hypotheses,
    read_evaluation_rows,
    source_url,
)
from ctc.metrics.report import ScoredUtterance, write_report
from ctc.metrics.score_cli import main as score_main

RESULTS = [
    ScoredUtterance("u1", "the cat sat on the mat", "the bat sat down on mat", "s1"),
    ScoredUtterance("u2", "hello world", "hello world", "s2"),
    ScoredUtterance("u3", "a cat", "a bat", "s1"),
]


def page_data(page: Path) -> dict:
    """The JSON blob of a written page."""
    text = page.read_text(encoding="utf-8")
    blob = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text,
                     re.S)
    assert blob is not None
    return json.loads(blob.group(1))


def rebuild_hyp(data: dict, s: int, i: int) -> str:
    """The hypothesis as the page's script rebuilds it from the word edit script."""
    system = data["systems"][s]
    if "hyp" in system:
        return system["hyp"][i]
    ref = data["ref"][i].split()
    code = system["ops"]["word"][i]
    if not code:
        return data["ref"][i]
    ops = re.sub(r"\d+", lambda m: "C" * int(m.group()), code)
    added, out, r = iter(system["hw"][i] or []), [], 0
    for op in ops:
        if op == "C":
            out.append(ref[r])
        elif op in "SI":
            out.append(next(added))
        r += op != "I"
    return " ".join(out)


def test_compress_ops():
    assert compress_ops("CCCC") == ""
    assert compress_ops("CCCSCCDIC") == "3S2DI1"
    assert compress_ops("SSD") == "SSD"


def test_every_report_folder_gets_a_self_contained_page(tmp_path):
    summary = write_report(RESULTS, tmp_path, title="t", plots=True)
    page = tmp_path / "index.html"
    assert "index.html" in summary["files"] and page.is_file()
    text = page.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text  # no network, no CDN
    assert "<img src='data:image/png;base64," in text  # plots inlined
    assert "[index.html](index.html)" in (tmp_path / "report.md").read_text()
    data = page_data(page)
    assert data["ids"] == ["u1", "u2", "u3"] and data["speakers"] == ["s1", "s2"]
    assert data["spk"] == [0, 1, 0] and data["media"] is None
    system = data["systems"][0]
    assert system["err"]["word"] == [3, 0, 1] and data["len"]["word"] == [6, 2, 2]
    assert system["ops"]["word"] == ["1S1I1D1", "", "1S"]
    assert [rebuild_hyp(data, 0, i) for i in range(3)] == [r.hyp for r in RESULTS]
    kinds = {(c[1], c[2], c[3], c[4]): k for k, c in enumerate(data["confusions"])}
    cat_bat = kinds[("word", "S", "cat", "bat")]
    assert [c != 0 and cat_bat in c for c in data["conf"]] == [True, False, True]
    assert "40.00" in text and "data-speaker='s1'" in text  # WER 4/10, speaker links


def test_script_end_in_texts_cannot_break_out(tmp_path):
    results = [ScoredUtterance("x</script><script>alert(1)</script>", "a </script> <!-- b",
                               "a </script> c", "<b>w</b>")]
    write_report(results, tmp_path, title="</title><script>", plots=False)
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert text.count("</script>") == 2  # the data blob's and the program's
    assert "<title>&lt;/title&gt;&lt;script&gt;</title>" in text
    data = page_data(tmp_path / "index.html")
    assert data["ids"] == [results[0].id] and data["ref"] == ["a </script> <!-- b"]


def test_char_only_reports_store_the_hypotheses(tmp_path):
    write_report(RESULTS, tmp_path, title="t", units=("char",), plots=False)
    data = page_data(tmp_path / "index.html")
    assert data["units"] == ["char"] and data["systems"][0]["hyp"][0] == RESULTS[0].hyp


def test_media_links_are_relative_to_the_report(tmp_path):
    audio = tmp_path / "data" / "a b#1.wav"
    rows = [{"id": "u1", "path": str(audio), "unit": "s", "extent": 2.0,
             "words": [{"word": "the", "start": 0.1, "end": 0.3, "confidence": 0.9}]},
            {"id": "u2", "path": str(tmp_path / "l.png"), "unit": "px", "extent": 300,
             "tokens": [{"token": "h", "start": 10, "end": 22.25, "confidence": None}]},
            {"id": "u3"}]
    media = media_from_hypotheses(rows, tmp_path / "exp" / "report")
    assert media["u1"] == {"kind": "audio", "src": "../../data/a%20b%231.wav", "extent": 2.0,
                           "spans": [["the", 0.1, 0.3, 0.9]]}
    assert media["u2"]["kind"] == "image" and media["u2"]["spans"] == [["h", 10.0, 22.2, None]]
    assert "u3" not in media
    segment = {"id": "s1", "path": str(audio), "unit": "s", "extent": 14.5,
               "segment": [12.25, 14.5]}
    src = media_from_hypotheses([segment], tmp_path)["s1"]["src"]
    assert src == "data/a%20b%231.wav#t=12.25,14.5"  # the player plays the segment
    assert source_url(str(tmp_path / "x.flac"), tmp_path) == "x.flac"


def test_read_evaluation_rows_skips_other_files(tmp_path):
    (tmp_path / "clip.wav").write_bytes(b"")
    jsonl = tmp_path / "hypotheses.jsonl"
    jsonl.write_text(json.dumps({"id": "a", "hyp": "x", "path": "clip.wav"}) + "\n")
    rows = read_evaluation_rows(jsonl)
    assert len(rows) == 1 and Path(rows[0]["path"]) == tmp_path / "clip.wav"
    kaldi = tmp_path / "hyp.txt"
    kaldi.write_text("a x\n")
    assert read_evaluation_rows(kaldi) == [] and read_evaluation_rows(tmp_path / "missing") == []


def test_evaluation_rows_reach_the_page(tmp_path):
    rows = [{"id": r.id, "path": str(tmp_path / f"{r.id}.wav"), "unit": "s", "extent": 1.0,
             "words": [{"word": w, "start": 0.2 * k, "end": 0.2 * k + 0.1, "confidence": 0.5}
                       for k, w in enumerate(r.hyp.split())]} for r in RESULTS]
    write_report(RESULTS, tmp_path / "rep", title="t", plots=False, hypotheses=rows)
    data = page_data(tmp_path / "rep" / "index.html")
    assert data["media"]["kind"] == "audio" and data["media"]["src"][0] == "../u1.wav"
    # times in ms; the words are those of the hypothesis, so they are left out
    assert data["media"]["spans"][0][0].split("\n")[:2] == ["\t0\t100\t50", "\t200\t300\t50"]


def test_ctc_score_writes_pages_and_the_comparison_page(tmp_path):
    ref, a, b = (tmp_path / n for n in ("ref.txt", "a.txt", "b.txt"))
    ref.write_text("u1 the cat sat\nu2 hello world\nu3 one two three\n")
    a.write_text("u1 the bat sat\nu2 hello word\nu3 one two three\n")
    b.write_text("u1 the cat sat\nu2 hello world there\nu3 one three\n")
    assert score_main(["--ref", str(ref), "--hyp", str(a), "--report",
                       str(tmp_path / "one")]) == 0
    assert (tmp_path / "one" / "index.html").is_file()
    assert score_main(["--ref", str(ref), "--compare", str(a), str(b), "--bootstrap", "200",
                       "--report", str(tmp_path / "cmp")]) == 0
    for page in ("cmp/index.html", "cmp/a/index.html", "cmp/b/index.html"):
        assert (tmp_path / page).is_file()
    text = (tmp_path / "cmp" / "index.html").read_text(encoding="utf-8")
    assert "P(b better)" in text and "href='a/index.html'" in text
    data = page_data(tmp_path / "cmp" / "index.html")
    assert [s["name"] for s in data["systems"]] == ["a", "b"]
    assert [s["err"]["word"] for s in data["systems"]] == [[1, 1, 0], [0, 1, 1]]
    assert rebuild_hyp(data, 1, 1) == "hello world there"


def test_evaluate_hands_its_rows_to_the_page(train_tiny_experiment, tmp_path):
    from ctc.evaluate import evaluate
    from ctc.recognizer import Recognizer
    from ctc.train.synthetic import synthetic_records

    recognizer = Recognizer.load(train_tiny_experiment("train.average_last=0"))
    records = synthetic_records(4)
    evaluate(recognizer, records, tmp_path / "report", title="synthetic")
    data = page_data(tmp_path / "report" / "index.html")
    assert data["ids"] == [r.id for r in records]
    assert data["media"]["kind"] == "audio"
    # relative to the report folder
    assert data["media"]["src"][0] == source_url(records[0].path, tmp_path / "report")
