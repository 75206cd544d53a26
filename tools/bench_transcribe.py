"""Real-time factor and peak memory of ``asr transcribe``.

RTF = processing seconds / audio seconds, for greedy decoding and with the LM, measured on
generated speech (utterances of a manifest, e.g. the espeak-ng test set, concatenated into one
file). Then a one-hour file (the same audio repeated, written block by block) is transcribed in a
child process whose peak resident memory is read from ``getrusage``.

Usage:
  python tools/bench_transcribe.py --model exp/librispeech-mini \\
      --manifest exp/librispeech-mini/manifests/test-espeak.jsonl \\
      --lm exp/librispeech-mini/lm/3gram.arpa [--seconds 120] [--hour-minutes 60]
Goals for the mini model on 2 CPU cores: RTF <= 0.05 greedy, <= 0.1 with the LM; peak memory of a
one-hour file < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.audio import load_audio
from ctc.data.manifest import read_manifest

RATE = 16000


def concatenated_audio(manifest: str, seconds: float) -> np.ndarray:
    """Utterances of ``manifest`` joined with 0.3 s pauses until ``seconds`` of audio."""
    pieces, total = [], 0
    pause = np.zeros(int(0.3 * RATE), np.float32)
    for record in read_manifest(manifest):
        wave = load_audio(record.path, RATE)
        pieces += [wave, pause]
        total += wave.size + pause.size
        if total >= seconds * RATE:
            break
    return np.concatenate(pieces)


def write_long_file(path: Path, audio: np.ndarray, minutes: float) -> float:
    """Write ``audio`` repeated to ``minutes`` of FLAC, one repetition at a time."""
    target = int(minutes * 60 * RATE)
    written = 0
    with sf.SoundFile(path, "w", RATE, 1, "PCM_16", format="FLAC") as handle:
        while written < target:
            block = audio[: target - written]
            handle.write(block)
            written += block.size
    return written / RATE


def rtf(model: str, path: Path, lm: str | None, args: argparse.Namespace) -> dict:
    from asr.transcribe import transcribe_file
    from ctc.decode import DecodeConfig, build_decoder
    from ctc.decode.tuned import tuned_weights
    from ctc.recognizer import Recognizer

    recognizer = Recognizer.load(model, "cpu")
    config = DecodeConfig(lm=lm, alpha=args.alpha, beta=args.beta, beam_size=args.beam_size)
    config = config.with_tuned(tuned_weights(model, lm) if lm else None)
    decoder, label = build_decoder(config, recognizer.tokenizer), config.label()
    transcribe_file(recognizer, decoder, path, args.chunk_seconds)  # warm-up
    started = time.perf_counter()
    result = transcribe_file(recognizer, decoder, path, args.chunk_seconds)
    seconds = time.perf_counter() - started
    return {"decoder": label, "audio_s": round(result.extent, 2),
            "wall_s": round(seconds, 3), "rtf": round(seconds / result.extent, 4),
            "words": len(result.words)}


def hour_memory(model: str, path: Path, lm: str | None, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, "-m", "asr.cli", "transcribe", str(path), "--model", model,
           "--quiet", "--format", "json", "--chunk-seconds", str(args.chunk_seconds)]
    if lm:
        cmd += ["--lm", lm, "--beam-size", str(args.beam_size)]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"transcribe failed: {proc.stderr.strip()[-500:]}")
    words = len(json.loads(proc.stdout)["words"])
    return {"wall_s": round(seconds, 1), "peak_rss_mb": round(peak_kb / 1024, 1),
            "words": words}


def main(argv: list[str] | None = None) -> int:
    from ctc.decode.config import DEFAULTS

    parser = argparse.ArgumentParser(description="RTF and peak memory of asr transcribe.")
    parser.add_argument("--model", required=True, help="experiment folder or checkpoint")
    parser.add_argument("--manifest", required=True, help="speech to concatenate (JSONL)")
    parser.add_argument("--lm", help="ARPA LM for the beam-search measurement")
    parser.add_argument("--seconds", type=float, default=120.0, help="audio for the RTF runs")
    parser.add_argument("--hour-minutes", type=float, default=60.0,
                        help="length of the long file (0: skip the memory run)")
    parser.add_argument("--beam-size", type=int, default=DEFAULTS.beam_size)
    parser.add_argument("--alpha", type=float, default=None,
                        help="LM weight (default: tuned beside the model, else the default)")
    parser.add_argument("--beta", type=float, default=None, help="word bonus (likewise)")
    parser.add_argument("--chunk-seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench_transcribe_") as tmp:
        audio = concatenated_audio(args.manifest, args.seconds)
        short = Path(tmp) / "speech.flac"
        sf.write(short, audio, RATE, subtype="PCM_16")
        results["greedy"] = rtf(args.model, short, None, args)
        print(f"greedy: RTF {results['greedy']['rtf']:.4f} (goal <= 0.05) on "
              f"{results['greedy']['audio_s']:.0f} s")
        if args.lm:
            results["lm"] = rtf(args.model, short, args.lm, args)
            print(f"with LM: RTF {results['lm']['rtf']:.4f} (goal <= 0.1) "
                  f"[{results['lm']['decoder']}]")
            ratio = results["lm"]["rtf"] / results["greedy"]["rtf"]
            print(f"LM / greedy time ratio: {ratio:.2f}")
        if args.hour_minutes > 0:
            long_file = Path(tmp) / "long.flac"
            seconds = write_long_file(long_file, audio, args.hour_minutes)
            mem = hour_memory(args.model, long_file, None, args)
            mem.update(audio_s=seconds, rtf=round(mem["wall_s"] / seconds, 4))
            results["long_file"] = mem
            print(f"{seconds / 60:.0f} min file: peak RSS {mem['peak_rss_mb']:.0f} MB "
                  f"(goal < 2048), wall {mem['wall_s']:.0f} s (RTF {mem['rtf']:.4f}, "
                  f"process start included), {mem['words']} words")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
