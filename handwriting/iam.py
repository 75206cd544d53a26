"""IAM handwriting database (Marti & Bunke 2002), line level: the real layout -> JSONL manifests.

Reads, under ``root``:

- ``ascii/lines.txt``: ``#`` comment lines, then one line per text line:
  ``a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from``
  (id, segmentation ``ok``/``err``, graylevel, components, bounding box x y w h, then the
  transcription with ``|`` between words);
- images ``lines/<a01>/<a01-000u>/<a01-000u-00>.png``;
- writers from ``ascii/forms.txt`` (``a01-000u 000 2 prt 7 5 52 36``: form id, writer id, ...)
  or, when absent, the ``writer-id`` attribute of ``xml/<form>.xml``;
- split lists, one line or form id per line: the official large writer-independent task
  (``largeWriterIndependentTextLineRecognitionTask/{trainset,validationset1,validationset2,
  testset}.txt``) or the Aachen split (``tr/va/te`` lists); see ``find_split_files``.

Writes ``<out>/<split>.jsonl`` with image paths relative to ``out``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ctc.data.manifest import Record, write_manifest
from ctc.errors import InputError
from handwriting.images import image_size

OFFICIAL_DIR = "largeWriterIndependentTextLineRecognitionTask"
AACHEN_DIRS = ("splits/aachen", "aachen", "splits")
# split list file stem -> manifest name
SPLIT_NAMES = {
    "trainset": "train", "validationset1": "valid", "validationset2": "valid2",
    "testset": "test", "tr": "train", "train": "train", "va": "valid", "valid": "valid",
    "validation": "valid", "dev": "valid", "te": "test", "test": "test",
}
_XML_WRITER = re.compile(r'writer-id="([^"]+)"')


@dataclass(frozen=True)
class IamLine:
    """One entry of ``ascii/lines.txt``."""

    id: str
    ok: bool
    graylevel: int
    box: tuple[int, int, int, int]
    text: str

    @property
    def form(self) -> str:
        return self.id.rsplit("-", 1)[0]

    def image_path(self, root: Path) -> Path:
        return root / "lines" / self.id.split("-")[0] / self.form / f"{self.id}.png"


def parse_lines_txt(path: str | os.PathLike) -> list[IamLine]:
    """Parse IAM ``lines.txt``; InputError naming ``path:line`` for a malformed entry."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"IAM transcriptions not found: {path}")
    out = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for lineno, raw in enumerate(handle, 1):
            line = raw.rstrip("\n\r")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split(" ")
            if len(parts) < 9 or parts[1] not in ("ok", "err"):
                raise InputError(f"{path}:{lineno}: expected 'id ok|err graylevel components "
                                 f"x y w h transcription', got {line[:60]!r}")
            try:
                graylevel = int(parts[2])
                box = tuple(int(v) for v in parts[4:8])
            except ValueError:
                raise InputError(f"{path}:{lineno}: non-numeric field in {line[:60]!r}") from None
            # the transcription is the 9th field onward; '|' separates words
            text = " ".join(" ".join(parts[8:]).replace("|", " ").split())
            out.append(IamLine(parts[0], parts[1] == "ok", graylevel, box, text))  # type: ignore[arg-type]
    return out


def read_writers(root: Path) -> dict[str, str]:
    """Form id -> writer id from ``ascii/forms.txt``, else from ``xml/*.xml``; {} if neither."""
    forms = root / "ascii" / "forms.txt"
    writers: dict[str, str] = {}
    if forms.is_file():
        for raw in forms.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = raw.split()
            if len(parts) >= 2 and not raw.startswith("#"):
                writers[parts[0]] = parts[1]
        return writers
    xml_dir = root / "xml"
    if xml_dir.is_dir():
        for xml in sorted(xml_dir.glob("*.xml")):
            with xml.open(encoding="utf-8", errors="replace") as handle:
                match = _XML_WRITER.search(handle.read(4096))
            if match:
                writers[xml.stem] = match.group(1)
    return writers


