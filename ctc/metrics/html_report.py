"""The report page: ``index.html``, one self-contained file per report folder.

The page holds the summary (rates with 95% intervals, S/D/I, the per-speaker or per-writer
table, confusions, settings and the report's plots inlined as PNG data) as static HTML, and
every utterance or line as one JSON blob that ``html/report.js`` (plain JS, no library, no
network) turns into a sortable, filterable table, one page of rows at a time. Each row shows the
reference over the hypothesis with substitutions, deletions and insertions coloured; with the
``hypotheses.jsonl`` rows of an evaluation, also the source: an audio player (the file linked
relatively from the report folder) with the recognised words' times (a click seeks), or the line
image with the recognised characters' x-ranges drawn over it. The compare page puts two systems
side by side with the per-utterance difference and the paired bootstrap.

Data layout (``page_data``), columns of U rows so 100,000 utterances stay compact:

- ``ids``, ``ref`` (normalised, whitespace collapsed), ``spk`` (index into ``speakers``, -1
  unknown; null when no row has one), ``len[unit]`` (reference length in words / characters);
- ``systems[s]``: ``name``, ``err[unit]`` (errors per row), ``ops[unit]`` (edit script per row:
  ``""`` when correct, else runs of correct units as numbers and ``S``/``D``/``I`` letters, e.g.
  ``"3S2DI4"``); when words are scored the hypothesis is not stored but rebuilt from the word
  script and ``hw`` (the substituted and inserted words, 0 when none), else ``hyp`` holds it;
- ``confusions``: ``[system, unit, kind (S|D|I), ref, hyp, count]``, the summary's top ones;
  ``conf``: per row, the indices of those it contains (0 when none);
- ``media``: null, or ``kind`` ("audio" | "image"), ``src`` (relative URL per row), ``extent``
  (seconds or original-image width), ``spans[s]`` (per row one string, see ``encode_spans``:
  the words (audio) or tokens (image) with their start, end (milliseconds, or original-image
  pixels: positions divided by ``scale``) and confidence, read only when the row is shown).
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

from ctc.io import atomic_write_text
from ctc.metrics.errors import METRIC_OF_UNIT

ASSETS = Path(__file__).with_name("html")
PAGE = "index.html"
_RUN_OF_CORRECT = re.compile(r"C+")
_ERROR_OP = re.compile(r"[SDI]")
_MARKER = re.compile(r"@(TITLE|SUBTITLE|CSS|SUMMARY|ROWS_HEADING|DATA|JS)@")
_KIND_OF_OP = {"S": "substitutions", "D": "deletions", "I": "insertions"}
_op_of = itemgetter(0)


@dataclass(frozen=True)
class SystemRows:
    """One system's rows for the page: its name, normalised hypotheses (in row order), the
    per-unit ``report.UnitScores`` (counts and alignments) and the summary's top confusions
    (``summary["confusions"]``: metric -> ``Confusions.top()``)."""

    name: str
    hyps: Sequence[str]
    scores: Mapping[str, Any]
    confusions: Mapping[str, Mapping[str, list]]


def collapse(text: str) -> str:
    """``text`` with whitespace runs collapsed to one space and the ends stripped (the form
    the units are split from)."""
    return " ".join(text.split())


def compress_ops(ops: str) -> str:
    """The compact edit script of an op string: "" when it has no error, else runs of correct
    units as their count and the other ops as letters (``CCCSCCDIC`` -> ``3S2DI1``)."""
    if not _ERROR_OP.search(ops):
        return ""
    return _RUN_OF_CORRECT.sub(lambda m: str(len(m.group())), ops)


def _added_words(alignment: Sequence[tuple[str, str | None, str | None]], ops: str) -> list[str]:
    """The hypothesis words of the substitutions and insertions, in order."""
    return [alignment[k][2] for k in (m.start() for m in _ERROR_OP.finditer(ops))
            if alignment[k][0] != "D"]


def source_url(path: str, out_dir: str | Path) -> str:
    """``path`` as a URL relative to the report folder (percent-encoded, ``/`` separators)."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(out_dir))
    return urllib.parse.quote(rel.replace(os.sep, "/"))


