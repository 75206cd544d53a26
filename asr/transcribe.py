"""Transcription of audio files of any length: chunked posteriors, word timings, output formats.

Long files are streamed: blocks are read with soundfile, cut into overlapping windows (a central
part of ``chunk`` seconds plus ``context`` seconds on each side), featurized and run through the
encoder a few windows at a time. Only each window's central output frames are kept, so the
stitched ``(T', V)`` log-probabilities equal the whole-file ones away from the model's receptive
field; memory is bounded by one batch of windows plus the ``(T', V)`` posteriors (about 11 MB per
hour for 30 tokens at 40 ms). Word times are CTC alignment frames times the output frame shift.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from asr.audio import audio_info, iter_audio_blocks
from ctc.decode.hypothesis import Hypothesis, WordSpan

FORMATS = ("txt", "json", "srt", "vtt", "ctm")


class RecognizerLike(Protocol):
    """What transcription needs of ``ctc.infer.Recognizer``."""

    featurizer: Any  # asr.featurizer.LogMelFeaturizer
    tokenizer: Any
    output_frame_shift: float

    def log_probs(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]: ...


@dataclass(frozen=True)
class WordTiming:
    """A word with its start and end in seconds."""

    word: str
    start: float
    end: float


@dataclass(frozen=True)
class Transcript:
    """The transcription of one file."""

    path: str
    text: str
    duration: float
    words: tuple[WordTiming, ...]


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


# --------------------------------------------------------------------------- words and times


def word_spans(hyp: Hypothesis, tokenizer: Any) -> tuple[WordSpan, ...]:
    """Word spans in frames from a hypothesis' tokens and first-emission frames.

    Used when the decoder gave none: a word starts at its first token's frame and ends one frame
    after its last token's. Works for character tokenizers (word delimiter token) and for
    sentencepiece-style ones (pieces starting with ``▁``).
    """
    if hyp.words:
        return hyp.words
    delimiter = getattr(tokenizer, "word_delimiter", " ")
    symbols = tokenizer.symbols
    words: list[WordSpan] = []
    current, start, end = "", -1, -1
    for token, frame in zip(hyp.tokens, hyp.frames):
        piece = symbols[token]
        boundary = piece == delimiter or piece.startswith("▁")
        if boundary and current:
            words.append(WordSpan(current, start, end))
            current = ""
        piece = piece.replace("▁", "") if piece != delimiter else ""
        if piece:
            if not current:
                start = frame
            current += piece
            end = frame + 1
    if current:
        words.append(WordSpan(current, start, end))
    return tuple(words)


def to_transcript(path: str, hyp: Hypothesis, tokenizer: Any, frame_shift: float,
                  duration: float) -> Transcript:
    """Seconds from frames: ``time = frame * frame_shift`` (the encoder's output shift)."""
    spans = word_spans(hyp, tokenizer)
    words = tuple(WordTiming(s.word, round(s.start * frame_shift, 3),
                             round(min(duration, max(s.end, s.start + 1) * frame_shift), 3))
                  for s in spans)
    text = hyp.text or " ".join(w.word for w in words)
    return Transcript(path, text, duration, words)


# --------------------------------------------------------------------------- formats


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def segments(words: Sequence[WordTiming], max_chars: int = 42, max_seconds: float = 6.0,
             max_gap: float = 0.8) -> list[list[WordTiming]]:
    """Group words into subtitle cues: a new cue at a pause, or when a cue gets too long."""
    cues: list[list[WordTiming]] = []
    for word in words:
        if cues:
            cue = cues[-1]
            chars = sum(len(w.word) + 1 for w in cue) + len(word.word)
            if (word.start - cue[-1].end <= max_gap and chars <= max_chars
                    and word.end - cue[0].start <= max_seconds):
                cue.append(word)
                continue
        cues.append([word])
    return cues


def format_transcript(transcript: Transcript, fmt: str, utt_id: str | None = None) -> str:
    """Render a transcript as ``txt``, ``json``, ``srt``, ``vtt`` or ``ctm``."""
    if fmt == "txt":
        return transcript.text + "\n"
    if fmt == "json":
        obj = {"path": transcript.path, "text": transcript.text,
               "duration": round(transcript.duration, 3),
               "words": [asdict(w) for w in transcript.words]}
        return json.dumps(obj, ensure_ascii=False) + "\n"
    if fmt == "ctm":
        name = utt_id or Path(transcript.path).stem
        return "".join(f"{name} 1 {w.start:.2f} {w.end - w.start:.2f} {w.word}\n"
                       for w in transcript.words)
    if fmt in ("srt", "vtt"):
        sep = "," if fmt == "srt" else "."
        blocks = []
        for i, cue in enumerate(segments(transcript.words), 1):
            times = f"{_clock(cue[0].start, sep)} --> {_clock(cue[-1].end, sep)}"
            text = " ".join(w.word for w in cue)
            blocks.append(f"{i}\n{times}\n{text}\n" if fmt == "srt" else f"{times}\n{text}\n")
        header = "WEBVTT\n\n" if fmt == "vtt" else ""
        return header + "\n".join(blocks)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


# --------------------------------------------------------------------------- one file


def transcribe_file(recognizer: RecognizerLike, decoder: Callable, path: str | Path,
                    chunk_seconds: float = 20.0, context_seconds: float = 2.0,
                    batch_size: int = 4, block_seconds: float = 10.0,
                    on_progress: Callable[[float], None] | None = None) -> Transcript:
    """Transcribe one file (any length); InputError naming it if unreadable or empty."""
    info = audio_info(path)
    rate = recognizer.featurizer.sample_rate
    blocks = iter_audio_blocks(path, rate, block_seconds)
    log_probs = stitched_log_probs(recognizer, blocks, chunk_seconds, context_seconds,
                                   batch_size, on_progress)
    if log_probs.shape[0] == 0:
        hyp = Hypothesis((), ())
    else:
        lengths = torch.tensor([log_probs.shape[0]])
        hyp = decoder(log_probs[None], lengths)[0]
    return to_transcript(str(path), hyp, recognizer.tokenizer, recognizer.output_frame_shift,
                         info.duration)
