"""Long recordings: fixed windows against cutting at pauses (``asr transcribe --vad``).

Builds long recordings by joining held-out utterances (the demo's espeak-ng test set by default)
with pauses of 0.5-3 s, a longer pause holding a burst of non-speech noise every ~10
utterances, and background pink noise at a given SNR over the whole recording; the reference
is the utterances' texts joined. Each recording is transcribed with fixed windows (20 s kept +
2 s context, the default) and with ``--vad`` (Silero when installed, and the energy detector),
greedy and with the LM (with the n-best search behind word confidences, as ``asr transcribe``
runs it), in this process on one thread; prints WER and times as a table.

Usage (defaults: the demo's model, test manifest and LM; run `make demo` first):
  python tools/bench_vad.py [--model demo/exp/speech] [--manifest .../test-espeak.jsonl]
      [--lm .../3gram.arpa] [--recordings 3] [--minutes 4] [--snr 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asr.audio import load_audio  # noqa: E402
from ctc.data.manifest import read_manifest  # noqa: E402

RATE = 16000
DEMO = ROOT / "demo" / "exp" / "speech"


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise with a 1/f power spectrum (white noise shaped in the frequency
    domain)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    k = np.arange(spectrum.size, dtype=np.float64)
    k[0] = 1.0
    out = np.fft.irfft(spectrum / np.sqrt(k), n=n)
    return out / out.std()


def noise_burst(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A non-speech event: band-passed noise with a fast attack and slow decay (a door, a
    clatter), unit peak."""
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    low = rng.uniform(300, 1500)
    spectrum[(freqs < low) | (freqs > low * 3)] = 0
    burst = np.fft.irfft(spectrum, n=n) * np.exp(-np.arange(n) / (0.25 * RATE))
    return burst / (np.abs(burst).max() + 1e-9)


def build_recordings(manifest: str, count: int, minutes: float, snr: float, folder: Path,
                     seed: int = 0) -> list[tuple[Path, str, float]]:
    """``count`` recordings of about ``minutes`` each from distinct utterances of ``manifest``:
    ``(flac path, reference text, seconds)``."""
    rng = np.random.default_rng(seed)
    records = read_manifest(manifest)
    out = []
    index = 0
    for k in range(count):
        pieces, texts, total, speech = [], [], 0, []
        while total < minutes * 60 * RATE and index < len(records):
            wave = load_audio(records[index].path, RATE)
            pieces.append(wave)
            speech.append(wave)
            texts.append(records[index].text)
            index += 1
            pause = np.zeros(int(rng.uniform(0.5, 3.0) * RATE), np.float32)
            if index % 10 == 0:  # a long pause with a noise burst in it
                pause = np.zeros(int(rng.uniform(5, 8) * RATE), np.float32)
                burst = noise_burst(rng.uniform(0.5, 1.5), rng) * 0.3
                at = int(rng.uniform(1.0, 3.0) * RATE)
                pause[at:at + burst.size] = burst[:max(0, pause.size - at)]
            pieces.append(pause)
            total += wave.size + pause.size
        audio = np.concatenate(pieces)
        level = float(np.sqrt(np.mean(np.concatenate(speech) ** 2)))
        audio = audio + (pink_noise(audio.size, rng) * level / 10 ** (snr / 20)).astype(
            np.float32)
        path = folder / f"long-{k}.flac"
        sf.write(path, np.clip(audio, -1, 1), RATE, subtype="PCM_16")
        out.append((path, " ".join(texts), audio.size / RATE))
        if index >= len(records):
            break
    return out


