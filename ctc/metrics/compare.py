"""Paired comparison of two systems on the same references (Bisani & Ney 2004)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ctc.io import atomic_write_text
from ctc.metrics.bootstrap import paired_bootstrap
from ctc.metrics.errors import METRIC_OF_UNIT, utterance_errors
from ctc.metrics.normalize import TextNormalizer


def compare_systems(refs: Sequence[str], hyps_a: Sequence[str], hyps_b: Sequence[str], *,
                    names: tuple[str, str] = ("A", "B"), units: Sequence[str] = ("word", "char"),
                    normalizer: TextNormalizer | None = None, samples: int = 1000,
                    seed: int = 0) -> dict[str, Any]:
    """Rates of A and B, the difference B - A with its 95% interval and P(B better), per unit.

    The three sequences are aligned by position (same utterances, same order).
    """
    if not len(refs) == len(hyps_a) == len(hyps_b):
        raise ValueError(f"{len(refs)} references, {len(hyps_a)} and {len(hyps_b)} hypotheses")
    normalizer = normalizer or TextNormalizer()
    refs = [normalizer(t) for t in refs]
    hyps_a = [normalizer(t) for t in hyps_a]
    hyps_b = [normalizer(t) for t in hyps_b]
    out: dict[str, Any] = {"systems": {"a": names[0], "b": names[1]}, "utterances": len(refs),
                           "normalization": normalizer.to_dict()}
    for unit in units:
        a = utterance_errors(refs, hyps_a, unit)
        b = utterance_errors(refs, hyps_b, unit)
        cmp = paired_bootstrap(a.errors, b.errors, a.ref_length, samples=samples, seed=seed)
        out[METRIC_OF_UNIT[unit]] = {
            **cmp.to_dict(),
            "utterances_b_better": int((b.errors < a.errors).sum()),
            "utterances_a_better": int((b.errors > a.errors).sum())}
    return out


def describe_comparison(result: dict[str, Any], metric: str) -> str:
    """One line: rates of A and B, the change with its interval, the probability of improvement."""
    c = result[metric]
    a, b = result["systems"]["a"], result["systems"]["b"]
    return (f"{metric.upper()} {a} {100 * c['rate_a']:.2f}% -> {b} {100 * c['rate_b']:.2f}%: "
            f"change {100 * c['delta']:+.2f} abs, 95% CI [{100 * c['delta_low']:+.2f}, "
            f"{100 * c['delta_high']:+.2f}], P({b} better) = {c['prob_b_better']:.3f}")


def write_comparison(result: dict[str, Any], out_dir: str | Path) -> None:
    """``comparison.json`` and ``comparison.md`` in ``out_dir``."""
    out = Path(out_dir)
    atomic_write_text(out / "comparison.json", json.dumps(result, indent=2, ensure_ascii=False))
    a, b = result["systems"]["a"], result["systems"]["b"]
    lines = [f"# {b} against {a}", "",
             f"{result['utterances']} utterances; normalisation: "
             f"{result['normalization']['description']}.", "",
             f"| metric | {a} % | {b} % | change (abs) | 95% CI | P({b} better) | "
             f"utt. {b} better | utt. {a} better |", "|---|---|---|---|---|---|---|---|"]
    for metric in ("wer", "cer"):
        if metric not in result:
            continue
        c = result[metric]
        lines.append(f"| {metric.upper()} | {100 * c['rate_a']:.2f} | {100 * c['rate_b']:.2f} | "
                     f"{100 * c['delta']:+.2f} | [{100 * c['delta_low']:+.2f}, "
                     f"{100 * c['delta_high']:+.2f}] | {c['prob_b_better']:.3f} | "
                     f"{c['utterances_b_better']} | {c['utterances_a_better']} |")
    seed = next(result[m]["seed"] for m in ("wer", "cer") if m in result)
    samples = next(result[m]["samples"] for m in ("wer", "cer") if m in result)
    lines += ["", f"Paired bootstrap over utterances (Bisani & Ney 2004): {samples} replicates, "
              f"seed {seed}; both systems are scored on the same resampled utterances. "
              f"P({b} better) is the fraction of replicates where {b} makes fewer errors.",
              "", f"Full reports: [{a}]({a}/report.md), [{b}]({b}/report.md)."]
    atomic_write_text(out / "comparison.md", "\n".join(lines) + "\n")
