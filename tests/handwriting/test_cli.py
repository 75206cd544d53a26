"""The ``htr`` command line: help, argument errors, prepare, and recognition output."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ctc.data.tokens import CharTokenizer
from ctc.decode.config import DEFAULTS
from ctc.decode.greedy import GreedyDecoder
from ctc.results import recognize
from handwriting import cli
from handwriting.featurizer import LineImageFeaturizer
from handwriting.images import LineGeometry
from handwriting.recognize import format_line, line_posteriorgrams, placed


@pytest.mark.parametrize("argv", [["--help"], ["prepare", "iam", "--help"], ["train", "--help"],
                                  ["evaluate", "--help"], ["recognize", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "usage: htr" in out


def test_help_lists_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["recognize", "--help"])
    out = capsys.readouterr().out
    for option in ("--model", "--lm", "--format", "IMAGES_OR_DIRS"):
        assert option in out


def test_missing_subcommand_is_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([])
    assert exit_.value.code == 2


def test_prepare_missing_root_one_line(tmp_path, capsys):
    code = cli.main(["prepare", "iam", "--root", str(tmp_path / "none"), "--out",
                     str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("htr: error: IAM root not found") and err.count("\n") == 1


def test_recognize_no_images_one_line(tmp_path, capsys):
    code = cli.main(["recognize", str(tmp_path), "--model", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "no images found" in err and "Traceback" not in err


def test_prepare_writes_manifests_and_text(tmp_path, capsys):
    root = tmp_path / "iam"
    (root / "ascii").mkdir(parents=True)
    (root / "ascii" / "lines.txt").write_text(
        "# comment\na01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to\n")
    img = root / "lines" / "a01" / "a01-000u" / "a01-000u-00.png"
    img.parent.mkdir(parents=True)
    gray = np.full((20, 80), 250, np.uint8)
    gray[5:15, 5:75] = 0
    Image.fromarray(gray).save(img)
    task = root / "largeWriterIndependentTextLineRecognitionTask"
    task.mkdir()
    for name in ("trainset", "validationset1", "testset"):
        (task / f"{name}.txt").write_text("a01-000u-00\n")
    out = tmp_path / "m"
    assert cli.main(["prepare", "iam", "--root", str(root), "--out", str(out)]) == 0
    assert (out / "train.txt").read_text() == "A MOVE to\n"
    assert json.loads((out / "valid.jsonl").read_text())["id"] == "a01-000u-00"


class _FakeRecognizer:
    """Emits, for each input column group, a fixed posterior path spelling 'ab'."""

    def __init__(self) -> None:
        self.tokenizer = CharTokenizer.build(["ab "])
        self.featurizer = LineImageFeaturizer(height=16, augment=False)
        self.output_frame_shift = 4.0

    def log_probs(self, features):
        (x,) = features
        frames = x.shape[1] // 4
        path = [0] * frames
        a, b = self.tokenizer.encode("ab")
        path[1:3] = [a, a]
        path[5] = b
        lp = torch.full((1, frames, len(self.tokenizer)), -10.0)
        lp[0, torch.arange(frames), torch.tensor(path)] = 0.0
        return lp, torch.tensor([frames])


def test_char_boxes_map_to_original_pixels():
    tok = CharTokenizer.build(["ab"])
    a, b = tok.encode("ab")
    lp = torch.full((8, len(tok)), -9.0)
    path = [0, a, a, 0, 0, b, 0, 0]
    lp[torch.arange(8), torch.tensor(path)] = 0.0
    gram = placed("x.png", lp, LineGeometry(x0=10, scale=2.0, width=200, height=40), 4.0)
    result = recognize(gram, GreedyDecoder(tok.symbols, word_delimiter=tok.word_delimiter), tok,
                       "px")
    assert result.text == "ab"
    boxes = result.tokens
    assert [(c.text, c.start, c.end) for c in boxes] == [("a", 18.0, 34.0), ("b", 50.0, 58.0)]


def test_recognize_images_skips_bad_and_reports(tmp_path):
    good = tmp_path / "good.png"
    gray = np.full((32, 200), 250, np.uint8)
    gray[8:24, 10:190] = 0
    Image.fromarray(gray).save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"junk")
    skipped, results = [], []
    fake = _FakeRecognizer()
    for path, gram in line_posteriorgrams(fake, [str(good), str(bad)]):
        if isinstance(gram, Exception):
            skipped.append((path, str(gram)))
        else:
            results.append(recognize(gram, GreedyDecoder(fake.tokenizer.symbols),
                                     fake.tokenizer, "px"))
    assert len(results) == 1 and results[0].text == "ab"
    assert skipped and skipped[0][0] == str(bad) and "unreadable image" in skipped[0][1]
    boxes = json.loads(format_line(results[0], "json"))["chars"]
    assert boxes[0]["char"] == "a" and 0 <= boxes[0]["x0"] < boxes[0]["x1"] <= 200


def test_recognize_command_json_and_exit_status(tmp_path, capsys, monkeypatch):
    good = tmp_path / "lines" / "good.png"
    good.parent.mkdir()
    gray = np.full((32, 200), 250, np.uint8)
    gray[8:24, 10:190] = 0
    Image.fromarray(gray).save(good)
    monkeypatch.setattr("ctc.commands.recognize.load_recognizer",
                        lambda *_: _FakeRecognizer())
    assert cli.main(["recognize", str(tmp_path / "lines"), "--model", "x",
                     "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out.strip())
    assert row["text"] == "ab" and row["path"] == str(good) and len(row["chars"]) == 2
    (tmp_path / "lines" / "blank.png").write_bytes(b"")
    assert cli.main(["recognize", str(tmp_path / "lines"), "--model", "x"]) == 1
    captured = capsys.readouterr()
    assert "good.png\tab" in captured.out
    assert "blank.png" in captured.err and "1 of 2 images skipped" in captured.err


def test_train_rejects_bad_frontend_key(tmp_path, capsys):
    pytest.importorskip("ctc.train")
    conf = tmp_path / "c.yaml"
    conf.write_text("frontend:\n  height: 32\n  colour: red\nmodel:\n  frontend: line_cnn\n")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("")
    code = cli.main(["train", "--config", str(conf), "--train", str(manifest), "--valid",
                     str(manifest), "--out", str(tmp_path / "exp")])
    err = capsys.readouterr().err
    assert code == 1 and "colour" in err and err.count("\n") == 1


def test_decoder_options_defaults():
    args = cli.PROGRAM.parser().parse_args(["evaluate", "--model", "m", "--manifest", "x",
                                          "--report", "r"])
    assert args.lm is None and args.decoder is None and args.device == "cpu"
    assert args.alpha is None and args.beta is None  # tuned values beside the model, or defaults
    assert args.beam_size == DEFAULTS.beam_size
