"""Evaluation reports: scores plus the files a researcher reads after an evaluation.

``write_report`` is the entry point the ``evaluate`` commands call. Output in ``out_dir``:
``report.json`` (machine) and ``report.md`` (human).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctc.io import atomic_write_text
from ctc.metrics.errors import count_errors


@dataclass(frozen=True)
class ScoredUtterance:
    """One evaluated utterance or line: reference and hypothesis text, speaker/writer if known."""

    id: str
    ref: str
    hyp: str
    speaker: str | None = None


def write_report(results: Sequence[ScoredUtterance], out_dir: str | Path, *, title: str,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score ``results`` (WER and CER), write the report files, return the summary dict.

    ``extra`` (model, decoder settings, timings) is stored verbatim in the summary.
    """
    refs = [r.ref for r in results]
    hyps = [r.hyp for r in results]
    summary: dict[str, Any] = {"title": title, "utterances": len(results)}
    for unit, name in (("word", "wer"), ("char", "cer")):
        c = count_errors(refs, hyps, unit)
        summary[name] = {"rate": c.rate, "substitutions": c.substitutions,
                         "deletions": c.deletions, "insertions": c.insertions,
                         "ref_length": c.ref_length, "sentence_errors": c.sentence_errors}
    summary["extra"] = extra or {}
    out = Path(out_dir)
    atomic_write_text(out / "report.json", json.dumps(summary, indent=2, ensure_ascii=False))
    wer, cer = summary["wer"]["rate"], summary["cer"]["rate"]
    atomic_write_text(out / "report.md",
                      f"# {title}\n\n| utterances | WER % | CER % |\n|---|---|---|\n"
                      f"| {len(results)} | {100 * wer:.2f} | {100 * cer:.2f} |\n")
    return summary
