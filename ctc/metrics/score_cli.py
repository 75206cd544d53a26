"""``ctc score``: WER/CER of hypothesis files against references, with a full report.

    ctc score --ref REF --hyp HYP [--unit word|char|both] [--normalize lower,punct] --report DIR
    ctc score --ref REF --compare A B --report DIR      (paired bootstrap: is B better than A?)
    ctc score --hyp hyps.jsonl                          (JSONL records carrying "ref" and "hyp")

Inputs are Kaldi ``id text`` files, JSONL or sclite ``.trn`` (see ``ctc.metrics.transcripts``).
Every report folder gets ``index.html`` (``ctc.metrics.html_report``); an evaluation's
``hypotheses.jsonl`` brings its audio or line images into the page, and ``--compare`` writes a
page with both systems side by side.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctc.errors import InputError, cli_entry
from ctc.metrics.compare import compare_systems, describe_comparison, write_comparison
from ctc.metrics.errors import METRIC_OF_UNIT
from ctc.metrics.html_report import (
    SystemRows,
    read_evaluation_rows,
    source_url,
    write_comparison_index,
)
from ctc.metrics.normalize import OPTION_NAMES, TextNormalizer
from ctc.metrics.report import ScoredUtterance, score_unit, summarize, write_report
from ctc.metrics.transcripts import Transcript, read_transcripts, read_utt2spk

UNIT_CHOICES = {"word": ("word",), "char": ("char",), "both": ("word", "char")}
_SHOWN_IDS = 5


@dataclass
class ScoreConfig:
    """Options of ``ctc score`` (see ``get_args`` for their meaning)."""

    hyps: list[Path]
    ref: Path | None = None
    unit: str = "both"
    normalize: list[str] = field(default_factory=list)
    report: Path | None = None
    intersection: bool = False
    utt2spk: Path | None = None
    bootstrap: int = 1000
    seed: int = 0
    title: str | None = None


def _show(ids: list[str]) -> str:
    more = f", ... ({len(ids) - _SHOWN_IDS} more)" if len(ids) > _SHOWN_IDS else ""
    return ", ".join(ids[:_SHOWN_IDS]) + more


def common_ids(ref_path: Path, ref_ids: list[str], hyps: dict[Path, dict[str, Transcript]],
               intersection: bool) -> list[str]:
    """Reference ids (in reference order) to score; InputError naming files and ids on mismatch.

    With ``intersection`` the ids missing anywhere are dropped (a note goes to stderr).
    """
    keep = set(ref_ids)
    problems = []
    for path, transcripts in hyps.items():
        missing = [i for i in ref_ids if i not in transcripts]
        extra = [i for i in transcripts if i not in set(ref_ids)]
        if missing:
            problems.append(f"{len(missing)} id(s) of {ref_path} missing from {path} "
                            f"({_show(missing)})")
        if extra:
            problems.append(f"{len(extra)} id(s) of {path} not in {ref_path} ({_show(extra)})")
        keep &= set(transcripts)
    ids = [i for i in ref_ids if i in keep]
    if problems and not intersection:
        raise InputError("; ".join(problems) + f"; pass --intersection to score the {len(ids)} "
                         "common ids")
    if not ids:
        raise InputError(f"no id is shared by {ref_path} and {', '.join(map(str, hyps))}")
    if problems:
        print(f"ctc score: note: scoring the {len(ids)} common ids; " + "; ".join(problems),
              file=sys.stderr)
    return ids


def _references(cfg: ScoreConfig, first: dict[str, Transcript]) -> tuple[Path, dict[str, str],
                                                                         dict[str, str | None]]:
    """(reference source, id -> reference text, id -> speaker from the reference file)."""
    if cfg.ref is not None:
        refs = read_transcripts(cfg.ref, role="ref")
        speakers = {i: t.speaker for i, t in refs.items()}
        return cfg.ref, {i: t.text for i, t in refs.items()}, speakers
    no_ref = [i for i, t in first.items() if t.ref is None]
    if no_ref:
        raise InputError(f"{cfg.hyps[0]}: no --ref given and {len(no_ref)} record(s) have no "
                         f"'ref' field ({_show(no_ref)})")
    return cfg.hyps[0], {i: t.ref for i, t in first.items()}, {}


def _results(ids: list[str], refs: dict[str, str], hyps: dict[str, Transcript],
             speakers: dict[str, str | None]) -> list[ScoredUtterance]:
    return [ScoredUtterance(i, refs[i], hyps[i].text, speakers.get(i) or hyps[i].speaker)
            for i in ids]


def _summary_line(summary: dict[str, Any], units: tuple[str, ...]) -> str:
    parts = []
    for unit in units:
        m = summary[METRIC_OF_UNIT[unit]]
        parts.append(f"{METRIC_OF_UNIT[unit].upper()} {100 * m['rate']:.2f}% "
                     f"[95% CI {100 * m['ci95']['low']:.2f}-{100 * m['ci95']['high']:.2f}] "
                     f"(S={m['substitutions']} D={m['deletions']} I={m['insertions']} "
                     f"N={m['ref_length']}, SER {100 * m['sentence_error_rate']:.1f}%)")
    return "  ".join(parts) + f"  on {summary['utterances']} utterances"


def _system_names(paths: list[Path]) -> list[str]:
    """Short distinct names: the file stems, else their folders' names (two evaluations'
    ``hypotheses.jsonl``), else the stems with ``_a`` and ``_b``."""
    names = [p.stem or "system" for p in paths]
    if len(set(names)) < len(names):
        folders = [p.resolve().parent.name for p in paths]
        if all(folders) and len(set(folders)) == len(folders):
            return folders
        names = [f"{n}_{k}" for k, n in zip("ab", names)]
    return names


def run(cfg: ScoreConfig) -> dict[str, Any]:
    """Score, print the summary line(s), write the report(s); return the summary (or comparison).

    One hypothesis file: its summary dict. Two: ``{"a": ..., "b": ..., "comparison": ...}``.
    """
    if cfg.unit not in UNIT_CHOICES:
        raise InputError(f"--unit must be one of {', '.join(UNIT_CHOICES)}, got {cfg.unit!r}")
    if not 1 <= len(cfg.hyps) <= 2:
        raise InputError("give one hypothesis file (--hyp) or two to compare")
    if cfg.bootstrap < 0:
        raise InputError(f"--bootstrap must be >= 0, got {cfg.bootstrap}")
    units = UNIT_CHOICES[cfg.unit]
    normalizer = TextNormalizer.from_names(cfg.normalize or None)
    hyp_sets = {path: read_transcripts(path, role="hyp") for path in cfg.hyps}
    if len(hyp_sets) < len(cfg.hyps):
        raise InputError(f"--compare needs two different files, got {cfg.hyps[0]} twice")
    ref_source, refs, ref_speakers = _references(cfg, hyp_sets[cfg.hyps[0]])
    speakers = dict(ref_speakers)
    if cfg.utt2spk is not None:
        speakers.update(read_utt2spk(cfg.utt2spk))
    ids = common_ids(ref_source, list(refs), hyp_sets, cfg.intersection)
    names = _system_names(cfg.hyps)
    options = {"bootstrap_samples": cfg.bootstrap, "seed": cfg.seed, "normalizer": normalizer,
               "units": units}
    summaries = {}
    for name, path in zip(names, cfg.hyps):
        results = _results(ids, refs, hyp_sets[path], speakers)
        title = cfg.title or f"{path} against {ref_source}"
        extra = {"ref": str(ref_source), "hyp": str(path)}
        if cfg.report is None:
            summary, _ = summarize(results, title=title, extra=extra, **options)
        else:
            out_dir = cfg.report if len(cfg.hyps) == 1 else cfg.report / name
            summary = write_report(results, out_dir, title=title, extra=extra,
                                   hypotheses=read_evaluation_rows(path) or None, **options)
        summaries[name] = summary
        prefix = f"{name}: " if len(cfg.hyps) > 1 else ""
        print(prefix + _summary_line(summary, units))
    if len(cfg.hyps) == 1:
        if cfg.report is not None:
            print(f"report: {cfg.report / 'report.md'}")
        return summaries[names[0]]

    a, b = (hyp_sets[p] for p in cfg.hyps)
    comparison = compare_systems([refs[i] for i in ids], [a[i].text for i in ids],
                                 [b[i].text for i in ids], names=(names[0], names[1]),
                                 units=units, normalizer=normalizer, samples=cfg.bootstrap,
                                 seed=cfg.seed)
    for unit in units:
        print(describe_comparison(comparison, METRIC_OF_UNIT[unit]))
    if cfg.report is not None:
        write_comparison(comparison, cfg.report)
        _comparison_page(cfg, comparison, ids, refs, speakers, names, summaries, normalizer,
                         hyp_sets)
        print(f"report: {cfg.report / 'comparison.md'}, {cfg.report / 'index.html'}")
    return {"a": summaries[names[0]], "b": summaries[names[1]], "comparison": comparison}


def _comparison_page(cfg: ScoreConfig, comparison: dict[str, Any], ids: list[str],
                     refs: dict[str, str], speakers: dict[str, str | None], names: list[str],
                     summaries: dict[str, dict[str, Any]], normalizer: TextNormalizer,
                     hyp_sets: dict[Path, dict[str, Transcript]]) -> None:
    """``index.html`` of the comparison: both systems' aligned hypotheses side by side."""
    norm_refs = [normalizer(refs[i]) for i in ids]
    systems = []
    for name, path in zip(names, cfg.hyps):
        hyps = [normalizer(hyp_sets[path][i].text) for i in ids]
        scores = {unit: score_unit(norm_refs, hyps, unit) for unit in UNIT_CHOICES[cfg.unit]}
        systems.append(SystemRows(name, hyps, scores, summaries[name]["confusions"]))
    write_comparison_index(
        cfg.report, comparison, ids=ids, refs=norm_refs,
        speakers=[speakers.get(i) or hyp_sets[cfg.hyps[0]][i].speaker for i in ids],
        systems=systems, summaries=[summaries[n] for n in names],
        hypotheses=[read_evaluation_rows(p) or None for p in cfg.hyps],
        links=[source_url(str(cfg.report / n / "index.html"), cfg.report) for n in names])


