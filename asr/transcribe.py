"""Transcription of audio files of any length: chunked posteriors, word timings, output formats.

Long files are streamed: blocks are read with soundfile, cut into overlapping windows (a central
part of ``chunk`` seconds plus ``context`` seconds on each side), featurized and run through the
encoder a few windows at a time. Only each window's central output frames are kept, so the
stitched ``(T', V)`` log-probabilities equal the whole-file ones away from the model's receptive
field; memory is bounded by one batch of windows plus the ``(T', V)`` posteriors (about 11 MB per
hour for 30 tokens at 40 ms). Word times are CTC alignment frames times the output frame shift
(``ctc.results``); the formats here render a :class:`ctc.results.Recognition`, or the several
units one file was cut into (``--vad`` chunks), merged in time order (:func:`merge_units`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from asr.audio import audio_info, iter_audio_blocks
from ctc.modality import Posteriorgram
from ctc.results import Recognition, Span, recognize

FORMATS = ("txt", "json", "srt", "vtt", "ctm")


class RecognizerLike(Protocol):
    """What transcription needs of ``ctc.recognizer.Recognizer``."""

    featurizer: Any  # asr.featurizer.LogMelFeaturizer
    tokenizer: Any
    output_frame_shift: float

    def log_probs(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]: ...


# --------------------------------------------------------------------------- chunking


@dataclass(frozen=True)
class Window:
    """Samples ``[start, start + len(samples))`` of the file, whose output frames covering samples
    ``[centre, centre + centre_length)`` are kept (``centre_length`` None: to the end).
    """

    start: int
    samples: np.ndarray
    centre: int
    centre_length: int | None


def iter_windows(blocks: Iterator[np.ndarray], step: int, context: int) -> Iterator[Window]:
    """Cut a stream of sample blocks into overlapping windows (all sizes in samples).

    Window ``k`` covers ``[k*step - context, (k+1)*step + context)`` clipped to the file; its
    central part ``[k*step, (k+1)*step)`` is what gets kept. ``step`` and ``context`` must be
    multiples of the model's output hop (in samples) so that frames line up.
    """
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0  # file offset of buffer[0]
    k = 0
    finished = False
    while True:
        centre = k * step
        want_end = centre + step + context
        while not finished and buffer_start + buffer.size < want_end:
            try:
                block = next(blocks)
            except StopIteration:
                finished = True
                break
            buffer = np.concatenate([buffer, block])
        total_known = buffer_start + buffer.size
        if centre >= total_known:
            return
        begin = max(0, centre - context)
        end = min(want_end, total_known)
        last = finished and total_known <= centre + step
        yield Window(begin, buffer[begin - buffer_start:end - buffer_start].copy(),
                     centre, None if last else step)
        if last:
            return
        k += 1
        drop = max(0, (k * step - context) - buffer_start)
        buffer = buffer[drop:]
        buffer_start += drop


def stitched_log_probs(recognizer: RecognizerLike, blocks: Iterator[np.ndarray],
                       chunk_seconds: float = 20.0, context_seconds: float = 2.0,
                       batch_size: int = 4, on_window: Callable[[float], None] | None = None
                       ) -> torch.Tensor:
    """Log-probabilities ``(T', V)`` of a streamed waveform, computed window by window.

    ``on_window`` is called with the seconds of new audio covered after each batch.
    """
    feat = recognizer.featurizer
    rate = feat.sample_rate
    out_hop = round(recognizer.output_frame_shift * rate)  # samples per output frame
    step = max(1, round(chunk_seconds * rate / out_hop)) * out_hop
    context = max(0, round(context_seconds * rate / out_hop)) * out_hop
    pieces: list[torch.Tensor] = []
    batch: list[Window] = []

    def flush() -> None:
        feats = [feat.from_waveform(w.samples) for w in batch]
        with torch.inference_mode():
            log_probs, lengths = recognizer.log_probs(feats)
        log_probs, lengths = log_probs.float().cpu(), lengths.cpu()
        for i, window in enumerate(batch):
            first = (window.centre - window.start) // out_hop
            length = int(lengths[i])
            stop = (length if window.centre_length is None
                    else min(length, first + window.centre_length // out_hop))
            if stop > first:
                pieces.append(log_probs[i, first:stop].clone())
        if on_window is not None:
            on_window(sum(min(w.samples.size, step) for w in batch) / rate)
        batch.clear()

    for window in iter_windows(blocks, step, context):
        if window.samples.size < feat.win_samples:
            continue  # a sliver at the end: nothing to featurize
        batch.append(window)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    if not pieces:
        vocab = len(recognizer.tokenizer)
        return torch.zeros(0, vocab)
    return torch.cat(pieces)


# --------------------------------------------------------------------------- formats


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def segments(words: Sequence[Span], max_chars: int = 42, max_seconds: float = 6.0,
             max_gap: float = 0.8) -> list[list[Span]]:
    """Group words into subtitle cues: a new cue at a pause, or when a cue gets too long."""
    cues: list[list[Span]] = []
    for word in words:
        if cues:
            cue = cues[-1]
            chars = sum(len(w.text) + 1 for w in cue) + len(word.text)
            if (word.start - cue[-1].end <= max_gap and chars <= max_chars
                    and word.end - cue[0].start <= max_seconds):
                cue.append(word)
                continue
        cues.append([word])
    return cues


def _word_json(word: Span) -> dict[str, Any]:
    out: dict[str, Any] = {"word": word.text, "start": round(word.start, 3),
                           "end": round(word.end, 3)}
    if word.confidence is not None:
        out["confidence"] = word.confidence
    return out


def merge_units(units: Sequence[Recognition]) -> Recognition:
    """One file's recognised units (e.g. its ``--vad`` chunks, each placed in the file's time)
    as one transcript: texts joined, words and tokens in time order, scores added, the lowest
    confidence; alternatives only for a single unit. ``meta["segments"]`` lists each unit's
    span (its posteriorgram's ``meta["chunk"]`` when given), text, confidence and n-best."""
    if not units:
        raise ValueError("merge_units needs at least one unit")
    if len(units) == 1:
        return units[0]

    def span(unit: Recognition) -> tuple[float, float]:
        if "chunk" in unit.meta:
            return tuple(unit.meta["chunk"])  # type: ignore[return-value]
        return (unit.words[0].start, unit.words[-1].end) if unit.words else (0.0, 0.0)

    ordered = sorted(units, key=lambda u: span(u)[0])
    segments = []
    for unit in ordered:
        start, end = span(unit)
        segment: dict[str, Any] = {"start": round(start, 3), "end": round(end, 3),
                                   "text": unit.text}
        if unit.words and unit.words[0].confidence is not None:
            segment["confidence"] = unit.confidence
        if unit.alternatives:
            segment["nbest"] = [{"text": a.text, "score": a.score} for a in unit.alternatives]
        segments.append(segment)
    first = ordered[0]
    return replace(first, text=" ".join(u.text for u in ordered if u.text),
                   score=sum(u.score for u in ordered),
                   words=tuple(w for u in ordered for w in u.words),
                   tokens=tuple(t for u in ordered for t in u.tokens),
                   meta={**first.meta, "segments": segments},
                   confidence=min(u.confidence for u in ordered), alternatives=())


def format_transcript(transcript: Recognition | Sequence[Recognition], fmt: str,
                      utt_id: str | None = None) -> str:
    """Render a transcript (or the units of one file, merged by :func:`merge_units`) as
    ``txt``, ``json``, ``srt``, ``vtt`` or ``ctm`` (times in seconds, rounded to
    milliseconds). ``json`` of several units adds ``segments`` (each unit's span, text,
    confidence and n-best)."""
    if not isinstance(transcript, Recognition):
        transcript = merge_units(transcript)
    if fmt == "txt":
        return transcript.text + "\n"
    if fmt == "json":
        obj: dict[str, Any] = {"path": transcript.source, "text": transcript.text,
                               "duration": round(transcript.extent, 3)}
        if transcript.words and transcript.words[0].confidence is not None:
            obj["confidence"] = transcript.confidence
        obj["words"] = [_word_json(w) for w in transcript.words]
        if transcript.alternatives:
            obj["nbest"] = [{"text": a.text, "score": a.score} for a in transcript.alternatives]
        if "segments" in transcript.meta:
            obj["segments"] = transcript.meta["segments"]
        return json.dumps(obj, ensure_ascii=False) + "\n"
    if fmt == "ctm":  # NIST CTM: name channel start duration word [confidence]
        name = utt_id or Path(transcript.source).stem
        return "".join(f"{name} 1 {w.start:.2f} {w.end - w.start:.2f} {w.text}"
                       + (f" {w.confidence:.3f}" if w.confidence is not None else "") + "\n"
                       for w in transcript.words)
    if fmt in ("srt", "vtt"):
        sep = "," if fmt == "srt" else "."
        blocks = []
        for i, cue in enumerate(segments(transcript.words), 1):
            times = f"{_clock(cue[0].start, sep)} --> {_clock(cue[-1].end, sep)}"
            text = " ".join(w.text for w in cue)
            blocks.append(f"{i}\n{times}\n{text}\n" if fmt == "srt" else f"{times}\n{text}\n")
        header = "WEBVTT\n\n" if fmt == "vtt" else ""
        return header + "\n".join(blocks)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


# --------------------------------------------------------------------------- one file


def file_posteriorgram(recognizer: RecognizerLike, path: str | Path,
                       chunk_seconds: float = 20.0, context_seconds: float = 2.0,
                       batch_size: int = 4, block_seconds: float = 10.0,
                       on_progress: Callable[[float], None] | None = None) -> Posteriorgram:
    """The posteriors of one file of any length, placed in seconds; InputError naming it if
    unreadable or empty."""
    info = audio_info(path)
    rate = recognizer.featurizer.sample_rate
    blocks = iter_audio_blocks(path, rate, block_seconds)
    log_probs = stitched_log_probs(recognizer, blocks, chunk_seconds, context_seconds,
                                   batch_size, on_progress)
    shift = recognizer.output_frame_shift
    return Posteriorgram(str(path), log_probs, lambda frame: round(frame * shift, 3),
                         info.duration)


def transcribe_file(recognizer: RecognizerLike, decoder: Callable, path: str | Path,
                    chunk_seconds: float = 20.0, context_seconds: float = 2.0,
                    batch_size: int = 4, block_seconds: float = 10.0,
                    on_progress: Callable[[float], None] | None = None,
                    confidence: Any = None) -> Recognition:
    """Transcribe one file (any length) with ``decoder``; InputError naming it if unreadable.
    ``confidence``: a ``ctc.results.WordConfidence`` (None: acoustic spikes), as
    ``asr transcribe`` builds from its decoding options."""
    gram = file_posteriorgram(recognizer, path, chunk_seconds, context_seconds, batch_size,
                              block_seconds, on_progress)
    return recognize(gram, decoder, recognizer.tokenizer, "s", confidence=confidence)
