"""Real-time factor and peak memory of ``asr transcribe``.

RTF = processing seconds / audio seconds, for greedy decoding, with the LM (and the n-best
search behind word confidences, as ``asr transcribe`` runs it) and with ``--vad``,
measured in this process on one thread on generated speech (utterances of a manifest, e.g. the
espeak-ng test set, joined with 0.3 s pauses into one file; the best of ``--repeats`` runs after
a warm-up, since other work on the machine only ever slows a run down). Then a one-hour file (the
same audio repeated, written block by block) is transcribed by ``asr transcribe`` in a child
process, greedy and with the LM, each child's peak resident memory read from ``wait4``. The
machine's load average is printed with the results.

Usage (no arguments: the demo's model, test manifest and LM; run `make demo` first):
  python tools/bench_transcribe.py [--model demo/exp/speech]
      [--manifest demo/exp/speech/manifests/test-espeak.jsonl]
      [--lm demo/exp/speech/lm/3gram.arpa] [--seconds 120] [--hour-minutes 60] [--json F]
Goals for the mini model on 2 CPU cores: RTF <= 0.05 greedy, <= 0.1 with the LM; peak memory of a
one-hour file < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asr.audio import load_audio  # noqa: E402
from ctc.data.manifest import read_manifest  # noqa: E402

RATE = 16000
DEMO = ROOT / "demo" / "exp" / "speech"


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


def rtf(model: str, path: Path, lm: str | None, args: argparse.Namespace,
        vad: bool = False) -> dict:
    """The best of ``args.repeats`` timed transcriptions of ``path`` (after one untimed run)."""
    import torch

    from asr.transcribe import merge_units, transcribe_file
    from asr.vad import VadConfig, resolve_backend, vad_posteriorgrams
    from ctc.decode import DecodeConfig, build_decoder
    from ctc.decode.tuned import tuned_weights
    from ctc.recognizer import Recognizer
    from ctc.results import WordConfidence, recognize_all

    torch.set_num_threads(1)
    recognizer = Recognizer.load(model, "cpu")
    config = DecodeConfig(lm=lm, alpha=args.alpha, beta=args.beta, beam_size=args.beam_size)
    config = config.with_tuned(tuned_weights(model, lm) if lm else None)
    decoder, label = build_decoder(config, recognizer.tokenizer), config.label()
    confidence = WordConfidence.of(config, recognizer.tokenizer)  # as asr transcribe does
    if confidence.decoder is not None:
        label += f" + {confidence.nbest}-best word confidences"

    def once():
        if not vad:
            return transcribe_file(recognizer, decoder, path, args.chunk_seconds,
                                   confidence=confidence)
        grams = vad_posteriorgrams(recognizer, path, VadConfig())
        return merge_units(recognize_all(grams, decoder, recognizer.tokenizer, "s",
                                         confidence=confidence))

    once()  # warm-up
    times = []
    for _ in range(max(1, args.repeats)):
        started = time.perf_counter()
        result = once()
        times.append(time.perf_counter() - started)
    seconds = min(times)
    if vad:
        label += f" --vad ({resolve_backend('auto')})"
    return {"decoder": label, "audio_s": round(result.extent, 2),
            "wall_s": round(seconds, 3), "runs_s": [round(t, 3) for t in times],
            "rtf": round(seconds / result.extent, 4), "words": len(result.words)}


def hour_memory(model: str, path: Path, lm: str | None, args: argparse.Namespace,
                vad: bool = False) -> dict:
    """``asr transcribe`` of ``path`` (with ``--vad`` when asked) in a child process on one
    thread: wall time and its own peak RSS."""
    cmd = [sys.executable, "-m", "asr.cli", "transcribe", str(path), "--model", model,
           "--quiet", "--format", "json", "--chunk-seconds", str(args.chunk_seconds)]
    if lm:
        cmd += ["--lm", lm, "--beam-size", str(args.beam_size)]
    if vad:
        cmd += ["--vad"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"bench_transcribe: transcribe failed: "
                             f"{err.read().decode(errors='replace').strip()[-500:]}")
        words = len(json.loads(out.read())["words"])
    return {"wall_s": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "words": words}


def main(argv: list[str] | None = None) -> int:
    from ctc.decode.config import DEFAULTS

    parser = argparse.ArgumentParser(
        description="RTF and peak memory of asr transcribe (defaults: the demo's model, test "
                    "manifest and LM).")
    parser.add_argument("--model", default=str(DEMO), help="experiment folder or checkpoint")
    parser.add_argument("--manifest", default=str(DEMO / "manifests" / "test-espeak.jsonl"),
                        help="speech to concatenate (JSONL)")
    parser.add_argument("--lm", default=str(DEMO / "lm" / "3gram.arpa"),
                        help="ARPA LM for the beam-search measurements ('' to skip)")
    parser.add_argument("--seconds", type=float, default=120.0, help="audio for the RTF runs")
    parser.add_argument("--repeats", type=int, default=3, help="timed RTF runs (best kept)")
    parser.add_argument("--hour-minutes", type=float, default=60.0,
                        help="length of the long file (0: skip the memory runs)")
    parser.add_argument("--beam-size", type=int, default=DEFAULTS.beam_size)
    parser.add_argument("--alpha", type=float, default=None,
                        help="LM weight (default: tuned beside the model, else the default)")
    parser.add_argument("--beta", type=float, default=None, help="word bonus (likewise)")
    parser.add_argument("--chunk-seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    for what, path in (("model", args.model), ("manifest", args.manifest)):
        if not Path(path).exists():
            print(f"bench_transcribe: {what} not found: {path} (run `make demo` first, or pass "
                  f"--{what})", file=sys.stderr)
            return 1
    lm = args.lm if args.lm else None
    if lm and not Path(lm).is_file():
        print(f"bench_transcribe: LM not found: {lm} (run `make demo` first, pass --lm, or "
              "--lm '' to skip the LM)", file=sys.stderr)
        return 1

    results: dict = {"load_average": [round(x, 2) for x in os.getloadavg()],
                     "cpus": os.cpu_count()}
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on "
          f"{os.cpu_count()} CPUs; RTF runs on one thread, best of {args.repeats}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_transcribe_") as tmp:
        audio = concatenated_audio(args.manifest, args.seconds)
        short = Path(tmp) / "speech.flac"
        sf.write(short, audio, RATE, subtype="PCM_16")
        results["greedy"] = rtf(args.model, short, None, args)
        print(f"greedy: RTF {results['greedy']['rtf']:.4f} (goal <= 0.05) on "
              f"{results['greedy']['audio_s']:.0f} s", flush=True)
        if lm:
            results["lm"] = rtf(args.model, short, lm, args)
            print(f"with LM: RTF {results['lm']['rtf']:.4f} (goal <= 0.1) "
                  f"[{results['lm']['decoder']}]", flush=True)
            ratio = results["lm"]["rtf"] / results["greedy"]["rtf"]
            print(f"LM / greedy time ratio: {ratio:.2f}", flush=True)
        results["vad_greedy"] = rtf(args.model, short, None, args, vad=True)
        print(f"{results['vad_greedy']['decoder']}: RTF {results['vad_greedy']['rtf']:.4f}",
              flush=True)
        if lm:
            results["vad_lm"] = rtf(args.model, short, lm, args, vad=True)
            print(f"{results['vad_lm']['decoder']}: RTF {results['vad_lm']['rtf']:.4f}",
                  flush=True)
        if args.hour_minutes > 0:
            long_file = Path(tmp) / "long.flac"
            seconds = write_long_file(long_file, audio, args.hour_minutes)
            for name, model_lm, vad in (("long_file", None, False), ("long_file_lm", lm, False),
                                        ("long_file_lm_vad", lm, True)):
                if model_lm is None and name != "long_file":
                    continue
                mem = hour_memory(args.model, long_file, model_lm, args, vad)
                mem.update(audio_s=seconds, rtf=round(mem["wall_s"] / seconds, 4))
                results[name] = mem
                what = ("LM" if model_lm else "greedy") + (" --vad" if vad else "")
                print(f"{seconds / 60:.3g} min file, {what}: peak RSS "
                      f"{mem['peak_rss_mb']:.0f} MB (goal < 2048), wall {mem['wall_s']:.0f} s "
                      f"(RTF {mem['rtf']:.4f}, process start included), {mem['words']} words",
                      flush=True)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