def get_args(argv: list[str] | None) -> ScoreConfig:
    parser = argparse.ArgumentParser(
        prog="ctc score", description="Score hypotheses against references: WER/CER with "
        "bootstrap confidence intervals, alignments, confusions and plots.")
    parser.add_argument("--ref", type=Path, help="references: Kaldi 'id text', JSONL or .trn "
                        "(optional when the hypotheses JSONL has 'ref' fields)")
    parser.add_argument("--hyp", type=Path, help="hypotheses, same formats")
    parser.add_argument("--compare", type=Path, nargs="+", metavar="HYP",
                        help="compare two systems: '--compare A B', or '--hyp A --compare B'")
    parser.add_argument("--unit", choices=list(UNIT_CHOICES), default="both",
                        help="score words (WER), characters (CER) or both (default)")
    parser.add_argument("--normalize", action="append", default=[], metavar="STEPS",
                        help=f"comma-separated normalisation applied to both sides: "
                        f"{', '.join(OPTION_NAMES)} (whitespace is always collapsed unless "
                        f"'none')")
    parser.add_argument("--report", type=Path, help="write report.md, report.json, "
                        "alignments.txt, plots and index.html (a page to sort, filter and "
                        "listen to each utterance) to this directory")
    parser.add_argument("--intersection", action="store_true",
                        help="score only the ids present in every file instead of failing")
    parser.add_argument("--utt2spk", type=Path, help="Kaldi utt2spk file: per-speaker table")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="bootstrap replicates for the confidence intervals (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--title", help="report title")
    args = parser.parse_args(argv)
    hyps = ([args.hyp] if args.hyp else []) + list(args.compare or [])
    if args.compare and len(hyps) != 2:
        parser.error("--compare takes two files (A B), or one with --hyp A")
    if not hyps:
        parser.error("give --hyp HYP or --compare A B")
    return ScoreConfig(hyps=hyps, ref=args.ref, unit=args.unit, normalize=args.normalize,
                       report=args.report, intersection=args.intersection,
                       utt2spk=args.utt2spk, bootstrap=args.bootstrap, seed=args.seed,
                       title=args.title)


@cli_entry("ctc")
def main(argv: list[str] | None = None) -> int:
    run(get_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
