"""One results table for an experiment folder: every ``report.json`` under it, in Markdown.

The recipes' last stage (``collect_results`` in ``recipes/lib.sh``) runs
``python -m ctc.metrics.results_table EXP --out EXP/RESULTS.md``. Each report (written by
:func:`ctc.metrics.report.write_report` through the ``evaluate`` commands) gives one row:

| report | decoding | utterances | WER % | CER % | WER 95 % CI | CER 95 % CI |

``report`` is the report's ``title`` (else its folder, relative to EXP); ``decoding`` is the
``decoder`` the evaluation recorded (top level or under ``extra``; else ``-``). The intervals
are the reports' bootstrap ones over utterances (``ci95``; Bisani and Ney, 2004): on the small
test sets of the real-data recipes they are several points wide, which is what a difference
between two rows has to beat (``ctc score --compare`` tests a difference on the same
utterances). When ``EXP/lm_tuned.json`` exists (``ctc tune-lm``), a line under the table gives
the tuned LM weight and word bonus. Rows are in path order, so the table is the same on every
run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctc.errors import InputError
from ctc.io import atomic_write_text

REPORT_FILE = "report.json"
TUNED_FILE = "lm_tuned.json"
Warn = Callable[[str], None]
HEADER = ["| report | decoding | utterances | WER % | CER % | WER 95 % CI | CER 95 % CI |",
          "|---|---|---|---|---|---|---|"]
Interval = tuple[float, float]


@dataclass(frozen=True)
class ResultRow:
    """One evaluation: its name, decoding, size, error rates and their 95 % intervals.

    Rates and interval bounds are fractions; None where the report does not give them.
    """

    name: str
    decoding: str
    utterances: int | None
    wer: float | None
    cer: float | None
    wer_ci: Interval | None = None
    cer_ci: Interval | None = None


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, else None (null, missing, boolean or non-finite)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _rate(report: dict[str, Any], metric: str) -> float | None:
    """``report[metric]["rate"]`` as a finite float, else None."""
    value = report.get(metric)
    return _finite(value.get("rate")) if isinstance(value, dict) else None


def _interval(report: dict[str, Any], metric: str) -> Interval | None:
    """``report[metric]["ci95"]`` as (low, high), else None (absent or not two finite bounds)."""
    value = report.get(metric)
    ci = value.get("ci95") if isinstance(value, dict) else None
    if not isinstance(ci, dict):
        return None
    low, high = _finite(ci.get("low")), _finite(ci.get("high"))
    return None if low is None or high is None else (low, high)


def read_row(path: str | os.PathLike, exp: str | os.PathLike) -> ResultRow:
    """The row of the report at ``path`` (a ``report.json`` under the folder ``exp``).

    Raises InputError if the file is not JSON or not a report (no ``wer`` nor ``cer``).
    """
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{path}: unreadable report ({err})") from None
    if not isinstance(report, dict) or not ("wer" in report or "cer" in report):
        raise InputError(f"{path}: not an evaluation report (no wer or cer)")
    folder = os.path.relpath(path.parent, exp)
    extra = report.get("extra") if isinstance(report.get("extra"), dict) else {}
    decoding = report.get("decoder") or extra.get("decoder") or "-"
    utterances = report.get("utterances")
    return ResultRow(name=str(report.get("title") or folder), decoding=str(decoding),
                     utterances=utterances if isinstance(utterances, int) else None,
                     wer=_rate(report, "wer"), cer=_rate(report, "cer"),
                     wer_ci=_interval(report, "wer"), cer_ci=_interval(report, "cer"))


def collect_rows(exp: str | os.PathLike,
                 warn: Warn = lambda msg: print(msg, file=sys.stderr)) -> list[ResultRow]:
    """Rows of every ``report.json`` under ``exp``, in path order.

    A file that is not a report is left out, and ``warn`` gets one line naming it.
    """
    exp = Path(exp)
    if not exp.is_dir():
        raise InputError(f"experiment folder not found: {exp}")
    rows = []
    for path in sorted(exp.rglob(REPORT_FILE)):
        try:
            rows.append(read_row(path, exp))
        except InputError as err:
            warn(f"results_table: skipped {err}")
    return rows


def _cell(text: str) -> str:
    """Text as a Markdown table cell: pipes escaped, line breaks as spaces."""
    return " ".join(text.split()).replace("|", "\\|")


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.2f}"


def _pct_interval(interval: Interval | None) -> str:
    return "n/a" if interval is None else f"{_pct(interval[0])}-{_pct(interval[1])}"


def tuned_line(exp: str | os.PathLike) -> str | None:
    """A sentence on ``exp/lm_tuned.json`` (the tuned alpha and beta), or None without one."""
    from ctc.decode.tuned import read_tuned

    path = Path(exp) / TUNED_FILE
    if not path.is_file():
        return None
    tuned = read_tuned(path)
    details = []
    if "decoder" in tuned:
        details.append(f"decoder {tuned['decoder']}")
    if "beam_size" in tuned:
        details.append(f"beam {tuned['beam_size']}")
    if tuned.get("lm"):
        details.append(f"LM {Path(str(tuned['lm'])).name}")
    if isinstance(tuned.get("wer"), int | float):
        size = f" of {tuned['utterances']} utterances" if "utterances" in tuned else ""
        details.append(f"WER {100 * tuned['wer']:.2f} % on the tuning set{size}")
    more = f" ({', '.join(details)})" if details else ""
    return (f"LM weight and word bonus tuned by `ctc tune-lm` ({TUNED_FILE}): "
            f"alpha {tuned['alpha']}, beta {tuned['beta']}{more}.")


def results_table(exp: str | os.PathLike,
                  warn: Warn = lambda msg: print(msg, file=sys.stderr)) -> str:
    """The Markdown text of ``EXP/RESULTS.md``: a heading, the table and the tuned weights."""
    rows = collect_rows(exp, warn)
    lines = [f"# Results: {exp}", "", *HEADER]
    lines += [f"| {_cell(r.name)} | {_cell(r.decoding)} | "
              f"{'n/a' if r.utterances is None else r.utterances} | {_pct(r.wer)} | "
              f"{_pct(r.cer)} | {_pct_interval(r.wer_ci)} | {_pct_interval(r.cer_ci)} |"
              for r in rows]
    if not rows:
        lines += ["", f"No {REPORT_FILE} under {exp}."]
    try:
        tuned = tuned_line(exp)
    except InputError as err:
        warn(f"results_table: {err}")
        tuned = None
    if tuned:
        lines += ["", tuned]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ctc.metrics.results_table",
        description="Tabulate every report.json under an experiment folder (Markdown).")
    parser.add_argument("exp", type=Path, help="experiment folder")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the table here (atomically), e.g. EXP/RESULTS.md; "
                             "default: print it")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m ctc.metrics.results_table EXP [--out EXP/RESULTS.md]``; 1 on a bad EXP."""
    args = _parser().parse_args(argv)
    try:
        text = results_table(args.exp)
    except InputError as err:
        print(f"results_table: error: {err}", file=sys.stderr)
        return 1
    if args.out is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