def run_mode(recognizer, decoders: dict, path: Path, mode: str, args: argparse.Namespace
             ) -> dict:
    """Posteriors of one recording in ``mode`` (``fixed``, ``silero``, ``energy``), then each
    decoder's merged text; seconds spent in each part."""
    from asr.transcribe import file_posteriorgram, merge_units
    from asr.vad import VadConfig, vad_posteriorgrams
    from ctc.results import recognize_all

    started = time.perf_counter()
    if mode == "fixed":
        grams = [file_posteriorgram(recognizer, path, args.chunk_seconds, 2.0, 4)]
        chunks = math.ceil(grams[0].extent / args.chunk_seconds)
    else:
        config = VadConfig(backend=mode, pad=args.vad_pad)
        grams = vad_posteriorgrams(recognizer, path, config, batch_size=4)
        chunks = len(grams)
    posteriors = time.perf_counter() - started
    out: dict = {"posteriors_s": posteriors, "chunks": chunks,
                 "transcribed_s": sum(g.log_probs.shape[0] for g in grams)
                 * recognizer.output_frame_shift}
    for name, (decoder, confidence) in decoders.items():
        started = time.perf_counter()
        results = recognize_all(grams, decoder, recognizer.tokenizer, "s",
                                confidence=confidence)
        out[f"{name}_decode_s"] = time.perf_counter() - started
        out[f"{name}_text"] = merge_units(results).text if results else ""
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="WER and time of fixed windows vs --vad on "
                                                 "long recordings built from held-out speech.")
    parser.add_argument("--model", default=str(DEMO), help="experiment folder or checkpoint")
    parser.add_argument("--manifest", default=str(DEMO / "manifests" / "test-espeak.jsonl"),
                        help="held-out utterances to join (JSONL)")
    parser.add_argument("--lm", default=str(DEMO / "lm" / "3gram.arpa"),
                        help="ARPA LM for the beam-search rows ('' to skip)")
    parser.add_argument("--recordings", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=4.0, help="length of each recording")
    parser.add_argument("--snr", type=float, default=30.0,
                        help="speech-to-background-noise ratio in dB (pink noise)")
    parser.add_argument("--chunk-seconds", type=float, default=20.0)
    parser.add_argument("--vad-pad", type=float, default=None,
                        help="--vad-pad-seconds (default: asr.vad's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    for what, path in (("model", args.model), ("manifest", args.manifest)):
        if not Path(path).exists():
            raise SystemExit(f"bench_vad: {what} not found: {path} (run `make demo` first, or "
                             f"pass --{what})")
    from asr.vad import VadConfig, silero_available
    from ctc.decode import DecodeConfig, build_decoder
    from ctc.decode.tuned import tuned_weights
    from ctc.metrics.errors import count_errors
    from ctc.recognizer import Recognizer
    from ctc.results import WordConfidence

    if args.vad_pad is None:
        args.vad_pad = VadConfig.pad
    torch.set_num_threads(args.threads)
    recognizer = Recognizer.load(args.model, "cpu")
    # each decoder with the word confidences asr transcribe computes (n-best with an LM)
    decoders = {"greedy": (build_decoder(DecodeConfig(), recognizer.tokenizer), None)}
    if args.lm and Path(args.lm).is_file():
        config = DecodeConfig(lm=args.lm).with_tuned(tuned_weights(args.model, args.lm))
        decoders["lm"] = (build_decoder(config, recognizer.tokenizer),
                          WordConfidence.of(config, recognizer.tokenizer))
    modes = ["fixed"] + (["silero"] if silero_available() else []) + ["energy"]
    rows: dict[str, dict] = {m: {"posteriors_s": 0.0, "transcribed_s": 0.0, "chunks": 0}
                             for m in modes}
    refs: list[str] = []
    hyps: dict[str, dict[str, list[str]]] = {m: {d: [] for d in decoders} for m in modes}
    with tempfile.TemporaryDirectory(prefix="bench_vad_") as tmp:
        recordings = build_recordings(args.manifest, args.recordings, args.minutes, args.snr,
                                      Path(tmp))
        audio_s = sum(seconds for _, _, seconds in recordings)
        print(f"{len(recordings)} recordings, {audio_s / 60:.1f} min in all, pink noise at "
              f"{args.snr:g} dB SNR, {torch.get_num_threads()} thread(s)", flush=True)
        for path, ref, _ in recordings:
            refs.append(ref)
            for mode in modes:
                got = run_mode(recognizer, decoders, path, mode, args)
                row = rows[mode]
                for key in ("posteriors_s", "transcribed_s", "chunks"):
                    row[key] += got[key]
                for name in decoders:
                    row[f"{name}_decode_s"] = row.get(f"{name}_decode_s", 0.0) \
                        + got[f"{name}_decode_s"]
                    hyps[mode][name].append(got[f"{name}_text"])
    results = {"audio_s": round(audio_s, 1), "snr_db": args.snr, "vad_pad": args.vad_pad,
               "modes": {}}
    header = "| mode | chunks | audio run % | " + " | ".join(
        f"WER {name} %" for name in decoders) + " | posteriors s | " + " | ".join(
        f"{name} total s" for name in decoders) + " |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for mode in modes:
        row = rows[mode]
        wers = {name: 100 * count_errors(refs, hyps[mode][name]).rate for name in decoders}
        totals = {name: row["posteriors_s"] + row[f"{name}_decode_s"] for name in decoders}
        label = {"fixed": f"fixed {args.chunk_seconds:g} s windows", "silero": "--vad (silero)",
                 "energy": "--vad (energy)"}[mode]
        print(f"| {label} | {row['chunks']} | {100 * row['transcribed_s'] / audio_s:.0f} | "
              + " | ".join(f"{wers[n]:.2f}" for n in decoders)
              + f" | {row['posteriors_s']:.1f} | "
              + " | ".join(f"{totals[n]:.1f}" for n in decoders) + " |")
        results["modes"][mode] = {**{k: round(v, 3) if isinstance(v, float) else v
                                     for k, v in row.items()},
                                  **{f"wer_{n}": round(w, 3) for n, w in wers.items()}}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
