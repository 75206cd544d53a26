"""Benchmark: the report page (index.html) of a synthetic 100k-utterance set in headless Chromium.

    python tools/bench_report.py [--utterances 100000] [--media] [--keep DIR]

Writes the report (``write_report``, plots off) of ``bench_score.synthetic_corpus`` (1-40 words
per utterance, ~15% WER, 50 speakers), then opens ``index.html`` in headless Chromium and prints:
the page's size, the time to the load event and to the first rendered rows (from navigation
start, as the page measures it: JSON parse included), the JS heap, and the time of each filter
and sort (filter every row, sort, render the first page), measured inside the page. ``--media``
adds audio word times to every row (the size an evaluation's page has). Needs Chromium
(Debian's ``chromium``); exits 2 without it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench_score import synthetic_corpus

from ctc.metrics.headless import Browser, find_chromium
from ctc.metrics.report import ScoredUtterance, write_report

# (label, control id, value): each is set, timed, then set back to its default untimed
FILTERS = [("text search 'ab'", "q", "ab"),
           ("text search 'abc'", "q", "abc"),
           ("only errors", "only-errors", True),
           ("speaker filter", "speaker", "7"),
           ("confusion filter (top word substitution)", "confusion", "0")]
DEFAULTS = {"q": "", "only-errors": False, "speaker": "", "confusion": ""}
SORTS = [("sort by WER % (descending)", "rate:0:word"), ("sort by id", "id"),
         ("sort by CER errors", "err:0:char")]


def _set(control: str, value: str | bool) -> str:
    """JavaScript that sets a control of the page and fires its change event."""
    prop = "checked" if isinstance(value, bool) else "value"
    return (f"(() => {{ const el = document.getElementById({json.dumps(control)}); "
            f"el.{prop} = {json.dumps(value)}; el.dispatchEvent(new Event('change')); }})()")


def _timed(js: str, phase: str = "apply") -> str:
    """JavaScript that runs ``js`` and resolves to [the page's own time of ``phase`` (filter +
    sort + render, or sort + render), the time until the next frame is drawn (layout and paint
    included), the matching rows]."""
    inside = ("t.apply" if phase == "apply" else "t.sort + t.render")
    return (f"(async () => {{ const began = performance.now(); {js}; "
            "await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0))); "
            "const t = carouselReport.timings; "
            f"return [{inside}, performance.now() - began, carouselReport.matching()]; }})()")


def hypotheses_rows(results: list[ScoredUtterance]) -> list[dict]:
    """Evaluation-like rows: an audio path and one timed word per hypothesis word."""
    return [{"id": r.id, "path": f"audio/{r.id}.flac", "unit": "s",
             "extent": round(0.4 * len(r.hyp.split()) + 0.2, 3),
             "words": [{"word": w, "start": round(0.4 * k, 3), "end": round(0.4 * k + 0.3, 3),
                        "confidence": 0.87} for k, w in enumerate(r.hyp.split())]}
            for r in results]


def measure(page_path: Path) -> dict:
    """Open the page and run the filters and sorts; the timings (milliseconds)."""
    out: dict = {}
    with Browser(extra_flags=("--enable-precise-memory-info",)) as browser:
        page = browser.new_page(1280, 900)
        started = time.perf_counter()
        page.goto(page_path, timeout=600)
        out["load_event_wall_ms"] = 1000 * (time.perf_counter() - started)
        page.wait_for("window.carouselReport", timeout=120)
        timings = page.evaluate("carouselReport.timings")
        out["first_render_ms"] = timings["firstRender"]
        out["json_parse_ms"] = timings["parse"]
        out["initial_apply_ms"] = timings["apply"]
        out["rows"] = page.evaluate("carouselReport.matching()")
        heap = "performance.memory ? performance.memory.usedJSHeapSize / 1048576 : 0"
        out["js_heap_mb"] = page.evaluate(heap)
        page.wait_for("carouselReport.timings.searchIndex", timeout=120)
        out["search_index_ms"] = page.evaluate("carouselReport.timings.searchIndex")
        out["js_heap_indexed_mb"] = page.evaluate(heap)
        out["actions"] = []
        for label, control, value in FILTERS:
            out["actions"].append((label, *page.evaluate(_timed(_set(control, value)))))
            page.evaluate(_timed(_set(control, DEFAULTS[control])))
        for label, key in SORTS:
            click = f"document.querySelector('th[data-sort=\"{key}\"]').click()"
            out["actions"].append((label, *page.evaluate(_timed(click, "sort"))))
        out["errors"] = page.errors()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--media", action="store_true",
                        help="give every row an audio path and word times")
    parser.add_argument("--keep", type=Path, help="write the report here (default: a temporary "
                        "folder, removed)")
    parser.add_argument("--json", action="store_true", help="also print the numbers as JSON")
    args = parser.parse_args(argv)
    if find_chromium() is None:
        print("bench_report: no Chromium (install Debian's chromium)", file=sys.stderr)
        return 2

    refs, hyps = synthetic_corpus(args.utterances, args.seed)
    results = [ScoredUtterance(f"utt{i:06d}", r, h, f"spk{i % 50:02d}")
               for i, (r, h) in enumerate(zip(refs, hyps))]
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or Path(tmp) / "report"
        started = time.perf_counter()
        write_report(results, out_dir, title=f"bench: {len(results)} utterances", plots=False,
                     bootstrap_samples=200,
                     hypotheses=hypotheses_rows(results) if args.media else None)
        write_s = time.perf_counter() - started
        page = out_dir / "index.html"
        size_mb = page.stat().st_size / 1e6
        words = sum(len(r.split()) for r in refs)
        print(f"{len(results)} utterances, {words} reference words"
              f"{', with audio word times' if args.media else ''}")
        print(f"write_report (WER+CER, alignments.txt, index.html; no plots, 200 bootstrap "
              f"replicates): {write_s:.1f} s; index.html {size_mb:.1f} MB")
        numbers = measure(page)
    print(f"load event {numbers['load_event_wall_ms']:.0f} ms (wall, from navigation); first "
          f"rows rendered {numbers['first_render_ms']:.0f} ms after navigation start (JSON.parse "
          f"{numbers['json_parse_ms']:.0f} ms, first filter+sort+render "
          f"{numbers['initial_apply_ms']:.0f} ms); JS heap {numbers['js_heap_mb']:.0f} MB")
    print(f"search index built in idle slices, done {numbers['search_index_ms']:.0f} ms after "
          f"navigation start; JS heap then {numbers['js_heap_indexed_mb']:.0f} MB")
    print(f"{'action':<50} {'script ms':>9} {'to next frame ms':>16} {'matching rows':>13}")
    for label, inside, frame, rows in numbers["actions"]:
        print(f"{label:<50} {inside:>9.0f} {frame:>16.0f} {rows:>13}")
    if numbers["errors"]:
        print("console errors:", *numbers["errors"], sep="\n  ")
    if args.json:
        print(json.dumps({"utterances": len(results), "write_s": write_s, "size_mb": size_mb,
                          **numbers}))
    return 1 if numbers["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
