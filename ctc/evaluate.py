"""Evaluation: decode a set of records with a recognizer and write the WER/CER report.

Legend: N batch, T encoder output frames, V vocabulary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ctc.data.manifest import Record
from ctc.decode.greedy import greedy_decode
from ctc.decode.hypothesis import Hypothesis
from ctc.infer import Recognizer
from ctc.io import atomic_save, atomic_write_text
from ctc.metrics.normalize import TextNormalizer
from ctc.metrics.report import ScoredUtterance, write_report

Decoder = Callable[[torch.Tensor, torch.Tensor], list[Hypothesis]]


def greedy_decoder(tokenizer) -> Decoder:
    """Best-path decoding ``(log_probs (N, T, V), lengths (N,)) -> hypotheses`` with text."""

    def decode(log_probs: torch.Tensor, lengths: torch.Tensor) -> list[Hypothesis]:
        hyps = greedy_decode(log_probs, lengths, tokenizer.blank)
        return [Hypothesis(h.tokens, h.frames, h.score, tokenizer.decode(h.tokens), h.words,
                           h.lm_score) for h in hyps]

    return decode


def hypothesis_text(hyp: Hypothesis, tokenizer) -> str:
    """The hypothesis text; from its tokens when the decoder left ``text`` empty."""
    return hyp.text if hyp.text or not hyp.tokens else tokenizer.decode(hyp.tokens)


def _hypothesis_row(record: Record, text: str, hyp: Hypothesis, shift: float) -> str:
    """One line of ``hypotheses.jsonl``: id, ref, hyp, speaker, score, and word spans in
    seconds (audio) or pixels (images) when the decoder gave them."""
    row: dict[str, Any] = {"id": record.id, "ref": record.text, "hyp": text,
                           "score": round(float(hyp.score), 4)}
    if record.speaker is not None:
        row["speaker"] = record.speaker
    if hyp.words:
        row["words"] = [{"word": w.word, "start": round(w.start * shift, 3),
                         "end": round(w.end * shift, 3)} for w in hyp.words]
    return json.dumps(row, ensure_ascii=False) + "\n"


def evaluate(recognizer: Recognizer, records: Sequence[Record], report_dir: str | Path, *,
             decoder: Decoder | None = None, title: str = "evaluation",
             dump_posteriors: Path | None = None, max_frames: int = 20000,
             num_workers: int = 0, extra: dict[str, Any] | None = None,
             normalizer: TextNormalizer | None = None) -> dict[str, Any]:
    """Decode ``records``, score them against their texts and write the report.

    ``decoder`` is any ``(log_probs (N, T, V), lengths (N,)) -> list[Hypothesis]`` (default:
    greedy). Besides ``write_report``'s files, ``report_dir`` gets ``hypotheses.jsonl``
    (readable by ``ctc score --hyp``). Unreadable records are skipped and listed under
    ``skipped`` in the returned summary (``write_report``'s summary plus ``skipped``).
    ``dump_posteriors`` writes
    ``{"tokens", "blank", "word_delimiter", "items": [{"id", "ref", "log_probs" (T, V)}]}``
    with torch.save, for LM weight tuning. ``normalizer`` is passed to ``write_report``
    (default: whitespace collapsing only); ``extra`` is stored in the report.
    """
    tokenizer = recognizer.tokenizer
    decode = decoder or greedy_decoder(tokenizer)
    results: list[ScoredUtterance] = []
    rows: list[str] = []
    items: list[dict[str, Any]] = []
    shift = recognizer.output_frame_shift
    posteriorgram: tuple | None = None
    skipped_before = len(recognizer.skipped)
    started = time.perf_counter()
    frames = 0
    records = list(records)
    position = {id(r): i for i, r in enumerate(records)}
    order: list[int] = []  # manifest positions of the results, which come sorted by length
    for batch, log_probs, lengths in recognizer.iter_batches(records, max_frames=max_frames,
                                                             num_workers=num_workers):
        log_probs, lengths = log_probs.float().cpu(), lengths.cpu()  # decoders run on the CPU
        hyps = decode(log_probs, lengths)
        for i, (record, hyp) in enumerate(zip(batch, hyps)):
            results.append(ScoredUtterance(record.id, record.text,
                                           hypothesis_text(hyp, tokenizer), record.speaker))
            rows.append(_hypothesis_row(record, results[-1].hyp, hyp, shift))
            order.append(position[id(record)])
            if posteriorgram is None:  # the report draws one utterance's posteriors
                posteriorgram = (record.id, log_probs[i, : int(lengths[i])],
                                 list(tokenizer.symbols), list(zip(hyp.tokens, hyp.frames)))
            if dump_posteriors is not None:
                items.append({"id": record.id, "ref": record.text,
                              "log_probs": log_probs[i, : int(lengths[i])].clone()})
        frames += int(lengths.sum())
    seconds = time.perf_counter() - started
    ranks = sorted(range(len(order)), key=order.__getitem__)
    results, rows = [results[k] for k in ranks], [rows[k] for k in ranks]
    if dump_posteriors is not None:
        items = [items[k] for k in ranks]
    skipped = recognizer.skipped[skipped_before:]
    info = {"checkpoint": str(recognizer.checkpoint) if recognizer.checkpoint else None,
            "decoder": getattr(decoder, "__name__", type(decoder).__name__) if decoder
            else "greedy",
            "decode_seconds": round(seconds, 3), "output_frames": frames,
            "skipped": len(skipped), **(extra or {})}
    atomic_write_text(Path(report_dir) / "hypotheses.jsonl", "".join(rows))
    summary = write_report(results, report_dir, title=title, extra=info,
                           posteriorgram=posteriorgram, normalizer=normalizer)
    if dump_posteriors is not None:
        atomic_save({"tokens": list(tokenizer.symbols), "blank": int(tokenizer.blank),
                     "word_delimiter": getattr(tokenizer, "word_delimiter", None),
                     "items": items}, dump_posteriors)
    return {**summary, "skipped": skipped}
