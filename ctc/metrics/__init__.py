"""Error rates and evaluation reports."""

from ctc.metrics.errors import ErrorCounts, count_errors

__all__ = ["ErrorCounts", "count_errors"]
