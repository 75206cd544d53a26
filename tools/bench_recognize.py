"""Recognition throughput: text lines per second, one line per forward pass against batches of
lines of similar width (``htr recognize --batch-size``), on the same lines and model.

Two timings per batch size: the forward passes alone (``handwriting.recognize.run_lines`` on
normalised lines) and the whole posterior stage of ``htr recognize`` (reading the PNG files,
normalising, forward passes: ``document_posteriorgrams``). Each is the median of ``--repeats``
runs after an untimed warm-up run; the batch sizes take turns within each round of runs, so a
machine whose load changes slows them alike. The model is the IAM mini recipe's architecture
(``recipes/iam/conf/mini.yaml``: line CNN 16-32-48-64, 2 x 128 BiLSTM, height 40) with random
weights (throughput does not depend on them), or a trained one with ``--model``; the lines are
rendered text of 10 to 70 characters.

Usage: ``python tools/bench_recognize.py [--lines 128] [--batch-sizes 1 8 16 32] [--threads 1]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handwriting.recognize import document_posteriorgrams, run_lines  # noqa: E402

WORDS = ("the of and to in that was his with for had you not but which from this are they "
         "have one were all she when there would their said been some could into then them "
         "other more these two time like first over after also made before must through "
         "back years where much your way well down should because each just those people").split()


def mini_recognizer(height: int):
    """An untrained model of the IAM mini recipe's architecture."""
    from ctc.data.tokens import CharTokenizer
    from ctc.models import ModelConfig, build_model
    from ctc.recognizer import Recognizer
    from handwriting.featurizer import LineImageFeaturizer

    conf = yaml.safe_load((ROOT / "recipes/iam/conf/mini.yaml").read_text())
    model_conf = {k: v for k, v in conf["model"].items()}
    model_conf["input_dim"] = height
    tokenizer = CharTokenizer.build([" abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,'"])
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_dict(model_conf), len(tokenizer))
    return Recognizer(model, tokenizer, LineImageFeaturizer(height=height, augment=False))


def render_lines(folder: Path, count: int, seed: int) -> list[str]:
    """``count`` PNG line images of random words, 10 to 70 characters each."""
    rng = np.random.default_rng(seed)
    font = ImageFont.load_default(size=32)
    paths = []
    for i in range(count):
        text = ""
        target = int(rng.integers(10, 71))
        while len(text) < target:
            text += ("" if not text else " ") + WORDS[int(rng.integers(len(WORDS)))]
        width = int(font.getlength(text)) + 20
        image = Image.new("L", (width, 52), 235)
        ImageDraw.Draw(image).text((10, 6), text, fill=30, font=font)
        path = folder / f"line{i:04d}.png"
        image.save(path)
        paths.append(str(path))
    return paths


def median_times(runs: dict[int, Callable[[], object]], repeats: int) -> dict[int, float]:
    """The median time of each run over ``repeats`` rounds (one untimed warm-up each first),
    the runs taking turns within a round."""
    for run in runs.values():
        run()
    times: dict[int, list[float]] = {key: [] for key in runs}
    for _ in range(repeats):
        for key, run in runs.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=128, help="line images (default 128)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 16, 32],
                        help="batch sizes to time; the first is the reference (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row")
    parser.add_argument("--height", type=int, default=40, help="line height of the model")
    parser.add_argument("--model", help="a trained handwriting checkpoint or experiment folder "
                                        "instead of the untrained mini model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.model:
        from ctc.recognizer import Recognizer

        recognizer = Recognizer.load(args.model)
    else:
        recognizer = mini_recognizer(args.height)
    with tempfile.TemporaryDirectory() as tmp:
        paths = render_lines(Path(tmp), args.lines, args.seed)
        inks = [recognizer.featurizer.normalized(p)[0] for p in paths]
        columns = sum(ink.shape[1] for ink in inks)
        print(f"{len(paths)} lines, {columns / len(paths):.0f} columns on average at height "
              f"{recognizer.featurizer.height}; {args.threads} thread(s); median of "
              f"{args.repeats} runs after a warm-up")
        print("| batch size | forward lines/s | x | read+normalise+forward lines/s | x |")
        print("|---|---|---|---|---|")
        forward = median_times({b: lambda b=b: run_lines(recognizer, inks, b)
                                for b in args.batch_sizes}, args.repeats)
        whole = median_times({b: lambda b=b: list(document_posteriorgrams(recognizer, paths,
                                                                          batch_size=b))
                              for b in args.batch_sizes}, args.repeats)
        first = args.batch_sizes[0]
        for batch in args.batch_sizes:
            print(f"| {batch} | {len(paths) / forward[batch]:.1f} | "
                  f"{forward[first] / forward[batch]:.2f} | {len(paths) / whole[batch]:.1f} | "
                  f"{whole[first] / whole[batch]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
