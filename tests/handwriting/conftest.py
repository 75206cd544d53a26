"""Documents for the tests: pages of drawn text lines with their polygons and baselines, as
PAGE 2019 (or 2013) and ALTO 4 (or 2) files, and line folders with ``.gt.txt`` files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

PAGE_NS = {2013: "http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15",
           2019: "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"}
ALTO_NS = {2: "http://www.loc.gov/standards/alto/ns-v2#",
           3: "http://www.loc.gov/standards/alto/ns-v3#",
           4: "http://www.loc.gov/standards/alto/ns-v4#"}
TEXTS = ("move to stop", "the lazy dog ran", "a third line")


@dataclass
class DrawnLine:
    """A line drawn on a page: its id, text, polygon and baseline in page pixels."""

    id: str
    text: str | None
    polygon: list[tuple[int, int]]
    baseline: list[tuple[int, int]]

    @property
    def box(self) -> tuple[int, int, int, int]:
        xs = [x for x, _ in self.polygon]
        ys = [y for _, y in self.polygon]
        return min(xs), min(ys), max(xs), max(ys)


def _points(points, sep=","):
    return " ".join(f"{x}{sep}{y}" for x, y in points)


class Documents:
    """Writes test documents into a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def page_image(self, name: str, texts=TEXTS, size=(1000, 1000), seed=0
                   ) -> tuple[Path, list[DrawnLine]]:
        """A grey page with ``texts`` drawn one per line, a little noise; the lines' polygons
        (six points, hugging the ink) and baselines."""
        rng = np.random.default_rng(seed)
        page = Image.new("L", size, 235)
        draw = ImageDraw.Draw(page)
        font = ImageFont.load_default(size=36)
        lines = []
        for i, text in enumerate(texts):
            x, y = 80 + 25 * i, 120 + 110 * i
            draw.text((x, y), text, fill=25, font=font)
            left, top, right, bottom = draw.textbbox((x, y), text, font=font)
            ascent, _ = font.getmetrics()
            base = y + ascent
            mid = (left + right) // 2
            polygon = [(left - 6, top - 8), (mid, top - 10), (right + 6, top - 8),
                       (right + 6, bottom + 8), (mid, bottom + 10), (left - 6, bottom + 8)]
            lines.append(DrawnLine(f"l{i + 1}", text, polygon, [(left, base), (right, base)]))
        noise = rng.normal(0, 4, size=(size[1], size[0]))
        array = np.clip(np.asarray(page, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path)
        return path, lines

    def page_xml(self, name: str, image: str, size, lines, *, version=2019,
                 reading_order=None, extra: str = "", region_text: bool = True) -> Path:
        """A PAGE file: the lines in two TextRegions (r1: all but the last, r2: the last),
        each line with Coords, Baseline, TextEquiv (when it has text) and a TextStyle; an
        ImageRegion; optionally a ReadingOrder of region ids."""
        ns = PAGE_NS[version]
        first, last = lines[:-1], lines[-1:]

        def line_xml(line: DrawnLine) -> str:
            parts = [f'<TextLine id="{line.id}" custom="structure {{type:line;}}">',
                     f'<Coords points="{_points(line.polygon)}"/>']
            if line.baseline:
                parts.append(f'<Baseline points="{_points(line.baseline)}"/>')
            if line.text is not None:
                parts.append(f"<TextEquiv><Unicode>{_escape(line.text)}</Unicode></TextEquiv>")
            parts.append('<TextStyle fontSize="12.0"/></TextLine>')
            return "\n        ".join(parts)

        def region_xml(region_id: str, members) -> str:
            if not members:
                return ""
            xs = [x for m in members for x, _ in m.polygon]
            ys = [y for m in members for _, y in m.polygon]
            box = [(max(min(xs), 0), max(min(ys), 0)), (max(xs), max(min(ys), 0)),
                   (max(xs), max(ys)), (max(min(xs), 0), max(ys))]
            text = "\n".join(m.text or "" for m in members)
            equiv = (f"<TextEquiv><Unicode>{_escape(text)}</Unicode></TextEquiv>"
                     if region_text else "")
            body = "\n      ".join(line_xml(m) for m in members)
            return (f'<TextRegion id="{region_id}" type="paragraph">\n      '
                    f'<Coords points="{_points(box)}"/>\n      {body}\n      {equiv}\n'
                    "    </TextRegion>")

        order = ""
        if reading_order:
            refs = "".join(f'<RegionRefIndexed index="{i}" regionRef="{r}"/>'
                           for i, r in enumerate(reading_order))
            order = f'<ReadingOrder><OrderedGroup id="ro1">{refs}</OrderedGroup></ReadingOrder>'
        xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="{ns}" pcGtsId="doc-1">
  <Metadata>
    <Creator>test</Creator>
    <Created>2024-01-01T00:00:00</Created>
    <LastChange>2024-01-01T00:00:00</LastChange>
    <Comments>made by the tests</Comments>
  </Metadata>
  <Page imageFilename={quoteattr(image)} imageWidth="{size[0]}" imageHeight="{size[1]}">
    {order}
    <ImageRegion id="img1"><Coords points="900,900 990,900 990,990 900,990"/></ImageRegion>
    {region_xml("r1", first)}
    {region_xml("r2", last)}
    {extra}
  </Page>
</PcGts>
"""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(xml, encoding="utf-8")
        return path

    def alto_xml(self, name: str, image: str | None, size, lines, *, version=4,
                 unit="pixel", scale=1.0, polygons=True, baseline_points=True) -> Path:
        """An ALTO file: one TextBlock, each line with its box (and Shape/Polygon, BASELINE)
        and its words as String/SP; coordinates in file units (``scale`` per pixel)."""
        ns = ALTO_NS[version]

        def v(value: float) -> str:
            return f"{value * scale:g}"

        rows = []
        for line in lines:
            x0, y0, x1, y1 = line.box
            attrs = (f'ID="{line.id}" HPOS="{v(x0)}" VPOS="{v(y0)}" WIDTH="{v(x1 - x0)}" '
                     f'HEIGHT="{v(y1 - y0)}"')
            if line.baseline:
                if baseline_points:
                    attrs += ' BASELINE="' + " ".join(
                        f"{v(x)} {v(y)}" for x, y in line.baseline) + '"'
                else:
                    attrs += f' BASELINE="{v(line.baseline[0][1])}"'
            parts = [f"<TextLine {attrs}>"]
            if polygons:
                points = " ".join(f"{v(x)} {v(y)}" for x, y in line.polygon)
                parts.append(f'<Shape><Polygon POINTS="{points}"/></Shape>')
            words = (line.text or "").split()
            for k, word in enumerate(words):
                if k:
                    parts.append("<SP/>")
                parts.append(f"<String CONTENT={quoteattr(word)}/>")
            parts.append("</TextLine>")
            rows.append("".join(parts))
        source = (f"<sourceImageInformation><fileName>{image}</fileName>"
                  "</sourceImageInformation>" if image is not None else "")
        xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="{ns}">
  <Description>
    <MeasurementUnit>{unit}</MeasurementUnit>
    {source}
  </Description>
  <Styles><TextStyle ID="s1" FONTFAMILY="hand" FONTSIZE="12"/></Styles>
  <Layout>
    <Page ID="p1" PHYSICAL_IMG_NR="1" WIDTH="{v(size[0])}" HEIGHT="{v(size[1])}">
      <PrintSpace>
        <Illustration ID="ill1" HPOS="{v(900)}" VPOS="{v(900)}" WIDTH="{v(90)}" HEIGHT="{v(90)}"/>
        <TextBlock ID="b1" STYLEREFS="s1">
          {chr(10).join(rows)}
        </TextBlock>
      </PrintSpace>
    </Page>
  </Layout>
</alto>
"""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(xml, encoding="utf-8")
        return path

    def compose_page(self, name: str, line_images, texts) -> tuple[Path, list[DrawnLine]]:
        """A page made of line images (e.g. generated handwriting lines) pasted one under the
        other; each line's polygon is its image's outline (a little skewed), its baseline at
        three quarters of its height."""
        images = [Image.open(p).convert("L") for p in line_images]
        width = max(im.width for im in images) + 160
        height = max(sum(im.height + 30 for im in images) + 200, 820)
        page = Image.new("L", (width, height), 235)
        lines, y = [], 100
        for i, (image, text) in enumerate(zip(images, texts)):
            x = 60 + 10 * (i % 3)
            page.paste(image, (x, y))
            w, h = image.size
            polygon = [(x, y + 2), (x + w // 2, y), (x + w - 1, y + 2), (x + w - 1, y + h - 1),
                       (x, y + h - 1)]
            base = y + (3 * h) // 4
            lines.append(DrawnLine(f"l{i + 1}", text, polygon, [(x + 4, base), (x + w - 4, base)]))
            y += h + 30
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        page.save(path)
        return path, lines

    def line_folder(self, folder: str, texts) -> list[Path]:
        """``NAME.png`` + ``NAME.gt.txt`` per text (a None text: no .gt.txt)."""
        font = ImageFont.load_default(size=30)
        out = []
        for i, text in enumerate(texts):
            image = Image.new("L", (40 + 18 * max(len(text or "x"), 3), 48), 240)
            ImageDraw.Draw(image).text((10, 4), text or "x", fill=20, font=font)
            path = self.root / folder / f"line{i:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            image.save(path)
            if text is not None:
                path.with_suffix("").with_suffix(".gt.txt").write_text(text + "\n",
                                                                       encoding="utf-8")
            out.append(path)
        return out


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@pytest.fixture
def documents(tmp_path) -> Documents:
    """A :class:`Documents` writer in the test's temporary folder."""
    return Documents(tmp_path)


class FakeRecognizer:
    """Writes ``text`` on every line, its characters spread evenly over the line's output
    frames (a spike each), whatever the image; works on batches like the real one."""

    def __init__(self, text: str = "ab cd", symbols: str = "abcd ", height: int = 16) -> None:
        from ctc.data.tokens import CharTokenizer
        from handwriting.featurizer import LineImageFeaturizer

        self.text = text
        self.tokenizer = CharTokenizer.build([symbols])
        self.featurizer = LineImageFeaturizer(height=height, augment=False)
        self.output_frame_shift = 4.0
        self.calls: list[int] = []

    def log_probs(self, features):
        self.calls.append(len(features))
        frames = [max(int(x.shape[1]) // 4, 2 * len(self.text) + 1) for x in features]
        ids = self.tokenizer.encode(self.text)
        out = torch.full((len(features), max(frames), len(self.tokenizer)), -12.0)
        out[:, :, 0] = -0.01
        for n, t in enumerate(frames):
            for k, token in enumerate(ids):
                frame = (2 * k + 1) * t // (2 * len(ids) + 1)
                out[n, frame, 0] = -12.0
                out[n, frame, token] = -0.05 * (k + 1)
        return out, torch.tensor(frames)


@pytest.fixture
def fake_recognizer(monkeypatch) -> FakeRecognizer:
    """A FakeRecognizer that ``htr recognize --model ANYTHING`` loads."""
    fake = FakeRecognizer()
    monkeypatch.setattr("ctc.commands.recognize.load_recognizer", lambda *_, **__: fake)
    return fake


@pytest.fixture(scope="session")
def random_model(tmp_path_factory) -> Path:
    """A checkpoint of an untrained line model (height 32, lower-case letters and space)."""
    from ctc.checkpoint import save_checkpoint
    from ctc.data.tokens import CharTokenizer
    from ctc.modality import featurizer_state
    from ctc.models import ModelConfig, build_model
    from handwriting.featurizer import LineImageFeaturizer

    torch.manual_seed(0)
    tokenizer = CharTokenizer.build(["abcdefghijklmnopqrstuvwxyz "])
    config = ModelConfig(frontend="line_cnn", input_dim=32, cnn_channels=[8, 16], cnn_pooled=2,
                         layers=1, hidden=16)
    model = build_model(config, len(tokenizer))
    state = {"model": model.state_dict(), "model_config": config.to_dict(),
             "vocab_size": len(tokenizer), "tokenizer": tokenizer.to_dict(),
             "modality": "image",
             "featurizer": featurizer_state(LineImageFeaturizer(height=32, augment=False))}
    path = tmp_path_factory.mktemp("model") / "random.pt"
    save_checkpoint(state, path)
    return path
