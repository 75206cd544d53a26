"""Evaluation: decode a set of records with a recognizer and write the WER/CER report.

Legend: N batch, T encoder output frames, V vocabulary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ctc.data.manifest import Record
from ctc.decode.greedy import GreedyDecoder
from ctc.decode.hypothesis import Hypothesis
from ctc.distributed import broadcast_object, current_shard, gather_objects
from ctc.errors import InputError
from ctc.io import atomic_save, atomic_write_text
from ctc.metrics.normalize import TextNormalizer
from ctc.metrics.report import ScoredUtterance, write_report
from ctc.recognizer import Recognizer, RecordPosteriors
from ctc.results import (
    Recognition,
    WordConfidence,
    decode_nbest,
    make_recognition,
    word_posteriors,
)

Decoder = Callable[[torch.Tensor, torch.Tensor], list[Hypothesis]]


def greedy_decoder(tokenizer) -> Decoder:
    """Best-path decoding ``(log_probs (N, T, V), lengths (N,)) -> hypotheses`` with text."""
    return GreedyDecoder(list(tokenizer.symbols), tokenizer.blank, tokenizer.word_delimiter,
                         tokenizer.word_prefix)


def _hypothesis_row(record: Record, result: Recognition) -> str:
    """One line of ``hypotheses.jsonl``: id, ref, hyp, speaker, score, the source file, and the
    words and tokens placed on it (seconds, or pixels of the original image: ``unit``)."""
    digits = 3 if result.unit == "s" else 1
    row: dict[str, Any] = {"id": record.id, "ref": record.text, "hyp": result.text,
                           "score": round(float(result.score), 4)}
    if record.speaker is not None:
        row["speaker"] = record.speaker
    row.update(path=record.path, unit=result.unit, extent=round(result.extent, digits))
    if record.start is not None and record.end is not None:  # times are on the recording
        row["segment"] = [round(record.start, digits), round(record.end, digits)]
    row["confidence"] = result.confidence
    row["words"] = [{"word": w.text, "start": round(w.start, digits), "end": round(w.end, digits),
                     "confidence": w.confidence} for w in result.words]
    row["tokens"] = [{"token": t.text, "start": round(t.start, digits),
                      "end": round(t.end, digits), "confidence": t.confidence}
                     for t in result.tokens]
    if result.alternatives:
        row["nbest"] = [{"text": a.text, "score": a.score} for a in result.alternatives]
    return json.dumps(row, ensure_ascii=False) + "\n"


def decode_window(results: Sequence[RecordPosteriors], decode: Decoder, nbest: int = 1
                  ) -> list[list[Hypothesis] | None]:
    """Decode the readable results of one window as one batch (up to ``nbest`` hypotheses
    each, best first); None for unreadable ones."""
    readable = [r for r in results if r.log_probs is not None]
    lists = iter(decode_nbest(decode, [r.log_probs for r in readable], nbest))
    return [next(lists) if r.log_probs is not None else None for r in results]


def evaluate(recognizer: Recognizer, records: Sequence[Record], report_dir: str | Path, *,
             decoder: Decoder | None = None, title: str = "evaluation",
             dump_posteriors: Path | None = None, max_frames: int = 20000,
             num_workers: int = 0, extra: dict[str, Any] | None = None,
             normalizer: TextNormalizer | None = None, nbest: int = 1,
             confidence: WordConfidence | None = None) -> dict[str, Any]:
    """Decode ``records``, score them against their texts and write the report.

    ``decoder`` is any ``(log_probs (N, T, V), lengths (N,)) -> list[Hypothesis]`` (default:
    greedy). Besides ``write_report``'s files, ``report_dir`` gets ``hypotheses.jsonl``
    (readable by ``ctc score --hyp``; with each record's words and tokens placed on its source),
    in manifest order. Unreadable records are skipped and
    listed under ``skipped`` in the returned summary (``write_report``'s summary plus
    ``skipped``); when no record at all can be scored, InputError is raised and no report is
    written (no rate without data). ``dump_posteriors`` writes
    ``{"tokens", "blank", "word_delimiter", "word_prefix", "items": [{"id", "ref",
    "log_probs" (T, V)}]}`` with torch.save, for LM weight tuning. ``normalizer`` is passed to
    ``write_report`` (default: whitespace collapsing only); ``extra`` is stored in the report.
    ``nbest`` > 1 adds each record's n-best list to its row (beam-search decoders);
    ``confidence`` says how word confidences are computed (default: acoustic spikes).

    Under ``torchrun`` the records are shared out over the processes (every ``world``-th
    record each) and gathered back in manifest order: the report, written by rank 0, holds the
    same numbers as a single process's; every process returns the summary.
    """
    tokenizer = recognizer.tokenizer
    decode = decoder or greedy_decoder(tokenizer)
    unit = recognizer.modality.unit
    shard = current_shard()
    records = list(records)
    started = time.perf_counter()
    mine: list[tuple] = []  # (manifest index, scored, row, dump item, error) of this process
    indices = list(range(shard.rank, len(records), shard.world))
    for window in recognizer.iter_windows([records[i] for i in indices], max_frames=max_frames,
                                          num_workers=num_workers):
        decoded = decode_window(window, decode, nbest)
        readable = [(r, f) for r, f in zip(window, decoded) if f is not None]
        confidences = iter(word_posteriors([f[0] for _, f in readable],
                                           [r.log_probs for r, _ in readable], confidence))
        for result, found in zip(window, decoded):
            index = indices[result.index]
            if found is None:
                mine.append((index, None, None, None,
                             result.error or f"{result.record.id}: unreadable"))
                continue
            hyp = found[0]
            if not hyp.text and hyp.tokens:  # a caller's decoder that left the text out
                hyp = replace(hyp, text=tokenizer.text(hyp.tokens))
            record, log_probs = result.record, result.log_probs
            placed = make_recognition(hyp, recognizer.posteriorgram(result), tokenizer, unit,
                                      found if nbest > 1 else (), next(confidences))
            item = None
            if dump_posteriors is not None:
                item = {"id": record.id, "ref": record.text, "log_probs": log_probs}
            mine.append((index, ScoredUtterance(record.id, record.text, hyp.text,
                                                record.speaker),
                         _hypothesis_row(record, placed), item,
                         (int(log_probs.shape[0]), list(zip(hyp.tokens, hyp.frames)))))
    outcomes = sorted((o for part in gather_objects(mine, shard) for o in part),
                      key=lambda o: o[0])  # manifest order, whatever the number of processes
    scored = [o[1] for o in outcomes if o[1] is not None]
    rows = [o[2] for o in outcomes if o[1] is not None]
    items = [o[3] for o in outcomes if o[1] is not None]
    skipped = [o[4] for o in outcomes if o[1] is None]
    frames = sum(o[4][0] for o in outcomes if o[1] is not None)
    posteriorgram: tuple | None = None
    first = next((o for o in outcomes if o[1] is not None), None)
    if first is not None:  # the report draws one utterance's posteriors
        record = records[first[0]]
        log_probs = (first[3]["log_probs"] if first[3] is not None else
                     next(recognizer.iter_results([record])).log_probs)
        posteriorgram = (record.id, log_probs, list(tokenizer.symbols), first[4][1])
    seconds = time.perf_counter() - started
    if not scored:
        reason = f"all {len(skipped)} unreadable" if skipped else "the manifest is empty"
        raise InputError(f"no utterance could be scored ({reason}); no report written")
    info = {"checkpoint": str(recognizer.checkpoint) if recognizer.checkpoint else None,
            "decoder": getattr(decoder, "__name__", type(decoder).__name__) if decoder
            else "greedy",
            "decode_seconds": round(seconds, 3), "output_frames": frames,
            "skipped": len(skipped), **(extra or {})}
    summary = None
    if shard.is_main:  # one report, written once
        atomic_write_text(Path(report_dir) / "hypotheses.jsonl", "".join(rows))
        summary = write_report(scored, report_dir, title=title, extra=info,
                               posteriorgram=posteriorgram, normalizer=normalizer,
                               hypotheses=map(json.loads, rows))
        if dump_posteriors is not None:
            atomic_save({"tokens": list(tokenizer.symbols), "blank": int(tokenizer.blank),
                         "word_delimiter": tokenizer.word_delimiter,
                         "word_prefix": tokenizer.word_prefix, "items": items},
                        dump_posteriors)
    summary = broadcast_object(summary, shard)
    return {**summary, "skipped": skipped}
