"""Evaluation reports: scores plus the files a researcher reads after an evaluation.

``write_report`` is the entry point the ``evaluate`` commands and ``ctc score`` call. Output in
``out_dir`` (every file written atomically):

- ``report.json``: the summary dict (machine-readable; non-finite numbers become null);
- ``report.md``: the same for humans: rates with 95% bootstrap intervals, errors by length and by
  speaker, top confusions, the worst utterances with their alignments, the plots;
- ``alignments.txt``: sclite-like REF/HYP/EVAL rows for every utterance;
- ``wer_by_length.png``, ``wer_confusions.png`` (``cer_confusions.png``), ``posteriorgram.png``;
- ``index.html``: one self-contained page (``ctc.metrics.html_report``): the summary, the plots and
  every utterance in a sortable, filterable table of aligned texts, with its audio or line image
  when ``hypotheses`` rows are given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ctc.io import atomic_open, atomic_write_text
from ctc.metrics.alignment import SPACE_MARK, Confusions, align, format_alignment
from ctc.metrics.bootstrap import bootstrap_interval
from ctc.metrics.breakdown import by_length, by_speaker
from ctc.metrics.errors import METRIC_OF_UNIT, UtteranceErrors, utterance_errors
from ctc.metrics.errors import units as split_units
from ctc.metrics.html_report import PAGE, write_index
from ctc.metrics.normalize import TextNormalizer
from ctc.metrics.scripts import report_section


@dataclass(frozen=True)
class ScoredUtterance:
    """One evaluated utterance or line: reference and hypothesis text, speaker/writer if known."""

    id: str
    ref: str
    hyp: str
    speaker: str | None = None


@dataclass
class UnitScores:
    """Everything computed for one scoring unit over the whole set."""

    unit: str
    per: UtteranceErrors
    alignments: list[list[tuple[str, str | None, str | None]]]
    confusions: Confusions


def score_unit(refs: Sequence[str], hyps: Sequence[str], unit: str) -> UnitScores:
    """Per-utterance counts, alignments and confusion counts for ``unit`` ("word" or "char")."""
    per = utterance_errors(refs, hyps, unit)
    confusions = Confusions()
    alignments = []
    for ref, hyp, n_err in zip(refs, hyps, per.errors):
        r = split_units(ref, unit)
        if n_err == 0:
            alignments.append([("C", x, x) for x in r])
            continue
        a = align(r, split_units(hyp, unit))
        confusions.add(a)
        alignments.append(a)
    return UnitScores(unit, per, alignments, confusions)


def unit_summary(per: UtteranceErrors, *, samples: int, seed: int) -> dict[str, Any]:
    """Corpus counts, rate, sentence error rate and bootstrap interval of one unit."""
    t = per.total()
    ci = bootstrap_interval(per.errors, per.ref_length, samples=samples, seed=seed)
    return {"rate": t.rate, "errors": t.errors, "substitutions": t.substitutions,
            "deletions": t.deletions, "insertions": t.insertions, "hits": t.hits,
            "ref_length": t.ref_length, "sentences": t.sentences,
            "sentence_errors": t.sentence_errors, "sentence_error_rate": t.sentence_error_rate,
            "ci95": {"low": ci.low, "high": ci.high, "std": ci.std, "samples": ci.samples,
                     "seed": ci.seed}}


def _finite(obj: Any) -> Any:
    """``obj`` with inf/nan floats replaced by None, so the JSON is standard."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _cell(token: str) -> str:
    """A unit as a Markdown table cell: code span, space shown as ␣, pipes escaped."""
    return "`" + (SPACE_MARK if token == " " else token).replace("|", "\\|") + "`"


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.2f}"


def _worst(results: Sequence[ScoredUtterance], scores: UnitScores, n: int) -> list[dict]:
    errors, length = scores.per.errors, scores.per.ref_length
    rate = errors / np.maximum(length, 1)
    order = np.lexsort((-rate, -errors))  # most errors first, then highest rate
    rows = []
    for i in order[:n]:
        if errors[i] == 0:
            break
        rows.append({"id": results[i].id, "errors": int(errors[i]),
                     "ref_length": int(length[i]), "rate": float(rate[i]),
                     "speaker": results[i].speaker, "index": int(i)})
    return rows