def _number(x: Any, digits: int) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def media_from_hypotheses(hypotheses: Iterable[Mapping[str, Any]], out_dir: str | Path
                          ) -> dict[str, dict[str, Any]]:
    """id -> ``{"kind", "src", "extent", "spans"}`` from ``hypotheses.jsonl`` rows.

    Rows in seconds (``unit`` "s") give audio with their words; rows in pixels give images with
    their tokens. Rows without ``path`` are left out.
    """
    out: dict[str, dict[str, Any]] = {}
    for row in hypotheses:
        path = row.get("path")
        if not path or "id" not in row:
            continue
        audio = row.get("unit", "s") == "s"
        digits = 3 if audio else 1
        spans = [[str(x.get("word" if audio else "token", "")), _number(x.get("start"), digits),
                  _number(x.get("end"), digits), _number(x.get("confidence"), 2)]
                 for x in row.get("words" if audio else "tokens") or ()]
        src = source_url(str(path), out_dir)
        segment = row.get("segment")
        if audio and isinstance(segment, list) and len(segment) == 2:
            # a media fragment (W3C Media Fragments URI 1.0): the player plays the segment alone
            src += f"#t={_number(segment[0], 3)},{_number(segment[1], 3)}"
        out[str(row["id"])] = {"kind": "audio" if audio else "image",
                               "src": src,
                               "extent": _number(row.get("extent"), digits),
                               "spans": [s for s in spans if s[1] is not None and s[2] is not None]}
    return out


