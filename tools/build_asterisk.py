"""Build a LibriSpeech-layout corpus of real speech from Debian's Asterisk prompt packages.

The core prompt sets are real human recordings (8 kHz telephone prompts, one speaker each):

=====  ===============================  =========================  ================================
lang   audio (package: voice folder)     transcripts (package)      more speakers (package: folder)
=====  ===============================  =========================  ================================
es     asterisk-core-sounds-es-wav:      asterisk-core-sounds-es    asterisk-prompt-es-co: es/
       es_MX_f_Allison                                              (.gsm)
fr     asterisk-core-sounds-fr-wav:      asterisk-core-sounds-fr    asterisk-prompt-fr-armelle: fr/
       fr_CA_f_June                                                 (.gsm)
it     asterisk-core-sounds-it-wav:      asterisk-core-sounds-it    asterisk-prompt-it-menardi-wav:
       it_IT_m_Carlo                                                it_IT_f_Menardi
=====  ===============================  =========================  ================================

(under ``/usr/share/asterisk/sounds``). The transcripts are ``core-sounds-LANG.txt.gz`` in the
package's doc folder, lines ``name: text`` where ``name`` is the sound file's path without its
extension (``digits/5``, ``conf-locked``). The transcript packages conflict with the packages of
the other speakers (both claim ``sounds/LANG``), so the recipe extracts them with ``apt-get
download`` + ``dpkg-deb -x`` into a folder given with ``--deb-root`` when they are not installed.

What is kept: an entry is left out (and listed in ``skipped.txt`` with its reason) when its text
is an annotation only (``[tones]``, ``(beep)``, ``(7 secondi di silenzio)``), a single letter
(``letters/b: b``: the recording says the letter's name), holds digits (``--digits skip``;
``verbalize`` spells them with num2words; ``train`` spells them out and uses those prompts for
training only) or a spoken symbol, when its name occurs twice with different texts, or when
its audio is missing, or when the recording is too short for the text
(``--max-chars-per-second``: Italian's ``beep: un suono beep`` is a 0.4-second tone; checked
after the split, so that it moves no other prompt between subsets). A line that runs on into
other entries (``vm-tempremoved: ... eliminato vm-then-pound: poi premere cancelletto``: a
missing line break in the Italian package) is split into its entries first.
Texts are normalised by ``ctc.data.normalize.TextNormalizer`` (NFC, lower case, accents and
apostrophes kept, punctuation removed, notes in brackets or parentheses removed: the
translators' ``(in inglese)``, ``(data)``, ``(You are now muted.)`` are not said).

Splits, by prompt text: the core speaker's entries are grouped by normalised text (two names
with the same text are one group), and whole groups are drawn for ``test`` and ``dev``
(``--test-fraction``, ``--dev-fraction`` of the groups, seeded), so no text is in two subsets.
With ``--digits train`` the split is drawn from the prompts written in words alone (the same
dev and test as ``--digits skip``), and the prompts with digits, spelt out, are added to
training: num2words's reading of ``3D`` or ``1er`` is a guess that training tolerates and a
score should not depend on. One whose spelt-out text is a dev or test prompt is left out.

More speakers: their packages hold recordings under the same file names, but no transcripts;
another translator's wording can differ from the core text for the same name. A recording is
used only for a name whose core text is in the *training* split (never dev or test), and only
when its duration is within ``--max-duration-ratio`` of the core recording of that name (speech
of a different wording is usually of a different length); those are training-only speakers.

Output under ``ROOT``: ``LibriSpeech/{train,dev,test}/<spk>/<chapter>/<spk>-<chapter>-<utt>
.flac`` (16-bit FLAC at the native rate: 8 kHz) and ``<spk>-<chapter>.trans.txt``;
``LibriSpeech/SPEAKERS.TXT``; ``prompts.tsv`` (every utterance: id, subset, speaker, source
file, name, raw and normalised text); ``lm-text.txt`` (the training texts, one per line, for
the LM); ``heldout-text.txt`` (dev and test texts: what generated text must not contain);
``skipped.txt``; ``stats.json`` (utterances, minutes, speakers and prompts per subset).
Reruns are idempotent: a FLAC file is kept when ``prompts.tsv`` of the earlier build names the
same source recording for its id, and rewritten otherwise (a changed build renumbers ids).

Usage: ``python tools/build_asterisk.py --lang es --root data/asterisk-es``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ctc.data.normalize import TextNormalizer, only_notes
from ctc.errors import InputError
from ctc.io import atomic_open, atomic_write_text

SOUNDS = Path("/usr/share/asterisk/sounds")
LANGUAGES = {
    # lang: (core voice folder, transcript package, [(extra package, folder)])
    "es": ("es_MX_f_Allison", "asterisk-core-sounds-es", [("asterisk-prompt-es-co", "es")]),
    "fr": ("fr_CA_f_June", "asterisk-core-sounds-fr", [("asterisk-prompt-fr-armelle", "fr")]),
    "it": ("it_IT_m_Carlo", "asterisk-core-sounds-it",
           [("asterisk-prompt-it-menardi-wav", "it_IT_f_Menardi")]),
}
AUDIO_SUFFIXES = (".wav", ".gsm", ".alaw", ".ulaw", ".al", ".ul")
SOX_TYPES = {".gsm": ["-t", "gsm"], ".alaw": ["-t", "al", "-r", "8000", "-c", "1"],
             ".ulaw": ["-t", "ul", "-r", "8000", "-c", "1"], ".al": ["-t", "al", "-r", "8000"],
             ".ul": ["-t", "ul", "-r", "8000"]}
SUBSETS = ("train", "dev", "test")
FIRST_SPEAKER = 101
# the defaults of build_corpus and of the command line
TEST_FRACTION, DEV_FRACTION = 0.15, 0.08
MAX_DURATION_RATIO = 1.5      # other speakers: longest ratio to the core recording's duration
MAX_CHARS_PER_SECOND = 25.0   # fast speech here is 15-22 characters a second


@dataclass(frozen=True)
class Entry:
    """One transcript line: sound name, raw text, normalised text, ``file:line``."""

    name: str
    raw: str
    text: str
    where: str


@dataclass
class Utterance:
    """One utterance of the corpus."""

    speaker: int
    subset: str
    name: str
    source: Path
    raw: str
    text: str
    id: str = ""
    duration: float = 0.0
    path: Path | None = None  # the FLAC file written


@dataclass
class BuildReport:
    """What ``build_corpus`` wrote."""

    root: Path
    utterances: list[Utterance] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    speakers: dict[int, str] = field(default_factory=dict)

    def stats(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for subset in SUBSETS:
            utts = [u for u in self.utterances if u.subset == subset]
            out[subset] = {
                "utterances": len(utts),
                "minutes": round(sum(u.duration for u in utts) / 60, 2),
                "speakers": len({u.speaker for u in utts}),
                "prompts": len({u.text for u in utts}),
                "per_speaker": {self.speakers[s]: sum(1 for u in utts if u.speaker == s)
                                for s in sorted({u.speaker for u in utts})},
            }
        return out


def default_normalizer(digits: str = "skip", language: str = "") -> TextNormalizer:
    """The corpus's text normalisation: lower case, punctuation removed, apostrophes after a
    letter kept, notes in brackets or parentheses removed, prompts with digits or spoken
    symbols left out (or digits spelled out)."""
    return TextNormalizer(lowercase=True, punctuation="remove", digits=digits,
                          language=language, symbols="skip", brackets="remove",
                          parentheses="remove")


def find_transcripts(lang: str, deb_root: Path | None = None) -> Path:
    """``core-sounds-LANG.txt.gz`` of the installed package, else under ``deb_root`` (a folder
    holding the extracted package)."""
    package = LANGUAGES[lang][1] if lang in LANGUAGES else f"asterisk-core-sounds-{lang}"
    rel = Path("usr/share/doc") / package / f"core-sounds-{lang}.txt.gz"
    candidates = [Path("/") / rel]
    if deb_root is not None:
        candidates.insert(0, deb_root / rel)
        candidates.append(deb_root / f"core-sounds-{lang}.txt.gz")
    for path in candidates:
        if path.is_file():
            return path
    raise InputError(f"transcripts of {package} not found (looked for "
                     f"{', '.join(str(c) for c in candidates)}): install {package}, or extract "
                     f"it with apt-get download {package} && dpkg-deb -x {package}_*.deb DIR "
                     "and pass --deb-root DIR")


def _split_run_on_entries(seen: dict[str, list[tuple[str, str]]]) -> None:
    """Split texts that run on into other entries, in place.

    A missing line break in a package leaves two entries on one line (Italian line 576:
    ``vm-tempremoved: Il tuo messaggio ... eliminato vm-then-pound: poi premere cancelletto``;
    French line 486: ``... appuyez sur dièse.vm-review-nonurgent: Pour enlever ...``). A text is
    cut where ``NAME:`` follows a space or a sentence's punctuation and NAME begins a line of
    the file; each piece is one more entry of its name at the same line, so a piece whose name
    has another text elsewhere makes that name "listed twice with different texts" (left out).
    """
    if not seen:
        return
    names = sorted(seen, key=len, reverse=True)   # the longest name first: conf-x before conf
    cut = re.compile(r"(?<=[\s.!?;,])(" + "|".join(map(re.escape, names)) + r"):(?=\s|$)")
    split = set()
    for name in list(seen):
        found = seen[name]
        for index, (raw, where) in enumerate(found):
            pieces = cut.split(raw)
            if len(pieces) == 1:
                continue
            found[index] = (pieces[0].strip(), where)
            for other, text in zip(pieces[1::2], pieces[2::2], strict=True):
                seen[other].append((text.strip(), where))
                split.add(other)
    for name in split:  # in line order, as if the line breaks had been there
        seen[name].sort(key=lambda item: int(item[1].rsplit(":", 1)[1]))


def read_transcripts(path: Path, normalize: TextNormalizer
                     ) -> tuple[dict[str, Entry], list[str]]:
    """Parse ``name: text`` lines (``;`` comments); return kept entries by name and the
    skipped ones as ``file:line: name: reason`` lines."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read the transcripts ({err})") from None
    seen: dict[str, list[tuple[str, str]]] = defaultdict(list)
    skipped: list[str] = []
    for lineno, line in enumerate(lines, 1):
        line = line.strip().lstrip("\ufeff")
        if not line or line.startswith(";"):
            continue
        name, sep, raw = line.partition(":")
        name, raw = name.strip(), raw.strip()
        if not sep or not name or " " in name:
            skipped.append(f"{path}:{lineno}: not 'name: text': {line[:60]!r}")
            continue
        seen[name].append((raw, f"{path}:{lineno}"))
    _split_run_on_entries(seen)
    entries: dict[str, Entry] = {}
    for name, found in seen.items():
        where = found[0][1]
        if len({raw for raw, _ in found}) > 1:
            places = ", ".join(w.rsplit(":", 1)[1] for _, w in found)
            skipped.append(f"{where}: {name}: listed {len(found)} times with different texts "
                           f"(lines {places})")
            continue
        raw = found[0][0]
        if only_notes(raw):
            skipped.append(f"{where}: {name}: an annotation, not speech ({raw})")
            continue
        text = normalize(raw)
        if text is None:
            skipped.append(f"{where}: {name}: left out by the normalisation ({raw[:60]!r}: "
                           "digits or a spoken symbol)")
            continue
        if len(text) == 1:
            skipped.append(f"{where}: {name}: a single letter ({raw!r}: the recording says its "
                           "name)")
            continue
        entries[name] = Entry(name, raw, text, where)
    return entries, skipped