def _write_alignments(path: Path, results: Sequence[ScoredUtterance],
                      scores: dict[str, UnitScores]) -> None:
    with atomic_open(path, "w", encoding="utf-8") as out:
        for i, r in enumerate(results):
            speaker = f"  speaker: {r.speaker}" if r.speaker else ""
            out.write(f"id: {r.id}{speaker}\n")
            for unit, s in scores.items():
                block = format_alignment(r.id, s.alignments[i], unit).split("\n", 1)[1]
                out.write(f"{METRIC_OF_UNIT[unit].upper()} {block}")
            out.write("\n")


def _markdown(summary: dict[str, Any], results: Sequence[ScoredUtterance],
              scores: dict[str, UnitScores]) -> str:
    lines = [f"# {summary['title']}", "",
             f"{summary['utterances']} utterances. Normalisation (both sides): "
             f"{summary['normalization']['description']}.", "",
             "| metric | rate % | 95% CI % | errors | sub | del | ins | ref units | "
             "utt. with errors % |", "|---|---|---|---|---|---|---|---|---|"]
    for unit in scores:
        m = summary[METRIC_OF_UNIT[unit]]
        lines.append(f"| {METRIC_OF_UNIT[unit].upper()} | {_pct(m['rate'])} | "
                     f"{_pct(m['ci95']['low'])}-{_pct(m['ci95']['high'])} | {m['errors']} | "
                     f"{m['substitutions']} | {m['deletions']} | {m['insertions']} | "
                     f"{m['ref_length']} | {_pct(m['sentence_error_rate'])} |")
    samples = next(iter(summary[METRIC_OF_UNIT[u]]["ci95"] for u in scores), {})
    lines += ["", f"Intervals: percentile bootstrap over utterances ({samples.get('samples')} "
              f"replicates, seed {samples.get('seed')}; Bisani & Ney 2004).", ""]

    for unit in scores:
        name = METRIC_OF_UNIT[unit].upper()
        lines += [f"## {name} by reference length", "",
                  f"| length ({unit}s) | utterances | ref {unit}s | errors | {name} % |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['label']} | {r['utterances']} | {r['ref_length']} | {r['errors']} | "
                  f"{r['rate']:.2f} |" for r in summary["by_length"][METRIC_OF_UNIT[unit]]]
        lines.append("")
    if "wer_by_length.png" in summary["files"]:
        lines += ["![error rate by length](wer_by_length.png)", ""]

    for unit in scores:
        rows = summary["by_speaker"].get(METRIC_OF_UNIT[unit], [])
        if not rows:
            continue
        lines += [f"## By speaker ({unit}s)", "",
                  "| SPKR | # Snt | # Wrd | Corr | Sub | Del | Ins | Err | S.Err |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['speaker']} | {r['snt']} | {r['wrd']} | {r['corr']:.1f} | "
                  f"{r['sub']:.1f} | {r['del']:.1f} | {r['ins']:.1f} | {r['err']:.1f} | "
                  f"{r['s_err']:.1f} |" for r in rows]
        lines.append("")

    for unit in scores:
        metric = METRIC_OF_UNIT[unit]
        conf = summary["confusions"][metric]
        lines += [f"## Most frequent {unit} errors", "", "| substitution (ref → hyp) | count |",
                  "|---|---|"]
        lines += [f"| {_cell(r)} → {_cell(h)} | {k} |" for r, h, k in conf["substitutions"]]
        for kind in ("deletions", "insertions"):
            lines += ["", f"| {kind[:-1]} | count |", "|---|---|"]
            lines += [f"| {_cell(w)} | {k} |" for w, k in conf[kind]]
        lines.append("")
        if f"{metric}_confusions.png" in summary["files"]:
            lines += [f"![{unit} confusions]({metric}_confusions.png)", ""]

    primary = next(iter(scores))
    lines += [f"## Worst utterances (by {primary} errors)", ""]
    for w in summary["worst"]:
        block = format_alignment(w["id"], scores[primary].alignments[w["index"]], primary)
        lines += [f"**{w['id']}**: {w['errors']} errors / {w['ref_length']} {primary}s",
                  "", "```", block.rstrip("\n"), "```", ""]
    if "posteriorgram.png" in summary["files"]:
        lines += ["## Posteriorgram", "", f"Utterance `{summary['posteriorgram']}`.", "",
                  "![posteriorgram](posteriorgram.png)", ""]
    if summary["extra"]:
        lines += ["## Settings", ""]
        lines += [f"- {k}: `{json.dumps(v, ensure_ascii=False)}`"
                  for k, v in summary["extra"].items()]
        lines.append("")
    lines.append("Per-utterance alignments: [alignments.txt](alignments.txt).")
    if "index.html" in summary["files"]:
        lines.append("Interactive page (sort, filter, listen, look): [index.html](index.html).")
    return "\n".join(lines) + "\n"