def read_evaluation_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``hypotheses.jsonl`` that carry a source ``path`` (an evaluation's output);
    [] for any other file (Kaldi text, .trn, JSONL without paths, unreadable).

    A relative ``path`` is relative to the folder the evaluation ran in; one that does not exist
    from here but does from the file's own folder is taken from there. Lenient on purpose: the
    scored texts are read (strictly) by ``ctc.metrics.transcripts``; these rows only add the
    players and spans of the page.
    """
    rows = []
    base = Path(path).parent
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for line in handle:
                if not line.strip():
                    continue
                if not line.lstrip().startswith("{"):
                    return []
                row = json.loads(line)
                if isinstance(row, dict) and row.get("path"):
                    source = str(row["path"])
                    if not os.path.isabs(source) and not os.path.exists(source) \
                            and (base / source).exists():
                        row["path"] = str(base / source)
                    rows.append(row)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []
    return rows


def _speaker_columns(speakers: Sequence[str | None]) -> tuple[list[str], list[int] | None]:
    names = sorted({str(s) for s in speakers if s})
    if not names:
        return [], None
    index = {n: k for k, n in enumerate(names)}
    return names, [index[str(s)] if s else -1 for s in speakers]


def page_data(*, title: str, ids: Sequence[str], refs: Sequence[str],
              speakers: Sequence[str | None], systems: Sequence[SystemRows],
              units: Sequence[str], media: Mapping[str, Mapping[str, Any]] | None = None,
              media_per_system: Sequence[Mapping[str, Mapping[str, Any]] | None] | None = None,
              row_label: str = "utterances") -> dict[str, Any]:
    """The page's JSON data (layout in the module docstring).

    ``media``: ``media_from_hypotheses`` of the rows (source and spans of the first system);
    ``media_per_system``: one such mapping per system instead (compare pages).
    """
    n = len(ids)
    refs = [collapse(r) for r in refs]
    names, spk = _speaker_columns(speakers)
    per_system = list(media_per_system) if media_per_system is not None else [media]
    per_system += [None] * (len(systems) - len(per_system))
    data: dict[str, Any] = {
        "version": 1, "title": title, "units": list(units), "rowLabel": row_label,
        "speakerLabel": "writer" if any(m and next(iter(m.values()), {}).get("kind") == "image"
                                        for m in per_system) else "speaker",
        "ids": list(ids), "ref": refs, "speakers": names, "spk": spk,
        "len": {u: systems[0].scores[u].per.ref_length.tolist() for u in units},
        "systems": [], "confusions": [], "media": None}
    conf_index: dict[tuple, int] = {}
    for s, system in enumerate(systems):
        for unit in units:
            top = system.confusions.get(METRIC_OF_UNIT[unit], {})
            for r, h, count in top.get("substitutions", []):
                conf_index[(s, unit, "S", r, h)] = len(data["confusions"])
                data["confusions"].append([s, unit, "S", r, h, count])
            for kind, op in (("deletions", "D"), ("insertions", "I")):
                for w, count in top.get(kind, []):
                    key = (s, unit, op, w, None) if op == "D" else (s, unit, op, None, w)
                    conf_index[key] = len(data["confusions"])
                    data["confusions"].append([s, unit, op, w if op == "D" else None,
                                               w if op == "I" else None, count])
    row_conf: list[set[int] | None] = [None] * n
    for s, system in enumerate(systems):
        entry: dict[str, Any] = {"name": system.name, "err": {}, "ops": {}}
        for unit in units:
            scores = system.scores[unit]
            errors = scores.per.errors.tolist()
            codes = []
            for i, (alignment, e) in enumerate(zip(scores.alignments, errors)):
                if not e:
                    codes.append("")
                    continue
                ops = "".join(map(_op_of, alignment))
                codes.append(compress_ops(ops))
                for m in _ERROR_OP.finditer(ops):
                    op, r, h = alignment[m.start()]
                    k = conf_index.get((s, unit, op, r if op != "I" else None,
                                        h if op != "D" else None))
                    if k is not None:
                        row_conf[i] = (row_conf[i] or set()) | {k}
                if unit == "word":
                    entry.setdefault("hw", [0] * n)[i] = _added_words(alignment, ops) or 0
            entry["err"][unit] = errors
            entry["ops"][unit] = codes
        if "word" in units:
            entry.setdefault("hw", [0] * n)
        else:
            entry["hyp"] = [collapse(h) for h in system.hyps]
        data["systems"].append(entry)
    data["conf"] = [sorted(c) if c else 0 for c in row_conf]
    if any(per_system):
        kinds = {m["kind"] for ms in per_system if ms for m in ms.values()}
        kind = "image" if kinds == {"image"} else "audio"
        first = next(ms for ms in per_system if ms)
        rows = [first.get(i) for i in ids]
        scale = 1000 if kind == "audio" else 1
        data["media"] = {
            "kind": kind, "scale": scale, "src": [m["src"] if m else None for m in rows],
            "extent": [m["extent"] if m else None for m in rows],
            "spans": [[encode_spans((ms.get(i) or {}).get("spans") or (), scale,
                                    system.hyps[k] if kind == "audio" else None)
                       for k, i in enumerate(ids)] if ms else None
                      for ms, system in zip(per_system, systems)]}
    return data


def encode_spans(spans: Sequence[Sequence[Any]], scale: float, hyp: str | None = None) -> str:
    """One row's spans as one string (parsed by the page only when the row is shown): lines
    ``text TAB start TAB end TAB confidence``, positions times ``scale`` rounded to integers
    (milliseconds for audio) or to 0.1, confidence in percent (empty when unknown). When the
    texts are the words of ``hyp`` they are left out (the page takes them from there)."""
    if not spans:
        return ""
    same = hyp is not None and [str(x[0]) for x in spans] == collapse(hyp).split()

    def number(x: float) -> str:
        v = x * scale
        return str(round(v)) if scale != 1 else f"{v:.1f}".rstrip("0").rstrip(".")

    return "\n".join(f"{'' if same else x[0]}\t{number(x[1])}\t{number(x[2])}\t"
                     f"{'' if x[3] is None else round(100 * x[3])}" for x in spans)


def _json_for_script(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: every ``<`` escaped, so no
    ``</script>`` or ``<!--`` can end or confuse the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c")


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _pct(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.{digits}f}"


def _unit_label(token: str | None) -> str:
    return "␣" if token == " " else _esc(token)


def _metrics_table(summary: Mapping[str, Any], units: Sequence[str]) -> str:
    rows = []
    for unit in units:
        m = summary[METRIC_OF_UNIT[unit]]
        rows.append(f"<tr><td>{METRIC_OF_UNIT[unit].upper()}</td>"
                    f"<td class='n big'>{_pct(m['rate'])}</td>"
                    f"<td class='n'>{_pct(m['ci95']['low'])}&ndash;{_pct(m['ci95']['high'])}</td>"
                    f"<td class='n'>{m['errors']}</td><td class='n'>{m['substitutions']}</td>"
                    f"<td class='n'>{m['deletions']}</td><td class='n'>{m['insertions']}</td>"
                    f"<td class='n'>{m['ref_length']}</td>"
                    f"<td class='n'>{_pct(m['sentence_error_rate'], 1)}</td></tr>")
    return ("<table class='metrics'><thead><tr><th>metric</th><th class='n'>rate %</th>"
            "<th class='n'>95% CI %</th><th class='n'>errors</th><th class='n'>sub</th>"
            "<th class='n'>del</th><th class='n'>ins</th><th class='n'>ref units</th>"
            "<th class='n'>utt. with errors %</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


def _speaker_tables(summary: Mapping[str, Any], units: Sequence[str], label: str) -> str:
    parts = []
    for unit in units:
        rows = summary.get("by_speaker", {}).get(METRIC_OF_UNIT[unit], [])
        if not rows:
            continue
        body = "".join(
            f"<tr><td><a href='#utterances' data-speaker='{_esc(r['speaker'])}'>"
            f"{_esc(r['speaker'])}</a></td><td class='n'>{r['snt']}</td><td class='n'>{r['wrd']}"
            f"</td><td class='n'>{r['corr']:.1f}</td><td class='n'>{r['sub']:.1f}</td>"
            f"<td class='n'>{r['del']:.1f}</td><td class='n'>{r['ins']:.1f}</td>"
            f"<td class='n'><b>{r['err']:.1f}</b></td><td class='n'>{r['s_err']:.1f}</td></tr>"
            for r in rows)
        table = (f"<table><thead><tr><th>{_esc(label)}</th><th class='n'># snt</th>"
                 f"<th class='n'># {unit}s</th><th class='n'>corr %</th><th class='n'>sub %</th>"
                 "<th class='n'>del %</th><th class='n'>ins %</th><th class='n'>err %</th>"
                 f"<th class='n'>s.err %</th></tr></thead><tbody>{body}</tbody></table>")
        title = f"By {label} ({METRIC_OF_UNIT[unit].upper()}, {len(rows)} {label}s)"
        parts.append(f"<div><details{' open' if len(rows) <= 30 else ''}><summary>"
                     f"{_esc(title)}</summary>{table}</details></div>")
    return f"<div class='grid'>{''.join(parts)}</div>" if parts else ""


def _confusion_lists(data: Mapping[str, Any], system: int, units: Sequence[str]) -> str:
    blocks = []
    for unit in units:
        lists = []
        for op, kind in _KIND_OF_OP.items():
            items = [(k, c) for k, c in enumerate(data["confusions"])
                     if c[0] == system and c[1] == unit and c[2] == op]
            if not items:
                continue
            entries = "".join(
                f"<li><a href='#utterances' data-confusion='{k}'>"
                + (f"{_unit_label(c[3])} → {_unit_label(c[4])}" if op == "S"
                   else _unit_label(c[3] if op == "D" else c[4])) + f"</a> ({c[5]})</li>"
                for k, c in items[:10])
            lists.append(f"<div><h3>{unit} {kind}</h3><ol>{entries}</ol></div>")
        if lists:
            blocks.append("".join(lists))
    if not blocks:
        return ""
    return ("<h2>Most frequent errors</h2><p class='note'>Click one to list the utterances that "
            "hold it.</p><div class='grid conf'>" + "".join(blocks) + "</div>")


def _plots(out_dir: Path, files: Sequence[str]) -> str:
    images = []
    for name in files:
        if not name.endswith(".png") or not (out_dir / name).is_file():
            continue
        data = base64.b64encode((out_dir / name).read_bytes()).decode("ascii")
        images.append(f"<img src='data:image/png;base64,{data}' alt='{_esc(name)}' "
                      f"title='{_esc(name)}'>")
    if not images:
        return ""
    return ("<details open id='plots'><summary><h2>Plots</h2></summary><div class='plots'>"
            + "".join(images) + "</div></details>")


def _settings(extra: Mapping[str, Any]) -> str:
    if not extra:
        return ""
    items = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(json.dumps(v, ensure_ascii=False))}</dd>"
                    for k, v in extra.items())
    return f"<details><summary>Settings</summary><dl class='settings'>{items}</dl></details>"


_LEGEND = ("<p class='legend note'>Alignments: reference above hypothesis; "
           "<span class='t S'><b>sub</b></span> substitution, "
           "<span class='t D'><b>del</b></span> deletion, "
           "<span class='t I'><b>ins</b></span> insertion.</p>")


def _summary_html(summary: Mapping[str, Any], data: Mapping[str, Any],
                  units: Sequence[str], out_dir: Path) -> str:
    ci = next((summary[METRIC_OF_UNIT[u]]["ci95"] for u in units), {})
    parts = [_metrics_table(summary, units),
             f"<p class='note'>95% intervals: percentile bootstrap over utterances "
             f"({ci.get('samples')} replicates, seed {ci.get('seed')}). Normalisation (both "
             f"sides): {_esc(summary['normalization']['description'])}.</p>",
             _speaker_tables(summary, units, data["speakerLabel"]),
             _confusion_lists(data, 0, units),
             _plots(out_dir, summary.get("files", [])),
             _settings(summary.get("extra") or {}), _LEGEND]
    return "\n".join(p for p in parts if p)


def _comparison_html(comparison: Mapping[str, Any], summaries: Sequence[Mapping[str, Any]],
                     names: Sequence[str], data: Mapping[str, Any], units: Sequence[str],
                     links: Sequence[str | None]) -> str:
    a, b = (_esc(n) for n in names)
    rows = []
    for unit in units:
        metric = METRIC_OF_UNIT[unit]
        c = comparison[metric]
        sa, sb = (s[metric] for s in summaries)
        cls = "better" if c["delta_high"] < 0 else "worse" if c["delta_low"] > 0 else ""
        rows.append(
            f"<tr><td>{metric.upper()}</td>"
            f"<td class='n'>{_pct(c['rate_a'])} <small>[{_pct(sa['ci95']['low'])}&ndash;"
            f"{_pct(sa['ci95']['high'])}]</small></td>"
            f"<td class='n'>{_pct(c['rate_b'])} <small>[{_pct(sb['ci95']['low'])}&ndash;"
            f"{_pct(sb['ci95']['high'])}]</small></td>"
            f"<td class='n {cls}'>{100 * c['delta']:+.2f}</td>"
            f"<td class='n'>[{100 * c['delta_low']:+.2f}, {100 * c['delta_high']:+.2f}]</td>"
            f"<td class='n'>{c['prob_b_better']:.3f}</td>"
            f"<td class='n'>{c['utterances_b_better']}</td>"
            f"<td class='n'>{c['utterances_a_better']}</td></tr>")
    first = next(comparison[METRIC_OF_UNIT[u]] for u in units)
    table = (f"<table class='metrics'><thead><tr><th>metric</th><th class='n'>{a} % [95% CI]</th>"
             f"<th class='n'>{b} % [95% CI]</th><th class='n'>change (abs)</th>"
             f"<th class='n'>95% CI of change</th><th class='n'>P({b} better)</th>"
             f"<th class='n'>utt. {b} better</th><th class='n'>utt. {a} better</th></tr>"
             f"</thead><tbody>{''.join(rows)}</tbody></table>")
    note = (f"<p class='note'>Paired bootstrap over utterances (Bisani &amp; Ney 2004): "
            f"{first['samples']} replicates, seed {first['seed']}; both systems are scored on "
            f"the same resampled utterances. P({b} better) is the fraction of replicates where "
            f"{b} makes fewer errors. Normalisation: "
            f"{_esc(comparison['normalization']['description'])}.</p>")
    full = [f"<a href='{_esc(link)}'>{_esc(name)}</a>" for name, link in zip(names, links)
            if link]
    parts = [table, note]
    if full:
        parts.append(f"<p>Full reports: {', '.join(full)}.</p>")
    for s, name in enumerate(names):
        block = _confusion_lists(data, s, units)
        if block:
            parts.append(block.replace("<h2>Most frequent errors</h2>",
                                       f"<h2>Most frequent errors of {_esc(name)}</h2>", 1))
    parts.append(_LEGEND)
    return "\n".join(parts)


def render_page(data: Mapping[str, Any], summary_html: str, *, title: str, subtitle: str,
                rows_heading: str) -> str:
    """The whole page: template, CSS, summary, data and script in one string."""
    values = {"TITLE": _esc(title), "SUBTITLE": subtitle, "SUMMARY": summary_html,
              "ROWS_HEADING": _esc(rows_heading), "DATA": _json_for_script(data),
              "CSS": (ASSETS / "report.css").read_text(encoding="utf-8"),
              "JS": (ASSETS / "report.js").read_text(encoding="utf-8")}
    template = (ASSETS / "report.html").read_text(encoding="utf-8")
    return _MARKER.sub(lambda m: values[m.group(1)], template)


def write_index(out_dir: str | Path, summary: Mapping[str, Any], results: Sequence[Any],
                scores: Mapping[str, Any], refs: Sequence[str], hyps: Sequence[str], *,
                hypotheses: Iterable[Mapping[str, Any]] | None = None) -> Path:
    """Write ``index.html`` for one system's report (atomically); its path.

    ``results``: the ``ScoredUtterance`` list; ``scores``: unit -> ``UnitScores``; ``refs``,
    ``hyps``: the normalised texts that were scored; ``hypotheses``: the evaluation's
    ``hypotheses.jsonl`` rows (source paths, word and token spans) to show audio or images.
    """
    out = Path(out_dir)
    units = list(scores)
    media = media_from_hypotheses(hypotheses, out) if hypotheses is not None else None
    label = "lines" if media and next(iter(media.values()))["kind"] == "image" else "utterances"
    data = page_data(title=summary["title"], ids=[r.id for r in results], refs=refs,
                     speakers=[r.speaker for r in results],
                     systems=[SystemRows("hypothesis", hyps, scores, summary["confusions"])],
                     units=units, media=media or None, row_label=label)
    subtitle = (f"{len(results):,} {label} (<a href='#utterances'>the table</a>). Also here: "
                "<a href='report.md'>report.md</a>, "
                "<a href='alignments.txt'>alignments.txt</a>, "
                "<a href='report.json'>report.json</a>.")
    page = render_page(data, _summary_html(summary, data, units, out), title=summary["title"],
                       subtitle=subtitle, rows_heading=label.capitalize())
    atomic_write_text(out / PAGE, page)
    return out / PAGE


def write_comparison_index(out_dir: str | Path, comparison: Mapping[str, Any], *,
                           ids: Sequence[str], refs: Sequence[str],
                           speakers: Sequence[str | None], systems: Sequence[SystemRows],
                           summaries: Sequence[Mapping[str, Any]],
                           hypotheses: Sequence[Iterable[Mapping[str, Any]] | None] = (),
                           links: Sequence[str | None] = ()) -> Path:
    """Write the compare page ``index.html`` (two systems side by side, the per-utterance
    difference, the paired bootstrap); its path.

    ``systems``: the two systems' rows (normalised hypotheses, per-unit scores, top
    confusions); ``summaries``: their report summaries (for the intervals); ``hypotheses``: per
    system, its ``hypotheses.jsonl`` rows or None; ``links``: per system, the relative URL of
    its own report page or None.
    """
    out = Path(out_dir)
    units = list(systems[0].scores)
    media = [media_from_hypotheses(h, out) if h else None for h in hypotheses] or None
    names = [s.name for s in systems]
    data = page_data(title=f"{names[1]} against {names[0]}", ids=ids, refs=refs,
                     speakers=speakers, systems=systems, units=units, media_per_system=media)
    title = f"{names[1]} against {names[0]}"
    subtitle = (f"{len(ids):,} utterances (<a href='#utterances'>the table</a>). Also here: "
                "<a href='comparison.md'>comparison.md</a>, "
                "<a href='comparison.json'>comparison.json</a>.")
    summary = _comparison_html(comparison, summaries, names, data, units,
                               list(links) or [None] * len(names))
    atomic_write_text(out / PAGE, render_page(data, summary, title=title, subtitle=subtitle,
                                              rows_heading="Utterances, side by side"))
    return out / PAGE