def find_audio(folder: Path, name: str) -> Path | None:
    """The recording of ``name`` in ``folder`` (``.wav`` first, then ``.gsm`` ...)."""
    for suffix in AUDIO_SUFFIXES:
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """16-bit samples and rate of ``path``: soundfile for wav, sox for gsm and raw a/u-law."""
    if path.suffix in SOX_TYPES:
        cmd = ["sox", *SOX_TYPES[path.suffix], str(path), "-t", "wav", "-b", "16", "-"]
        try:
            proc = subprocess.run(cmd, capture_output=True, check=False, timeout=60)
        except FileNotFoundError:
            raise InputError(f"{path}: sox is needed to read {path.suffix} files "
                             "(apt-get install sox)") from None
        if proc.returncode != 0:
            message = proc.stderr.decode(errors="replace").strip().splitlines()
            raise InputError(f"{path}: sox failed ({message[-1] if message else proc.returncode})")
        data = io.BytesIO(proc.stdout)
    else:
        data = path  # type: ignore[assignment]
    try:
        wave, rate = sf.read(data, dtype="int16", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise InputError(f"{path}: unreadable audio ({err})") from None
    if wave.shape[0] == 0:
        raise InputError(f"{path}: empty audio")
    return wave.mean(axis=1).astype(np.int16) if wave.shape[1] > 1 else wave[:, 0], rate


def audio_seconds(path: Path) -> float:
    """Duration of a recording (sox's header for gsm and raw files, read whole)."""
    if path.suffix in SOX_TYPES:
        wave, rate = read_audio(path)
        return len(wave) / rate
    info = sf.info(str(path))
    return info.frames / info.samplerate


def split_prompts(texts: list[str], test_fraction: float, dev_fraction: float,
                  seed: int) -> dict[str, str]:
    """Normalised prompt text -> subset: whole texts drawn for test, then dev (seeded)."""
    unique = sorted(set(texts))
    random.Random(seed).shuffle(unique)
    n_test = round(test_fraction * len(unique))
    n_dev = round(dev_fraction * len(unique))
    subset = {}
    for i, text in enumerate(unique):
        subset[text] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return subset


def resolve_speakers(lang: str, sounds: Path, core: str | None, extra: list[str] | None
                     ) -> list[tuple[str, Path]]:
    """(label, folder) of the core speaker and of the other speakers found, without folders
    that resolve to the same place (``sounds/it`` may be a link to the core voice)."""
    core_name = core or LANGUAGES[lang][0]
    core_dir = (sounds / core_name).resolve()
    if not core_dir.is_dir():
        package = f"{LANGUAGES[lang][1]}-wav" if lang in LANGUAGES else "its package"
        raise InputError(f"{sounds / core_name}: the core {lang} recordings are not there "
                         f"(apt-get install {package})")
    speakers = [(core_name, core_dir)]
    names = extra if extra is not None else [d for _, d in LANGUAGES.get(lang, ("", "", []))[2]]
    for name in names:
        folder = (sounds / name).resolve()
        if folder.is_dir() and all(folder != f for _, f in speakers):
            speakers.append((name, folder))
    return speakers


def build_corpus(lang: str, root: Path, *, sounds: Path = SOUNDS,
                 transcripts: Path | None = None, deb_root: Path | None = None,
                 core: str | None = None, extra: list[str] | None = None,
                 test_fraction: float = TEST_FRACTION, dev_fraction: float = DEV_FRACTION,
                 seed: int = 0, digits: str = "skip",
                 max_duration_ratio: float = MAX_DURATION_RATIO,
                 max_chars_per_second: float = MAX_CHARS_PER_SECOND, log=print) -> BuildReport:
    """Write the corpus under ``root`` (see the module docstring) and return what was written."""
    if not 0 <= test_fraction < 1 or not 0 <= dev_fraction < 1 or \
            test_fraction + dev_fraction >= 1:
        raise InputError("--test-fraction and --dev-fraction must be in [0, 1) with a sum < 1")
    if not max_chars_per_second > 0:
        raise InputError(f"--max-chars-per-second must be positive, not {max_chars_per_second}")
    path = transcripts or find_transcripts(lang, deb_root)
    entries, skipped = read_transcripts(
        path, default_normalizer("verbalize" if digits == "train" else digits, lang))
    training_only: set[str] = set()
    if digits == "train":
        in_words = default_normalizer("skip", lang)
        training_only = {name for name, entry in entries.items() if in_words(entry.raw) is None}
    speakers = resolve_speakers(lang, sounds, core, extra)
    report = BuildReport(root=root, skipped=skipped)
    (core_label, core_dir), others = speakers[0], speakers[1:]
    core_audio: dict[str, Path] = {}
    for name, entry in sorted(entries.items()):
        audio = find_audio(core_dir, name)
        if audio is None:
            report.skipped.append(f"{entry.where}: {name}: no recording in {core_dir}")
        else:
            core_audio[name] = audio
    subset_of = split_prompts([entries[n].text for n in core_audio if n not in training_only],
                              test_fraction, dev_fraction, seed)
    for name in sorted(training_only & set(core_audio)):
        held = subset_of.get(entries[name].text, "train")
        if held != "train":
            report.skipped.append(f"{entries[name].where}: {name}: spelt out, it is a {held} "
                                  f"prompt ({entries[name].text!r}): left out")
            del core_audio[name]
        else:
            subset_of[entries[name].text] = "train"
    # after the split, so that what it leaves out moves no other prompt between subsets
    core_seconds = {name: audio_seconds(p) for name, p in core_audio.items()}
    for name in sorted(core_audio):
        rate = len(entries[name].text) / max(1e-3, core_seconds[name])
        if rate > max_chars_per_second:
            report.skipped.append(
                f"{entries[name].where}: {name}: {len(entries[name].text)} characters in "
                f"{core_seconds[name]:.2f} s ({rate:.1f}/s, over {max_chars_per_second:g}): "
                f"the recording cannot say {entries[name].text[:40]!r} (a sound described in "
                "words, or another wording)")
            del core_audio[name]
    report.speakers[FIRST_SPEAKER] = core_label
    for name, audio in core_audio.items():
        entry = entries[name]
        report.utterances.append(Utterance(FIRST_SPEAKER, subset_of[entry.text], name, audio,
                                           entry.raw, entry.text))
    for k, (label, folder) in enumerate(others, 1):
        speaker = FIRST_SPEAKER + k
        report.speakers[speaker] = label
        for name in sorted(core_audio):
            audio = find_audio(folder, name)
            if audio is None:
                continue
            entry = entries[name]
            if subset_of[entry.text] != "train":
                report.skipped.append(f"{audio}: {name}: a {subset_of[entry.text]} prompt: "
                                      "other speakers are training-only")
                continue
            try:
                seconds = audio_seconds(audio)
            except InputError as err:
                report.skipped.append(str(err))
                continue
            ratio = seconds / max(1e-3, core_seconds[name])
            if not 1 / max_duration_ratio <= ratio <= max_duration_ratio:
                report.skipped.append(f"{audio}: {name}: {seconds:.2f} s against "
                                      f"{core_seconds[name]:.2f} s for {core_label} (ratio "
                                      f"{ratio:.2f}): probably another wording")
                continue
            report.utterances.append(Utterance(speaker, "train", name, audio, entry.raw,
                                               entry.text))
    _write(report, root / "LibriSpeech", log)
    return report


def _previous_sources(prompts: Path) -> dict[str, str]:
    """Id -> source recording of the earlier build's ``prompts.tsv`` (empty without one)."""
    try:
        rows = prompts.read_text(encoding="utf-8").splitlines()[1:]
    except (OSError, UnicodeDecodeError):
        return {}
    return {fields[0]: fields[3] for fields in (row.split("\t") for row in rows)
            if len(fields) >= 4}


def _write(report: BuildReport, corpus: Path, log) -> None:
    previous = _previous_sources(corpus.parent / "prompts.tsv")
    by_folder: dict[tuple[str, int], list[Utterance]] = defaultdict(list)
    for utt in report.utterances:
        by_folder[(utt.subset, utt.speaker)].append(utt)
    failed = []
    for (subset, speaker), utts in sorted(by_folder.items()):
        chapter = speaker * 10 + SUBSETS.index(subset)
        folder = corpus / subset / str(speaker) / str(chapter)
        lines = []
        for i, utt in enumerate(sorted(utts, key=lambda u: u.name)):
            utt.id = f"{speaker}-{chapter}-{i:04d}"
            target = utt.path = folder / f"{utt.id}.flac"
            try:
                utt.duration = _convert(utt.source, target,
                                        keep=previous.get(utt.id) == str(utt.source))
            except InputError as err:
                failed.append(utt)
                report.skipped.append(str(err))
                continue
            lines.append(f"{utt.id} {utt.text}\n")
        atomic_write_text(folder / f"{speaker}-{chapter}.trans.txt", "".join(lines))
    report.utterances = [u for u in report.utterances if u not in failed]
    _remove_stale(corpus, {u.path for u in report.utterances if u.path is not None}, log)
    root = corpus.parent
    atomic_write_text(corpus / "SPEAKERS.TXT", ";ID  |SUBSETS| VOICE (folder)\n" + "".join(
        f"{spk:<5}| {','.join(s for s in SUBSETS if (s, spk) in by_folder)} | {label}\n"
        for spk, label in sorted(report.speakers.items())))
    with atomic_open(root / "prompts.tsv", encoding="utf-8") as handle:
        handle.write("id\tsubset\tspeaker\tsource\tname\traw\ttext\n")
        for u in sorted(report.utterances, key=lambda u: u.id):
            handle.write(f"{u.id}\t{u.subset}\t{report.speakers[u.speaker]}\t{u.source}\t"
                         f"{u.name}\t{u.raw}\t{u.text}\n")
    train_texts = sorted({u.text for u in report.utterances if u.subset == "train"})
    held = sorted({u.text for u in report.utterances if u.subset != "train"})
    atomic_write_text(root / "lm-text.txt", "".join(f"{t}\n" for t in train_texts))
    atomic_write_text(root / "heldout-text.txt", "".join(f"{t}\n" for t in held))
    atomic_write_text(root / "skipped.txt", "".join(f"{s}\n" for s in report.skipped))
    stats = report.stats()
    atomic_write_text(root / "stats.json", json.dumps(stats, indent=1, ensure_ascii=False) + "\n")
    for subset, s in stats.items():
        log(f"{subset}: {s['utterances']} utterances, {s['minutes']:.1f} min, "
            f"{s['prompts']} prompts, speakers {s['per_speaker']}")
    log(f"corpus at {corpus}; {len(report.skipped)} entries left out (see "
        f"{root / 'skipped.txt'})")


def _remove_stale(corpus: Path, kept: set[Path], log) -> None:
    """Delete the audio, transcripts and folders of an earlier build with other settings (e.g.
    other speakers) that this build did not write, so that the tree holds this build only."""
    stale = 0
    for subset in SUBSETS:
        for path in sorted((corpus / subset).glob("*/*/*")):
            if path.suffix == ".flac" and path not in kept:
                path.unlink()
                stale += 1
            elif path.name.endswith(".trans.txt") and not any(
                    k.parent == path.parent for k in kept):
                path.unlink()
        for folder in sorted((corpus / subset).glob("*/*"), reverse=True) + sorted(
                (corpus / subset).glob("*"), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    if stale:
        log(f"removed {stale} recordings of an earlier build that this one does not hold")


def _convert(source: Path, target: Path, keep: bool = False) -> float:
    """Write ``source`` as 16-bit FLAC at its own rate; seconds. With ``keep``, an existing
    ``target`` (from the same source) is kept as it is."""
    if keep and target.is_file():
        info = sf.info(str(target))
        return info.frames / info.samplerate
    wave, rate = read_audio(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    sf.write(tmp, wave, rate, subtype="PCM_16", format="FLAC")
    os.replace(tmp, target)
    return len(wave) / rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", required=True, help=f"language ({', '.join(LANGUAGES)})")
    parser.add_argument("--root", type=Path, required=True,
                        help="output root (the corpus goes to ROOT/LibriSpeech/<subset>/...)")
    parser.add_argument("--sounds", type=Path, default=SOUNDS, help=f"default {SOUNDS}")
    parser.add_argument("--transcripts", type=Path, default=None,
                        help="core-sounds-LANG.txt(.gz) (default: the installed package's, "
                             "or under --deb-root)")
    parser.add_argument("--deb-root", type=Path, default=None,
                        help="folder where the transcript package was extracted (dpkg-deb -x)")
    parser.add_argument("--core", default=None,
                        help="folder of the core speaker under --sounds (default per language)")
    parser.add_argument("--extra", action="append", default=None,
                        help="folder of another speaker under --sounds (repeatable; default: "
                             "the known ones that are installed; --extra none: no others)")
    parser.add_argument("--test-fraction", type=float, default=TEST_FRACTION)
    parser.add_argument("--dev-fraction", type=float, default=DEV_FRACTION)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--digits", choices=("skip", "verbalize", "train"), default="skip",
                        help="prompts with digits: left out, numbers spelled out (num2words), "
                             "or spelled out and used for training only (dev and test as with "
                             "skip)")
    parser.add_argument("--max-duration-ratio", type=float, default=MAX_DURATION_RATIO,
                        help="other speakers: longest ratio to the core recording's duration")
    parser.add_argument("--max-chars-per-second", type=float, default=MAX_CHARS_PER_SECOND,
                        help="leave out a recording shorter than its text at this rate (a "
                             "tone described in words: 'un suono beep'; fast speech is "
                             "15-22 characters a second)")
    args = parser.parse_args(argv)
    extra = None if args.extra is None else [e for e in args.extra if e != "none"]
    try:
        if args.lang not in LANGUAGES and (args.core is None or args.transcripts is None):
            raise InputError(f"--lang {args.lang}: known languages are {', '.join(LANGUAGES)} "
                             "(others need --core and --transcripts)")
        build_corpus(args.lang, args.root, sounds=args.sounds, transcripts=args.transcripts,
                     deb_root=args.deb_root, core=args.core, extra=extra,
                     test_fraction=args.test_fraction, dev_fraction=args.dev_fraction,
                     seed=args.seed, digits=args.digits,
                     max_duration_ratio=args.max_duration_ratio,
                     max_chars_per_second=args.max_chars_per_second)
    except InputError as err:
        print(f"build_asterisk: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