def find_split_files(root: Path, split: str) -> dict[str, Path]:
    """Split name -> list file. ``split``: ``official``, ``aachen`` or a directory of lists.

    In a directory, files ``*.txt``/``*.lst``/``*.uttlist`` whose stem names a split (trainset,
    validationset1, validationset2, testset, tr, va, te, train, valid, test, ...) are used.
    """
    if split == "official":
        candidates = [root / OFFICIAL_DIR, root / "task", root]
    elif split == "aachen":
        candidates = [root / d for d in AACHEN_DIRS]
    else:
        candidates = [Path(split)]
        if not candidates[0].is_dir():
            raise InputError(f"split directory not found: {split}")
    for folder in candidates:
        if not folder.is_dir():
            continue
        found = {}
        for path in sorted(folder.iterdir()):
            if path.suffix in (".txt", ".lst", ".uttlist") and path.stem in SPLIT_NAMES:
                found.setdefault(SPLIT_NAMES[path.stem], path)
        if found:
            return found
    where = ", ".join(str(c) for c in candidates)
    raise InputError(f"no split lists ({split}) found in {where}")


def read_id_list(path: Path) -> list[str]:
    """Ids of a split list (one per line; blank lines and ``#`` comments ignored)."""
    ids = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        token = raw.split("#", 1)[0].strip()
        if token:
            ids.append(token.split()[0])
    return ids


@dataclass
class PrepareReport:
    """What ``prepare_iam`` wrote and what it left out."""

    counts: dict[str, int] = field(default_factory=dict)
    dropped_err: int = 0
    missing_images: list[str] = field(default_factory=list)
    unreadable_images: list[str] = field(default_factory=list)
    unknown_ids: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Images named by the corpus that could not be used (the command exits 1)."""
        return bool(self.missing_images or self.unreadable_images)

    def summary(self) -> str:
        parts = [f"{name}: {n} lines" for name, n in self.counts.items()]
        parts.append(f"dropped {self.dropped_err} err lines")
        parts.append(f"{len(self.missing_images)} missing images")
        if self.unreadable_images:
            parts.append(f"{len(self.unreadable_images)} unreadable images")
        if self.unknown_ids:
            parts.append(f"{len(self.unknown_ids)} split ids not in lines.txt")
        return "; ".join(parts)


def prepare_iam(root: str | os.PathLike, out: str | os.PathLike, *, split: str = "official",
                keep_err: bool = False,
                log: Callable[[str], None] = print) -> PrepareReport:
    """Write ``<out>/<split>.jsonl`` manifests for an IAM tree; see the module docstring.

    Split entries may be line ids (``a01-000u-00``) or form ids (``a01-000u``: all its lines).
    Missing and unreadable (truncated, corrupt) images are reported and left out; the report's
    ``failed`` then says so.
    """
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise InputError(f"IAM root not found: {root}")
    lines = parse_lines_txt(root / "ascii" / "lines.txt")
    by_id = {line.id: line for line in lines}
    by_form: dict[str, list[IamLine]] = {}
    for line in lines:
        by_form.setdefault(line.form, []).append(line)
    writers = read_writers(root)
    report = PrepareReport()
    for name, list_path in find_split_files(root, split).items():
        records = []
        for token in read_id_list(list_path):
            chosen = [by_id[token]] if token in by_id else by_form.get(token)
            if not chosen:
                report.unknown_ids.append(token)
                continue
            for line in chosen:
                if not line.ok and not keep_err:
                    report.dropped_err += 1
                    continue
                image = line.image_path(root)
                if not image.is_file():
                    report.missing_images.append(str(image))
                    continue
                try:
                    width, height = image_size(image)
                except InputError as err:
                    report.unreadable_images.append(str(err))
                    continue
                records.append(Record(
                    id=line.id, modality="image", path=os.path.relpath(image, out),
                    text=line.text, width=width, height=height, speaker=writers.get(line.form)))
        report.counts[name] = write_manifest(out / f"{name}.jsonl", records)
    for path in report.missing_images[:10]:
        log(f"warning: missing image {path}")
    if len(report.missing_images) > 10:
        log(f"warning: ... and {len(report.missing_images) - 10} more missing images")
    for message in report.unreadable_images[:10]:
        log(f"warning: skipped {message}")
    if len(report.unreadable_images) > 10:
        log(f"warning: ... and {len(report.unreadable_images) - 10} more unreadable images")
    if report.unknown_ids:
        log(f"warning: {len(report.unknown_ids)} split ids not in lines.txt, "
            f"e.g. {report.unknown_ids[0]}")
    log(report.summary())
    return report