def _calibration_markdown(calibration: Mapping[str, Any], plot: bool) -> str:
    """The report.md section on word-confidence calibration (``ctc.metrics.calibration``)."""
    if not calibration["words"]:
        return ""
    lines = ["", "## Word confidence calibration", "",
             f"{calibration['words']} hypothesis words; a word is correct when the alignment "
             "pairs it with an equal reference word.", "",
             "| ECE % | MCE % | NCE | Brier | accuracy % | mean confidence % |",
             "|---|---|---|---|---|---|",
             f"| {_pct(calibration['ece'])} | {_pct(calibration['mce'])} | "
             f"{calibration['nce'] if calibration['nce'] is not None else 'n/a'} | "
             f"{calibration['brier']} | {_pct(calibration['accuracy'])} | "
             f"{_pct(calibration['mean_confidence'])} |", ""]
    if plot:
        lines += ["![reliability](reliability.png)", ""]
    return "\n".join(lines)


def summarize(results: Sequence[ScoredUtterance], *, title: str,
              extra: dict[str, Any] | None = None, normalizer: TextNormalizer | None = None,
              units: Sequence[str] = ("word", "char"), bootstrap_samples: int = 1000,
              seed: int = 0, worst: int = 10, top: int = 20
              ) -> tuple[dict[str, Any], dict[str, UnitScores]]:
    """Score ``results`` without writing anything: the summary dict of ``write_report`` and the
    per-unit scores (alignments included) it is built from. Arguments as in ``write_report``.
    """
    unknown = [u for u in units if u not in METRIC_OF_UNIT]
    if unknown or not units:
        raise ValueError(f"units must be a non-empty subset of word, char; got {list(units)}")
    normalizer = normalizer or TextNormalizer()
    refs = [normalizer(r.ref) for r in results]
    hyps = [normalizer(r.hyp) for r in results]
    scores = {unit: score_unit(refs, hyps, unit) for unit in dict.fromkeys(units)}
    speakers = [r.speaker for r in results]

    summary: dict[str, Any] = {"title": title, "utterances": len(results),
                               "normalization": normalizer.to_dict()}
    for unit, s in scores.items():
        summary[METRIC_OF_UNIT[unit]] = unit_summary(s.per, samples=bootstrap_samples, seed=seed)
    summary["by_length"] = {METRIC_OF_UNIT[u]: by_length(s.per) for u, s in scores.items()}
    summary["by_speaker"] = {METRIC_OF_UNIT[u]: by_speaker(s.per, speakers)
                             for u, s in scores.items()}
    summary["confusions"] = {METRIC_OF_UNIT[u]: s.confusions.top(top) for u, s in scores.items()}
    primary = next(iter(scores))
    summary["worst"] = _worst(results, scores[primary], worst)
    for w in summary["worst"]:
        w["ref"], w["hyp"] = refs[w["index"]], hyps[w["index"]]
    summary["extra"] = extra or {}

    return summary, scores


