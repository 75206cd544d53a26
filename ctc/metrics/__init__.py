"""Error rates and evaluation reports.

``count_errors`` (corpus WER/CER counts, identical to jiwer), ``write_report`` (report.md,
report.json, alignments.txt, plots), ``plot_posteriorgram``; ``ctc score`` is ``score_cli``.
"""

from ctc.metrics.errors import ErrorCounts, UtteranceErrors, count_errors, utterance_errors
from ctc.metrics.normalize import TextNormalizer
from ctc.metrics.plots import plot_posteriorgram
from ctc.metrics.report import ScoredUtterance, write_report

__all__ = ["ErrorCounts", "ScoredUtterance", "TextNormalizer", "UtteranceErrors", "count_errors",
           "plot_posteriorgram", "utterance_errors", "write_report"]
