"""Render a handwriting-style text-line corpus in exactly the IAM database layout.

Output tree (as the real IAM distribution, so ``htr prepare iam`` reads both the same way)::

    ROOT/ascii/lines.txt     # id ok|err graylevel components x y w h word|word|...
    ROOT/ascii/forms.txt     # form-id writer-id sentences prt lines lines-ok words words-ok
    ROOT/lines/g01/g01-000/g01-000-00.png
    ROOT/largeWriterIndependentTextLineRecognitionTask/{trainset,validationset1,testset}.txt
    ROOT/splits/aachen/{tr,va,te}.lst
    ROOT/writers.txt         # writer id -> font file (not in IAM; for people)
    ROOT/lm-text.txt         # LM training text (not in IAM): train lines + extra sentences

Each font file of the Debian handwriting font packages is one "writer". Whole font families are
held out: two for the test split, two others for the dev split, as IAM holds out writers. Fonts
that miss a character of the text, or that draw lower case as capitals, are skipped. Every line
gets its own random size, slant, stroke width, baseline drift and jitter, letter and word
spacing, ink level, paper noise and blur, drawn from a generator seeded by the line id, so the
tree is the same on every run; existing images are kept (the run is idempotent). Text comes from
``tools/corpus_text.py`` (sentence-disjoint splits) with IAM-like casing and punctuation, wrapped
into lines of at most ``--max-chars`` characters.

Usage: ``python tools/synth_iam.py --out data/iam_synth --train 3000 --dev 150 --test 300``.
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import os
import string
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_text

# One pattern per Debian package: fonts-dkg-handwriting, fonts-breip, fonts-kristi, fonts-klee,
# fonts-rufscript, fonts-sjfonts, fonts-bwht, fonts-comic-neue, fonts-dancingscript,
# fonts-ecolier-court, fonts-femkeklaver, fonts-kaushanscript, fonts-leckerli-one, fonts-lobster,
# fonts-havana, fonts-tlwg-purisa-ttf (the handwriting face of the Thai set), fonts-yusei-magic.
FONT_PATTERNS = tuple(f"/usr/share/fonts/{p}" for p in (
    "truetype/fifthhorseman/*", "truetype/breip/*", "truetype/kristi/*", "truetype/klee/*",
    "truetype/rufscript/*", "truetype/sjfonts/*", "opentype/bwht/*", "opentype/comic-neue/*",
    "opentype/dancingscript/*", "truetype/ecolier-court/*", "truetype/femkeklaver/*",
    "opentype/kaushanscript/*", "truetype/leckerli-one/*", "opentype/lobster/*",
    "opentype/havana/*", "truetype/tlwg/Purisa*", "truetype/yusei-magic/*"))
FONT_SUFFIXES = (".ttf", ".otf")
# Whole families held out, two per split as IAM holds out several writers: the sjfonts package
# (Steve, Delphine: tight, small handwriting) for test, Rufscript and Kristi for dev.
TEST_FAMILIES = ("Steve", "Delphine")
DEV_FAMILIES = ("Rufscript", "Kristi")
LINES_PER_FORM = 8
LINE_CHARS = 48  # lines are wrapped at this many characters


@dataclass(frozen=True)
class Font:
    writer: str  # three digits, IAM style
    path: str
    family: str


@dataclass(frozen=True)
class LineJob:
    line_id: str
    text: str
    font_path: str
    out_path: str
    font_size: int
    err: bool
    seed: int


def list_font_files(patterns: Sequence[str] = FONT_PATTERNS) -> list[str]:
    """Font files matching ``patterns`` (``fc-list`` when none of them matches a file)."""
    files = sorted({p for pattern in patterns for p in glob.glob(pattern)
                    if Path(p).suffix.lower() in FONT_SUFFIXES})
    if files:
        return files
    try:
        out = subprocess.run(["fc-list", "--format", "%{file}\n"], capture_output=True,
                             text=True, check=False).stdout.split("\n")
    except OSError:
        return []
    return sorted(f for f in out if f and any(fnmatch.fnmatch(f, "*/" + p.split("/", 4)[-1])
                                              for p in patterns))


def font_family(path: str) -> str:
    """Family name of a font file (the name table's family, without spaces)."""
    try:
        name = ImageFont.truetype(path, 20).getname()[0]
    except OSError:
        name = Path(path).stem
    return name.replace(" ", "")


def font_problem(path: str, charset: str) -> str | None:
    """Why ``path`` cannot render ``charset`` faithfully, or None.

    Missing characters are found in the cmap. Fonts drawing lower case as (small) capitals are
    found by their glyph boxes: lower-case letters as tall as capitals and no descenders.
    """
    from fontTools.ttLib import TTFont

    try:
        cmap = TTFont(path, fontNumber=0, lazy=True).getBestCmap() or {}
        font = ImageFont.truetype(path, 48)
    except Exception as err:  # fontTools and FreeType raise many types for broken files
        return f"unreadable ({type(err).__name__})"
    missing = sorted({c for c in charset if c != " " and ord(c) not in cmap})
    if missing:
        return f"misses characters {''.join(missing)!r}"
    if set(string.ascii_lowercase) <= set(charset):
        def height(c: str) -> int:
            box = font.getbbox(c, anchor="ls")
            return box[3] - box[1]

        x_ratio = (np.mean([height(c) for c in "acemnorsuvwxz"])
                   / max(1.0, np.mean([height(c) for c in "ACEMNORSUVWXZ"])))
        descent = np.mean([font.getbbox(c, anchor="ls")[3] for c in "gpqy"])
        if x_ratio > 0.9 and descent < 0.15 * 48:
            return "draws lower case as capitals"
    return None


def select_fonts(files: Sequence[str], charset: str, log=print) -> list[Font]:
    """Usable fonts among ``files``, one writer each (duplicates of a family+style dropped)."""
    fonts: list[Font] = []
    seen: set[tuple[str, str]] = set()
    for path in files:
        problem = font_problem(path, charset)
        if problem is None:
            name = ImageFont.truetype(path, 20).getname()
            key = (str(name[0]), str(name[1]))
            problem = "duplicate of an earlier font" if key in seen else None
            seen.add(key)
        if problem:
            log(f"skipping font {path}: {problem}")
            continue
        fonts.append(Font(writer=f"{len(fonts):03d}", path=path, family=font_family(path)))
    return fonts


def iam_style(sentence: str, rng: np.random.Generator) -> str:
    """Lower-case grammar sentence -> IAM-like text: capitalised start and names, commas, period."""
    names = set(corpus_text.NAMES)
    conj = set(corpus_text.CONJUNCTIONS)
    words = sentence.split()
    out = []
    for i, word in enumerate(words):
        if word in names or i == 0:
            word = word[:1].upper() + word[1:]
        if i + 1 < len(words) and words[i + 1] in conj and rng.random() < 0.6:
            word += ","
        out.append(word)
    if rng.random() < 0.85:
        out[-1] += "."
    return " ".join(out)


def wrap_lines(texts: Sequence[str], max_chars: int) -> list[str]:
    """Break each text into lines of at most ``max_chars`` characters at word boundaries."""
    lines = []
    for text in texts:
        lines += textwrap.wrap(text, max_chars, break_long_words=False) or [text]
    return lines


def render_line(text: str, font_path: str, font_size: int,
                rng: np.random.Generator) -> np.ndarray:
    """Render ``text`` as a handwriting-like line: ``(h, w)`` uint8 grey levels, dark ink."""
    size = max(8, round(font_size * rng.uniform(0.85, 1.15)))
    font = ImageFont.truetype(font_path, size)
    letter = rng.uniform(0.95, 1.12)
    word_gap = rng.uniform(0.1, 0.6) * size * 0.3
    drift_amp = rng.uniform(0.0, 0.06) * size
    drift_period = rng.uniform(300, 900)
    drift_phase = rng.uniform(0, 2 * np.pi)
    stroke = int(rng.random() < 0.25 and size >= 36)
    width = int(sum(font.getlength(c) for c in text) * letter * 1.3 + word_gap * text.count(" ")
                + 4 * size)
    height = int(size * 2.6)
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    x = float(size)
    base = height * 0.62
    jitter = rng.normal(0.0, 0.025 * size, size=len(text))
    kern = rng.normal(0.0, 0.03 * size, size=len(text))
    for i, ch in enumerate(text):
        if ch == " ":
            x += max(font.getlength(" ") * letter, 0.22 * size) + word_gap
            continue
        y = base + drift_amp * np.sin(x / drift_period * 2 * np.pi + drift_phase) + jitter[i]
        draw.text((x, y), ch, font=font, fill=255, anchor="ls", stroke_width=stroke,
                  stroke_fill=255)
        x += font.getlength(ch) * letter + kern[i]
    slant = rng.uniform(-0.3, 0.3)
    # x_in = x_out + slant * (y - base): lean strokes by ``slant``
    extra = int(abs(slant) * height) + 2
    canvas = canvas.transform((width + 2 * extra, height), Image.Transform.AFFINE,
                              (1.0, slant, -extra - slant * base, 0.0, 1.0, 0.0),
                              resample=Image.Resampling.BILINEAR)
    canvas = canvas.rotate(rng.uniform(-1.0, 1.0), resample=Image.Resampling.BILINEAR,
                           expand=True)
    box = canvas.getbbox()
    if box is None:
        raise ValueError(f"nothing rendered for {text!r} with {font_path}")
    pad = rng.integers(2, max(3, size // 3), size=4)
    left, top = max(0, box[0] - pad[0]), max(0, box[1] - pad[1])
    right, bottom = min(canvas.width, box[2] + pad[2]), min(canvas.height, box[3] + pad[3])
    canvas = canvas.crop((left, top, right, bottom))
    blur = rng.uniform(0.0, 0.9)
    if blur > 0.3:
        canvas = canvas.filter(ImageFilter.GaussianBlur(blur))
    ink = np.asarray(canvas, dtype=np.float32) / 255.0
    paper = rng.uniform(215, 250)
    ink_level = rng.uniform(10, 90)
    gray = paper - ink * (paper - ink_level)
    gray += rng.normal(0.0, rng.uniform(1.0, 8.0), size=gray.shape)
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


def _line_meta(gray: np.ndarray) -> tuple[int, int]:
    """(graylevel, components) of a line as in lines.txt: binarisation threshold, ink blobs."""
    from scipy import ndimage

    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    p = hist / hist.sum()
    omega, mu = np.cumsum(p), np.cumsum(p * np.arange(256))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = np.nan_to_num((mu[-1] * omega - mu) ** 2 / (omega * (1 - omega)))
    level = int(np.argmax(between))
    _, components = ndimage.label(gray < level)
    return level, int(components)


def render_job(job: LineJob) -> tuple[str, int, int, int, int]:
    """Render one line to ``job.out_path`` (unless present); return id, graylevel, comps, w, h."""
    if os.path.exists(job.out_path):
        gray = np.asarray(Image.open(job.out_path).convert("L"))
    else:
        rng = np.random.default_rng([job.seed, zlib.crc32(job.line_id.encode())])
        gray = render_line(job.text, job.font_path, job.font_size, rng)
        if job.err:  # a segmentation error: the line image lost its right end
            gray = gray[:, : max(8, int(gray.shape[1] * 0.8))]
        os.makedirs(os.path.dirname(job.out_path), exist_ok=True)
        tmp = f"{job.out_path}.{os.getpid()}.tmp"
        Image.fromarray(gray).save(tmp, format="PNG")
        os.replace(tmp, job.out_path)
    level, components = _line_meta(gray)
    return job.line_id, level, components, gray.shape[1], gray.shape[0]


def plan(splits: dict[str, list[str]], fonts: list[Font], *, root: Path, seed: int,
         font_size: int, err_rate: float, test_families: Sequence[str] = TEST_FAMILIES,
         dev_families: Sequence[str] = DEV_FAMILIES
         ) -> tuple[list[LineJob], dict[str, list[str]], list]:
    """Assign lines to forms and writers: returns jobs, line ids per split, and forms rows
    ``(form_id, writer, n_sentences, n_lines, n_words)``."""
    held = {"test": set(test_families), "dev": set(dev_families)}
    if held["test"] & held["dev"]:
        raise SystemExit(f"font families both in test and dev: {held['test'] & held['dev']}")
    pools = {name: [f for f in fonts if f.family in fams] for name, fams in held.items()}
    pools["train"] = [f for f in fonts if f.family not in held["test"] | held["dev"]]
    for name, pool in pools.items():
        if not pool and splits.get(name):
            raise SystemExit(f"no usable font for the {name} split")
    rng = np.random.default_rng(seed)
    jobs: list[LineJob] = []
    ids: dict[str, list[str]] = {}
    forms: list = []
    form_index: dict[str, int] = {}
    for name, sentences in splits.items():
        styled = [iam_style(s, rng) for s in sentences]
        lines = wrap_lines(styled, LINE_CHARS)
        ids[name] = []
        for start in range(0, len(lines), LINES_PER_FORM):
            chunk = lines[start:start + LINES_PER_FORM]
            font = pools[name][int(rng.integers(len(pools[name])))]
            group = f"g{int(font.writer) + 1:02d}"
            number = form_index.get(group, 0)
            form_index[group] = number + 1
            form = f"{group}-{number:03d}"
            forms.append((form, font.writer, len(chunk), sum(len(t.split()) for t in chunk)))
            for k, text in enumerate(chunk):
                line_id = f"{form}-{k:02d}"
                path = root / "lines" / group / form / f"{line_id}.png"
                jobs.append(LineJob(line_id, text, font.path, str(path), font_size,
                                    bool(rng.random() < err_rate), seed))
                ids[name].append(line_id)
    return jobs, ids, forms


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def synthesize(out: str | Path, *, train: int, dev: int, test: int, seed: int = 1,
               font_size: int = 40, err_rate: float = 0.02, jobs: int = 0,
               text_file: str | None = None, fonts: Sequence[str] | None = None,
               test_families: Sequence[str] | None = None,
               dev_families: Sequence[str] | None = None, lm_sentences: int = 0,
               log=print) -> dict[str, int]:
    """Write the IAM-layout corpus under ``out``; return the number of lines per split.

    With ``lm_sentences`` > 0, also ``ROOT/lm-text.txt``: the training lines plus that many more
    sentences, disjoint from dev and test, styled and wrapped like the lines (the part of a real
    setup played by an external text corpus such as LOB, from which IAM's text was drawn).
    """
    test_families = tuple(test_families or TEST_FAMILIES)
    dev_families = tuple(dev_families or DEV_FAMILIES)
    root = Path(out)
    charset = string.ascii_letters + ".,"
    usable = select_fonts(list(fonts) if fonts else list_font_files(), charset, log)
    if not usable:
        raise SystemExit("no usable handwriting font found (install fonts-dkg-handwriting ...)")
    counts = {"train": train, "dev": dev, "test": test}
    wanted = {k: v for k, v in counts.items() if v > 0}
    if lm_sentences > 0:
        wanted["__lm__"] = lm_sentences
    splits = corpus_text.split_sentences(wanted, seed, text_file)
    extra = splits.pop("__lm__", [])
    todo, ids, forms = plan(splits, usable, root=root, seed=seed, font_size=font_size,
                            err_rate=err_rate, test_families=test_families,
                            dev_families=dev_families)
    texts = {j.line_id: j.text for j in todo}
    errs = {j.line_id for j in todo if j.err}
    workers = jobs or max(1, min(os.cpu_count() or 1, 8))
    if workers == 1:
        results = [render_job(j) for j in todo]
    else:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(render_job, todo, chunksize=32))
    rows = ["# synthetic IAM-layout corpus rendered by tools/synth_iam.py",
            "# format: line-id ok/err graylevel components x y w h word|word|..."]
    y_in_form: dict[str, int] = {}
    for line_id, level, components, w, h in results:
        form = line_id.rsplit("-", 1)[0]
        y = y_in_form.get(form, 700)
        y_in_form[form] = y + h + 20
        flag = "err" if line_id in errs else "ok"
        words = "|".join(texts[line_id].split(" "))
        rows.append(f"{line_id} {flag} {level} {components} 300 {y} {w} {h} {words}")
    write_text(root / "ascii" / "lines.txt", "\n".join(rows) + "\n")
    form_rows = ["# form-id writer-id sentences prt lines lines-ok words words-ok"]
    form_rows += [f"{f} {w} {n} prt {n} {n} {nw} {nw}" for f, w, n, nw in forms]
    write_text(root / "ascii" / "forms.txt", "\n".join(form_rows) + "\n")
    task = root / "largeWriterIndependentTextLineRecognitionTask"
    aachen = root / "splits" / "aachen"
    for name, official, short in (("train", "trainset", "tr"), ("dev", "validationset1", "va"),
                                  ("test", "testset", "te")):
        body = "".join(f"{i}\n" for i in ids.get(name, []))
        write_text(task / f"{official}.txt", body)
        write_text(aachen / f"{short}.lst", body)
    if extra:
        rng = np.random.default_rng([seed, 7])
        styled = [iam_style(s, rng) for s in extra]
        train_lines = [texts[i] for i in ids.get("train", [])]
        lm_lines = train_lines + wrap_lines(styled, LINE_CHARS)
        write_text(root / "lm-text.txt", "\n".join(lm_lines) + "\n")
    write_text(root / "writers.txt", "".join(
        f"{f.writer} {f.family} {f.path}\n" for f in usable))
    stats = {name: len(v) for name, v in ids.items()}
    log(f"wrote {sum(stats.values())} lines to {root}: {stats} "
        f"({len(usable)} fonts; test fonts {', '.join(test_families)}, dev fonts "
        f"{', '.join(dev_families)})")
    return stats


def read_writer_table(root: str | Path) -> dict[str, str]:
    """Writer id -> font family from ``ROOT/writers.txt``."""
    table = {}
    for row in (Path(root) / "writers.txt").read_text(encoding="utf-8").splitlines():
        parts = row.split()
        if len(parts) >= 2:
            table[parts[0]] = parts[1]
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="root of the IAM-layout tree to write")
    parser.add_argument("--train", type=int, default=3000, help="training sentences")
    parser.add_argument("--dev", type=int, default=150, help="dev sentences (dev font)")
    parser.add_argument("--test", type=int, default=300, help="test sentences (test font)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--font-size", type=int, default=40, help="nominal font size (pixels)")
    parser.add_argument("--err-rate", type=float, default=0.02,
                        help="fraction of lines flagged err (their image is truncated)")
    parser.add_argument("--jobs", type=int, default=0, help="render processes (0: all cores)")
    parser.add_argument("--lm-sentences", type=int, default=20000,
                        help="extra sentences for ROOT/lm-text.txt (0: no LM text)")
    parser.add_argument("--text", default=None, help="sentences file instead of the grammar")
    parser.add_argument("--font", action="append", default=None,
                        help="font file to use (repeatable; default: the Debian handwriting fonts)")
    parser.add_argument("--test-families", default=None,
                        help=f"comma-separated font families (default {','.join(TEST_FAMILIES)})")
    parser.add_argument("--dev-families", default=None,
                        help=f"comma-separated font families (default {','.join(DEV_FAMILIES)})")
    args = parser.parse_args(argv)
    synthesize(args.out, train=args.train, dev=args.dev, test=args.test, seed=args.seed,
               font_size=args.font_size, err_rate=args.err_rate, jobs=args.jobs,
               text_file=args.text, fonts=args.font,
               test_families=args.test_families and args.test_families.split(","),
               dev_families=args.dev_families and args.dev_families.split(","),
               lm_sentences=args.lm_sentences)
    return 0


if __name__ == "__main__":
    sys.exit(main())
