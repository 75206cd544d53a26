"""tools/mnist_line_errors.py: errors of recognized digit lines charged to the images the lines
hold, through substitutions, deletions and insertions; bad inputs are one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import mnist_line_errors as errs  # noqa: E402

sys.path.pop(0)


def write_inputs(tmp_path: Path, rows: list[tuple[str, str, str]]) -> tuple[Path, Path]:
    digits = tmp_path / "digits.tsv"
    digits.write_text("line\timages\nm03-000-00\t11 12 13 14\nm03-000-01\t13 15 16\n")
    hyps = tmp_path / "hypotheses.jsonl"
    hyps.write_text("".join(json.dumps({"id": i, "ref": r, "hyp": h}) + "\n" for i, r, h in rows))
    return digits, hyps


def test_errors_are_charged_to_images(tmp_path, capsys):
    digits, hyps = write_inputs(tmp_path, [
        ("m03-000-00", "12 34", "12 84"),  # image 13 (a 3) read as 8
        ("m03-000-01", "356", "3 5"),      # image 16 (a 6) dropped; a space inserted: no digit
    ])
    result = errs.count_errors(hyps, errs.read_digits(digits))
    assert result.digits == 7 and result.insertions == 0 and result.errors == 2
    assert result.wrong == {"13": 1, "16": 1}
    assert result.shown["13"] == 2 and result.labels["16"] == "6"
    assert result.read_as["16"] == {"": 1}
    assert errs.main(["--digits", str(digits), str(hyps), str(hyps)]) == 0
    out = capsys.readouterr().out
    assert "2 digit errors of 7 digits (28.57 %; 0 inserted), on 2 of 6 images" in out
    assert "image 13 (a 3): wrong in 1 of its 2 lines, read as 8 x1" in out
    assert "read as dropped x1" in out
    assert out.strip().endswith("misread in all 2: 2 images: 13 (a 3), 16 (a 6)")


def test_insertions_count_but_belong_to_no_image(tmp_path):
    digits, hyps = write_inputs(tmp_path, [("m03-000-01", "356", "3556")])
    result = errs.count_errors(hyps, errs.read_digits(digits))
    assert result.insertions == 1 and result.errors == 1 and not result.wrong


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    digits, hyps = write_inputs(tmp_path, [("m03-000-09", "12", "12")])
    assert errs.main(["--digits", str(digits), str(hyps)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"mnist_line_errors: error: {hyps}:1: line 'm03-000-09' is not in the digits "
                   "list or holds another number of digits"]
    hyps.write_text("{not json\n")
    assert errs.main(["--digits", str(digits), str(hyps)]) == 1
    assert f"{hyps}:1: not a hypotheses row" in capsys.readouterr().err
    assert errs.main(["--digits", str(tmp_path / "none.tsv"), str(hyps)]) == 1
    assert "none.tsv: no such file" in capsys.readouterr().err
