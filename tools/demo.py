"""The main job end to end: `make demo`.

Generates a speech corpus (LibriSpeech layout, espeak-ng voices) and a handwriting corpus (IAM
layout, Debian handwriting fonts), builds word n-gram LMs from the training text, trains the mini
speech and handwriting models on the CPU, evaluates both greedy and with the LM on held-out voices
and fonts, then transcribes a held-out audio file and recognises a held-out line image.

The two recipes (recipes/librispeech/run.sh, recipes/iam/run.sh) run side by side, one core each,
with their logs in OUT/logs; every recipe stage leaves a sentinel, so a rerun reuses what is
already built. Results: OUT/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SIZES = {
    # name: speech train/dev/test utterances, handwriting train/dev/test lines, extra train args
    "full": dict(speech=(2500, 200, 200), hand=(2400, 120, 240), train_args=""),
    "smoke": dict(speech=(60, 12, 12), hand=(60, 12, 12), train_args="--set train.epochs=1"),
}


@dataclass
class Job:
    """One recipe running in the background."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    exp: Path
    proc: subprocess.Popen | None = None
    started: float = field(default_factory=time.monotonic)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = self.log.open("a", encoding="utf-8")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=handle,
                                     stderr=subprocess.STDOUT)

    def status(self) -> str:
        last = ""
        if self.log.exists():
            lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
            if lines:
                last = lines[-1].split("\r")[-1].strip()
        return f"{self.name}: {last[:110]}"


def recipe_jobs(out: Path, size: str) -> list[Job]:
    sizes = SIZES[size]
    py = sys.executable
    base = {**os.environ, "PYTHON": py, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    s_train, s_dev, s_test = sizes["speech"]
    speech_env = {
        **base, "CORPUS": "synth", "CORPUS_ROOT": str(out / "data/librispeech-synth"),
        "EXP": str(out / "exp/speech"), "SYNTH_TRAIN": str(s_train), "SYNTH_DEV": str(s_dev),
        "SYNTH_TEST": str(s_test), "NJ": "1", "TRAIN_ARGS": sizes["train_args"],
    }
    h_train, h_dev, h_test = sizes["hand"]
    hand_env = {
        **base, "CORPUS": "synth", "CORPUS_ROOT": str(out / "data/iam-synth"),
        "MANIFESTS": str(out / "data/iam-manifests"), "EXP": str(out / "exp/handwriting"),
        "SYNTH_TRAIN": str(h_train), "SYNTH_DEV": str(h_dev), "SYNTH_TEST": str(h_test),
        "TRAIN_ARGS": sizes["train_args"],
    }
    return [
        Job("speech", ["bash", "recipes/librispeech/run.sh"], speech_env,
            out / "logs/speech.log", out / "exp/speech"),
        Job("handwriting", ["bash", "recipes/iam/run.sh"], hand_env,
            out / "logs/handwriting.log", out / "exp/handwriting"),
    ]


def run_jobs(jobs: list[Job], parallel: bool, tick: float) -> None:
    """Run the recipes, printing one status line per job every ``tick`` seconds."""
    pending = list(jobs)
    running: list[Job] = []
    while pending or running:
        while pending and (parallel or not running):
            job = pending.pop(0)
            print(f"[demo] {job.name}: starting (log: {job.log})", flush=True)
            job.start()
            running.append(job)
        deadline = time.monotonic() + tick
        while time.monotonic() < deadline and all(j.proc.poll() is None for j in running):
            time.sleep(0.5)
        for job in list(running):
            code = job.proc.poll()
            if code is None:
                minutes = (time.monotonic() - job.started) / 60
                print(f"[demo] {minutes:5.1f} min  {job.status()}", flush=True)
                continue
            running.remove(job)
            if code != 0:
                for other in running:
                    other.proc.terminate()
                tail = job.log.read_text(errors="replace").splitlines()[-25:]
                print("\n".join(tail), file=sys.stderr)
                raise SystemExit(f"[demo] {job.name} recipe failed (exit {code}); log: {job.log}")
            print(f"[demo] {job.name}: done in {(time.monotonic() - job.started) / 60:.1f} min",
                  flush=True)


def first_record(manifest: Path) -> dict:
    with manifest.open(encoding="utf-8") as handle:
        return json.loads(handle.readline())


def resolve(manifest: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else manifest.parent / p


def run_command(argv: list[str]) -> str:
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    if result.returncode != 0:
        raise SystemExit(f"[demo] command failed: {' '.join(argv)}\n{result.stderr.strip()}")
    return result.stdout


def lm_options(exp: Path) -> list[str]:
    """The recipe's LM (any order), if built; its weights come from EXPDIR/lm_tuned.json (ctc
    tune-lm)."""
    lms = sorted((exp / "lm").glob("*gram.arpa"))
    return ["--lm", str(lms[0])] if lms else []


def showcase(out: Path) -> list[str]:
    """Transcribe one held-out audio file and recognise one held-out line image."""
    py = sys.executable
    speech_exp = out / "exp/speech"
    manifest = speech_exp / "manifests/test-espeak.jsonl"
    record = first_record(manifest)
    audio = resolve(manifest, record["path"])
    output = out / "transcripts"
    run_command([py, "-m", "asr.cli", "transcribe", str(audio), "--model", str(speech_exp),
                 *lm_options(speech_exp), "--format", "srt",
                 "--output", str(output), "--quiet"])
    srt = (output / f"{audio.stem}.srt").read_text(encoding="utf-8").strip()
    lines = [f"### Held-out voice: `{audio.name}`", "", f"reference: {record['text'].lower()}",
             "", "```srt", srt, "```", ""]

    hand_exp = out / "exp/handwriting"
    manifest = out / "data/iam-manifests/test.jsonl"
    record = first_record(manifest)
    image = resolve(manifest, record["path"])
    text = run_command([py, "-m", "handwriting.cli", "recognize", str(image), "--model",
                        str(hand_exp), *lm_options(hand_exp),
                        "--format", "txt"]).strip()
    lines += [f"### Held-out font: `{image.name}`", "", f"reference:  {record['text']}",
              f"recognised: {text.split(chr(9), 1)[-1]}", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "demo", help="working folder")
    parser.add_argument("--size", choices=sorted(SIZES), default="full",
                        help="corpus and training size (smoke: a toy run for the tests)")
    parser.add_argument("--sequential", action="store_true",
                        help="run the two recipes one after the other")
    parser.add_argument("--tick", type=float, default=20.0, help="seconds between status lines")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    started = time.monotonic()
    jobs = recipe_jobs(out, args.size)
    run_jobs(jobs, parallel=not args.sequential, tick=args.tick)

    report = ["# carousel demo results", ""]
    for job in jobs:
        results = job.exp / "RESULTS.md"
        body = results.read_text(encoding="utf-8").splitlines()[1:]
        report += [f"## {job.name}", *body, ""]
    report += ["## Showcase", "", *showcase(out)]
    minutes = (time.monotonic() - started) / 60
    report += [f"Demo wall time: {minutes:.1f} min ({os.cpu_count()} cores)."]
    text = "\n".join(report) + "\n"
    (out / "RESULTS.md").write_text(text, encoding="utf-8")
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
