"""``torchrun --nproc_per_node K -m asr.cli evaluate|transcribe``: the inputs are shared out
over the processes and merged back; the report and outputs equal a single process's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ctc.data.manifest import Record, write_manifest

ROOT = Path(__file__).resolve().parents[3]


def _run(argv: list[str], processes: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    if processes > 1:
        torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
        if torchrun is None:
            pytest.skip("torchrun not installed")
        command = [torchrun, "--standalone", "--nproc_per_node", str(processes), "-m",
                   "asr.cli", *argv]
    else:
        command = [sys.executable, "-m", "asr.cli", *argv]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_two_processes_give_the_same_report_and_outputs(speech_model, tmp_path, write_speech):
    records = [Record(f"u{i}", "audio", str(speech_model / f"u{i}.wav"),
                      "AB BA" if i % 2 else "A B") for i in range(4)]
    records.insert(2, Record("lost", "audio", str(tmp_path / "missing.wav"), "A"))
    write_speech(tmp_path / "extra.wav", 0.7, 9)
    records.append(Record("extra", "audio", str(tmp_path / "extra.wav"), "B A B"))
    write_manifest(tmp_path / "m.jsonl", records)
    model = str(speech_model / "exp")
    reports = {}
    for k in (1, 2):
        proc = _run(["evaluate", "--model", model, "--manifest", str(tmp_path / "m.jsonl"),
                     "--report", str(tmp_path / f"r{k}")], k)
        assert proc.returncode == 1, proc.stderr[-2000:]  # the missing file, counted once
        assert proc.stderr.count("missing.wav") == 1 and "1 of 6 utterances skipped" in proc.stderr
        reports[k] = json.loads((tmp_path / f"r{k}" / "report.json").read_text())
        rows = (tmp_path / f"r{k}" / "hypotheses.jsonl").read_text()
        assert [json.loads(r)["id"] for r in rows.splitlines()] == [
            r.id for r in records if r.id != "lost"]
        reports[k]["rows"] = rows
    for key in ("utterances", "rows"):
        assert reports[1][key] == reports[2][key]
    assert reports[1]["wer"] == reports[2]["wer"] and reports[1]["cer"] == reports[2]["cer"]

    files = [str(speech_model / f"u{i}.wav") for i in range(4)] + [str(tmp_path / "extra.wav")]
    outputs = {}
    for k in (1, 2):
        proc = _run(["transcribe", *files, "--model", model, "--format", "json", "--quiet"], k)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outputs[k] = [json.loads(line)["path"] for line in proc.stdout.splitlines()]
        proc = _run(["transcribe", *files, "--model", model, "--format", "ctm", "--output",
                     str(tmp_path / f"out{k}"), "--quiet"], k)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert outputs[1] == outputs[2] == files
    for name in sorted(p.name for p in (tmp_path / "out1").iterdir()):
        assert (tmp_path / "out1" / name).read_text() == (tmp_path / "out2" / name).read_text()
