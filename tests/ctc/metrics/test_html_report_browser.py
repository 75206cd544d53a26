"""index.html in headless Chromium: loads without console errors, filters, sorts, pages, plays
audio, draws character boxes over line images, compares two systems.

Chromium is driven over the DevTools pipe (``ctc.metrics.headless``); skipped without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ctc.metrics.errors import utterance_errors
from ctc.metrics.headless import Browser, find_chromium
from ctc.metrics.report import ScoredUtterance, write_report
from ctc.metrics.score_cli import main as score_main

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="Chromium is not installed (Debian package chromium)")

NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]


def corpus(n: int = 250) -> list[ScoredUtterance]:
    """Rows cycling through correct, cat -> bat, 'the' deleted, 'down' inserted, two errors."""
    rows = []
    for i in range(n):
        ref = f"the cat {NAMES[i % 7]} sat here"
        hyp = [ref,
               ref.replace("cat", "bat"),
               ref.replace("the ", ""),
               ref + " down",
               ref.replace("cat", "hat").replace("sat", "set")][i % 5]
        rows.append(ScoredUtterance(f"u{i:03d}", ref, hyp, f"s{i % 4}"))
    return rows


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def open_page(browser: Browser, path: Path):
    page = browser.new_page(1280, 900)
    page.goto(path)
    page.wait_for("window.carouselReport")
    return page


def change(page, control: str, value) -> None:
    """Set a control as a person would and fire its change event."""
    prop = "checked" if isinstance(value, bool) else "value"
    page.evaluate(f"(() => {{ const el = document.getElementById({json.dumps(control)}); "
                  f"el.{prop} = {json.dumps(value)}; el.dispatchEvent(new Event('change')); }})()")


def shown(page) -> list[str]:
    return page.evaluate("carouselReport.shownIds()")


def matching(page) -> int:
    return page.evaluate("carouselReport.matching()")


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    results = corpus()
    write_report(results, out, title="browser test", bootstrap_samples=50)
    return out, results


def test_page_loads_without_errors_and_rebuilds_every_hypothesis(browser, single):
    out, results = single
    page = open_page(browser, out / "index.html")
    assert page.errors() == []
    assert matching(page) == len(results)
    assert shown(page) == [r.id for r in results[:100]]  # one page of rows in the DOM
    assert page.evaluate("document.querySelectorAll('#rows tbody tr').length") == 100
    hyps = page.evaluate(f"Array.from({{length: {len(results)}}}, "
                         "(_, i) => carouselReport.hypText(0, i))")
    assert hyps == [r.hyp for r in results]
    assert "250 of 250 utterances" in page.evaluate("document.getElementById('count').textContent")
    cell = page.evaluate("(() => { const s = document.querySelector('tr[data-id=\"u001\"] .t.S');"
                         " return [s.querySelector('b').textContent, "
                         "s.querySelector('i').textContent]; })()")
    assert cell == ["cat", "bat"]
    assert page.evaluate("document.querySelectorAll('tr[data-id=\"u002\"] .t.D').length") == 1
    assert page.evaluate("document.querySelectorAll('tr[data-id=\"u003\"] .t.I').length") == 1


def test_filters_give_the_expected_rows(browser, single):
    out, results = single
    page = open_page(browser, out / "index.html")
    change(page, "q", "u042")
    assert shown(page) == ["u042"]
    change(page, "q", "DOWN")  # case-insensitive, searches hypotheses too
    assert matching(page) == 50 and all(int(i[1:]) % 5 == 3 for i in shown(page))
    change(page, "q", "")
    change(page, "only-errors", True)
    assert matching(page) == 200 and not any(int(i[1:]) % 5 == 0 for i in shown(page))
    change(page, "only-errors", False)
    speakers = page.evaluate("Array.from(document.getElementById('speaker').options, "
                             "o => [o.value, o.textContent])")
    assert speakers[1:] == [["0", "s0"], ["1", "s1"], ["2", "s2"], ["3", "s3"]]
    change(page, "speaker", "1")
    assert matching(page) == 63 and set(shown(page)) == {r.id for r in results[1::4]}
    change(page, "speaker", "")
    option = page.evaluate("Array.from(document.getElementById('confusion').options)"
                           ".find(o => o.textContent.startsWith('cat → bat')).value")
    change(page, "confusion", option)
    assert matching(page) == 50 and all(int(i[1:]) % 5 == 1 for i in shown(page))
    change(page, "only-errors", True)  # filters combine
    change(page, "q", "u00")
    assert shown(page) == ["u001", "u006"]
    assert page.errors() == []


def test_summary_links_filter_the_table(browser, single):
    out, _ = single
    page = open_page(browser, out / "index.html")
    page.evaluate("document.querySelector('a[data-speaker=\"s2\"]').click()")
    assert matching(page) == 62 and page.evaluate("document.getElementById('speaker').value") == "2"
    page.evaluate("document.querySelector('a[data-confusion]').click()")
    assert 0 < matching(page) < 62


def test_sorting_by_a_column_and_paging(browser, single):
    out, results = single
    page = open_page(browser, out / "index.html")
    per = utterance_errors([r.ref for r in results], [r.hyp for r in results], "word")
    rate = per.errors / np.maximum(per.ref_length, 1)
    expected = sorted(range(len(results)), key=lambda i: (-rate[i], i))
    page.evaluate("document.querySelector('th[data-sort=\"rate:0:word\"]').click()")
    assert shown(page) == [results[i].id for i in expected[:100]]
    assert page.evaluate("document.querySelector('th.sorted').className").endswith("desc")
    page.evaluate("document.querySelector('#pager button[data-go=\"next\"]').click()")
    assert shown(page) == [results[i].id for i in expected[100:200]]
    assert page.evaluate("document.getElementById('page').textContent") == "page 2 of 3"
    page.evaluate("document.querySelector('th[data-sort=\"rate:0:word\"]').click()")  # ascending
    ascending = sorted(range(len(results)), key=lambda i: (rate[i], i))
    assert shown(page) == [results[i].id for i in ascending[:100]]
    page.evaluate("document.querySelector('th[data-sort=\"id\"]').click()")
    page.evaluate("document.querySelector('th[data-sort=\"id\"]').click()")  # descending
    assert shown(page)[:3] == ["u249", "u248", "u247"]
    change(page, "view", "char")
    assert page.evaluate("document.querySelectorAll('.al-lines.char').length") == 100
    assert page.errors() == []


def _wav(path: Path, seconds: float, rate: int = 16000) -> None:
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(path, 0.2 * np.sin(2 * np.pi * 440 * t), rate)


def test_audio_players_link_their_source_and_words_seek(browser, tmp_path):
    results = corpus(6)
    rows = []
    for r in results:
        _wav(tmp_path / "audio" / f"{r.id}.wav", 1.5)
        rows.append({"id": r.id, "path": str(tmp_path / "audio" / f"{r.id}.wav"), "unit": "s",
                     "extent": 1.5, "words": [{"word": w, "start": 0.25 * k,
                                               "end": 0.25 * k + 0.2, "confidence": 0.9}
                                              for k, w in enumerate(r.hyp.split())]})
    report = tmp_path / "exp" / "report"
    write_report(results, report, title="audio", plots=False, hypotheses=rows)
    page = open_page(browser, report / "index.html")
    sources = page.evaluate("Array.from(document.querySelectorAll('audio'), "
                            "a => a.getAttribute('src'))")
    assert len(sources) == 6 and sources[0] == "../../audio/u000.wav"
    assert all((report / s).resolve().is_file() for s in sources)
    duration = page.evaluate(
        "new Promise((done, fail) => { const a = document.querySelector('audio');"
        " a.addEventListener('loadedmetadata', () => done(a.duration));"
        " a.addEventListener('error', () => fail(new Error('audio error ' + a.error.code)));"
        " a.preload = 'metadata'; a.load(); })")
    assert duration == pytest.approx(1.5, abs=0.01)
    chips = page.evaluate("Array.from(document.querySelectorAll('tr[data-id=\"u000\"] .wd'), "
                          "c => c.textContent)")
    assert chips == results[0].hyp.split()
    seek = page.evaluate("(() => { const c = document.querySelectorAll('tr[data-id=\"u000\"] "
                         ".wd')[2]; c.click(); return document.querySelector('audio')"
                         ".currentTime; })()")
    assert seek == pytest.approx(0.5, abs=0.01)
    assert page.errors() == []


def test_line_images_get_character_boxes_at_their_x_ranges(browser, tmp_path):
    from PIL import Image

    results = [ScoredUtterance("l1", "hello world", "hallo world", "w1"),
               ScoredUtterance("l2", "good", "good", "w2")]
    rows = []
    for r in results:
        Image.new("L", (400, 40), 255).save(tmp_path / f"{r.id}.png")
        chars = list(r.hyp)
        rows.append({"id": r.id, "path": str(tmp_path / f"{r.id}.png"), "unit": "px",
                     "extent": 400.0, "tokens": [{"token": c, "start": 20.0 + 30 * k,
                                                  "end": 40.0 + 30 * k, "confidence": 0.8}
                                                 for k, c in enumerate(chars)]})
    write_report(results, tmp_path / "report", title="lines", plots=False, hypotheses=rows)
    page = open_page(browser, tmp_path / "report" / "index.html")
    page.wait_for("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert page.evaluate("document.querySelector('th[data-sort=\"speaker\"]').textContent") \
        == "writer"
    src = page.evaluate("document.querySelector('.line img').getAttribute('src')")
    assert src == "../l1.png"
    geometry = page.evaluate(
        "(() => { const line = document.querySelector('tr[data-id=\"l1\"] .line');"
        " const img = line.querySelector('img').getBoundingClientRect();"
        " return [img.width, Array.from(line.querySelectorAll('.bx'), b => {"
        " const r = b.getBoundingClientRect(); return [r.left - img.left, r.width,"
        " b.textContent]; })]; })()")
    width, boxes = geometry
    assert len(boxes) == len("hallo world")
    scale = width / 400.0
    for k, (left, box_width, label) in enumerate(boxes):
        assert left == pytest.approx((20 + 30 * k) * scale, abs=1.5)
        assert box_width == pytest.approx(20 * scale, abs=1.5)
        assert label == "hallo world"[k].strip()
    assert page.errors() == []


def test_compare_page_shows_both_systems_and_the_bootstrap(browser, tmp_path):
    results = corpus(40)
    ref, a, b = (tmp_path / n for n in ("ref.txt", "a.txt", "b.txt"))
    ref.write_text("".join(f"{r.id} {r.ref}\n" for r in results))
    a.write_text("".join(f"{r.id} {r.hyp}\n" for r in results))
    b.write_text("".join(f"{r.id} {r.ref if int(r.id[1:]) % 2 else r.hyp}\n" for r in results))
    assert score_main(["--ref", str(ref), "--compare", str(a), str(b), "--bootstrap", "100",
                       "--report", str(tmp_path / "cmp")]) == 0
    page = open_page(browser, tmp_path / "cmp" / "index.html")
    assert page.errors() == []
    assert matching(page) == 40
    assert page.evaluate("document.querySelectorAll('tr[data-id=\"u001\"] td.al').length") == 2
    assert "P(b better)" in page.evaluate("document.getElementById('summary').textContent")
    change(page, "only-diff", True)  # odd rows with errors in a are correct in b
    expected = [r.id for r in results if int(r.id[1:]) % 2 and r.ref != r.hyp]
    assert shown(page) == expected
    for _ in range(2):  # descending (B's worst changes first), then ascending
        page.evaluate("document.querySelector('th[data-sort=\"diff:word\"]').click()")
    diffs = page.evaluate("Array.from(document.querySelectorAll('#rows tbody tr'), "
                          "tr => Number(tr.querySelector('td.d').textContent))")
    assert diffs == sorted(diffs) and diffs[0] == -2 and max(diffs) < 0
    assert page.errors() == []


@pytest.mark.slow
def test_a_100k_utterance_page_opens_and_filters(tmp_path):
    """tools/bench_report.py at full size: prints the page's size, load and filter times (no
    timed assertion) and fails on console errors."""
    import subprocess
    import sys

    tools = Path(__file__).resolve().parents[3] / "tools"
    run = subprocess.run([sys.executable, str(tools / "bench_report.py"), "--utterances",
                          "100000", "--json", "--keep", str(tmp_path / "report")],
                         cwd=tools.parent, capture_output=True, text=True, timeout=1200)
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    numbers = json.loads(run.stdout.strip().splitlines()[-1])
    assert numbers["rows"] == 100_000 and numbers["errors"] == []
    assert [a[3] for a in numbers["actions"]][-3:] == [100_000] * 3
