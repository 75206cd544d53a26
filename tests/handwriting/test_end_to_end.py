"""A tiny end-to-end run of the IAM recipe's commands: synth -> prepare -> train -> evaluate ->
recognize (slow: trains a model)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from handwriting import cli

pytest.importorskip("ctc.train")
pytest.importorskip("ctc.recognizer")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import synth_iam

CONFIG = """\
frontend: {height: 24, augment: false}
model: {frontend: line_cnn, cnn_channels: [8, 16], cnn_pooled: 2, layers: 1, hidden: 32}
optim: {lr: 0.003, warmup_steps: 5}
train: {epochs: 2, device: cpu, progress: false, ctc_impl: torch, keep_best: 1,
        average_last: 0, checkpoint_every: 0}
data: {max_frames: 4000}
"""


@pytest.mark.slow
def test_tiny_recipe(tmp_path, capsys):
    fonts = [f for f in synth_iam.list_font_files()
             if synth_iam.font_family(f) in ("DkgHandwriting", "Steve", "Rufscript")]
    if len(fonts) < 3:
        pytest.skip("Debian handwriting fonts not installed")
    root, data, exp = tmp_path / "iam", tmp_path / "data", tmp_path / "exp"
    synth_iam.synthesize(root, train=30, dev=4, test=4, font_size=24, jobs=1, err_rate=0.0,
                         fonts=fonts, log=lambda m: None)
    assert cli.main(["prepare", "iam", "--root", str(root), "--out", str(data)]) == 0
    conf = tmp_path / "tiny.yaml"
    conf.write_text(CONFIG)
    assert cli.main(["train", "--config", str(conf), "--train", str(data / "train.jsonl"),
                     "--valid", str(data / "valid.jsonl"), "--out", str(exp)]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", str(exp), "--manifest", str(data / "test.jsonl"),
                     "--report", str(tmp_path / "report")]) == 0
    assert "CER" in capsys.readouterr().out
    summary = json.loads((tmp_path / "report" / "report.json").read_text())
    assert summary["utterances"] > 0 and 0.0 <= summary["cer"]["rate"]
    images = sorted((root / "lines").rglob("*.png"))[:2]
    assert cli.main(["recognize", *map(str, images), "--model", str(exp),
                     "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["path"] for r in rows] == [str(p) for p in images]
    for row in rows:
        assert all(c["x0"] <= c["x1"] for c in row["chars"])