def write_report(results: Sequence[ScoredUtterance], out_dir: str | Path, *, title: str,
                 extra: dict[str, Any] | None = None,
                 normalizer: TextNormalizer | None = None,
                 units: Sequence[str] = ("word", "char"),
                 posteriorgram: tuple | None = None,
                 bootstrap_samples: int = 1000, seed: int = 0,
                 worst: int = 10, top: int = 20, plots: bool = True,
                 hypotheses: Iterable[Mapping[str, Any]] | None = None,
                 html: bool = True) -> dict[str, Any]:
    """Score ``results`` (WER and CER), write the report files, return the summary dict.

    Args:
        extra: model, decoder settings, timings: stored verbatim in the summary.
        normalizer: applied to references and hypotheses before scoring (default: collapse
            whitespace only); stated in the report.
        units: which of "word" (WER) and "char" (CER) to score; the first is the primary one
            (worst-utterance ranking).
        posteriorgram: ``(utt_id, log_probs (T, V), symbols)`` or with a fourth element, the
            decoded ``(token, frame)`` pairs, to draw ``posteriorgram.png``.
        bootstrap_samples, seed: bootstrap replicates for the 95% intervals, and their seed.
        worst, top: how many worst utterances and confusion pairs to list.
        plots: write the PNG figures (matplotlib).
        hypotheses: the ``hypotheses.jsonl`` rows of an evaluation (``path``, ``unit``,
            ``extent``, ``words``, ``tokens`` by ``id``): the page plays each utterance's audio
            with its word times, or shows each line image with its characters' x-ranges.
            With word confidences in them, the report also measures their calibration
            (``summary["calibration"]``: ECE, MCE, NCE, Brier score, bins; ``reliability.png``).
        html: write ``index.html``.
    Returns:
        the summary: ``summary["wer"]["rate"]``, ``summary["cer"]["rate"]`` (fractions), counts,
        ``ci95``, ``by_length``, ``by_speaker``, ``confusions``, ``worst``, ``files``, ``extra``.
    """
    summary, scores = summarize(results, title=title, extra=extra, normalizer=normalizer,
                                units=units, bootstrap_samples=bootstrap_samples, seed=seed,
                                worst=worst, top=top)
    out = Path(out_dir)
    files = ["report.json", "report.md", "alignments.txt"]
    _write_alignments(out / "alignments.txt", results, scores)
    if plots:
        from ctc.metrics import plots as figures

        figures.plot_rate_by_length({METRIC_OF_UNIT[u].upper(): summary["by_length"][
            METRIC_OF_UNIT[u]] for u in scores}, out / "wer_by_length.png")
        files.append("wer_by_length.png")
        for unit in scores:
            metric = METRIC_OF_UNIT[unit]
            figures.plot_confusions(summary["confusions"][metric]["substitutions"],
                                    out / f"{metric}_confusions.png",
                                    title=f"most frequent {unit} substitutions")
            files.append(f"{metric}_confusions.png")
        if posteriorgram is not None:
            utt_id, log_probs, symbols, *path = posteriorgram
            figures.plot_posteriorgram(log_probs, symbols, out / "posteriorgram.png",
                                       path[0] if path else None,
                                       title=f"{utt_id}: posteriorgram and decoded path")
            summary["posteriorgram"] = utt_id
            files.append("posteriorgram.png")
    rows = list(hypotheses) if hypotheses is not None else None
    calibration_md = ""
    if rows and any(w.get("confidence") is not None for r in rows for w in r.get("words", [])):
        from ctc.metrics.calibration import plot_reliability, word_calibration

        summary["calibration"] = calibration = word_calibration(rows)
        if plots and calibration["words"]:
            plot_reliability(calibration, out / "reliability.png")
            files.append("reliability.png")
        calibration_md = _calibration_markdown(calibration, "reliability.png" in files)
    if html:
        files.append(PAGE)
    summary["files"] = files
    if html:
        norm = normalizer or TextNormalizer()
        write_index(out, summary, results, scores, [norm(r.ref) for r in results],
                    [norm(r.hyp) for r in results], hypotheses=rows)
    scripts_md = ""
    if "char" in scores:  # character accuracy by script and category, top confusions
        summary["scripts"], scripts_md = report_section(results, normalizer, top)
    atomic_write_text(out / "report.md",
                      _markdown(summary, results, scores) + calibration_md + scripts_md)
    atomic_write_text(out / "report.json",
                      json.dumps(_finite(summary), indent=2, ensure_ascii=False))
    return summary
