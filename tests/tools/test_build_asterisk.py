"""tools/build_asterisk.py on a generated stand-in of the Debian Asterisk packages (no package
needed): transcript parsing, what is left out, the split by prompt text, the other speakers,
8 kHz FLAC in the LibriSpeech layout that ``asr prepare librispeech`` reads."""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import build_asterisk  # noqa: E402

sys.path.pop(0)

PROMPTS = {f"prompt-{i:02d}": f"Mensaje número {i % 7} de la lista, ¿sí?" for i in range(6)}
PROMPTS.update({f"words-{i:02d}": text for i, text in enumerate([
    "Por favor ingrese su contraseña.", "Gracias", "Adiós", "La conferencia ha sido bloqueada.",
    "Conferencia bloqueada", "El número que marcó no existe", "L’ora è tarda", "Otra vez",
    "Buenos días", "Buenas noches", "Hasta luego", "Bienvenido", "Opción inválida"])})


def write_tree(tmp_path: Path, extra_seconds: dict[str, float] | None = None) -> tuple[Path, Path]:
    """A sounds tree (core speaker es_MX_f_Allison, other speaker es) and its transcripts."""
    sounds = tmp_path / "sounds"
    rng = np.random.default_rng(0)
    lines = ["; Core Asterisk Sounds in Spanish (stand-in)", "",
             "beep: [tono simple]", "letters/b: b", "digits/5: cinco", "conf-adminmenu: marque 1",
             "dup: uno", "dup: dos", "nothere: sin grabación", "symbol: suivi du #"]
    names = ["beep", "letters/b", "digits/5", "conf-adminmenu", "dup"]
    lines += [f"{name}: {text}" for name, text in {**PROMPTS,
                                                   "same-text": "Gracias."}.items()]
    names += [*PROMPTS, "same-text"]
    texts = dict(line.split(": ", 1) for line in lines if ": " in line)
    for name in names:
        seconds = 0.4 + 0.05 * len(name) + len(texts[name]) / 12   # speech: ~12 chars a second
        path = sounds / "es_MX_f_Allison" / f"{name}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.1 * rng.standard_normal(int(8000 * seconds))).astype(np.float32),
                 8000, subtype="PCM_16")
        if extra_seconds is not None and name in extra_seconds:
            other = sounds / "es" / f"{name}.wav"
            other.parent.mkdir(parents=True, exist_ok=True)
            sf.write(other, np.zeros(int(8000 * seconds * extra_seconds[name]), np.float32),
                     8000, subtype="PCM_16")
    transcripts = tmp_path / "core-sounds-es.txt.gz"
    with gzip.open(transcripts, "wt", encoding="utf-8") as handle:
        handle.write("\ufeff" + "\n".join(lines) + "\n")
    return sounds, transcripts


def build(tmp_path: Path, **kwargs):
    sounds, transcripts = write_tree(tmp_path, kwargs.pop("extra_seconds", None))
    return build_asterisk.build_corpus("es", tmp_path / "out", sounds=sounds,
                                       transcripts=transcripts, log=lambda *_: None, **kwargs)


def test_transcripts_entries_left_out_with_reasons(tmp_path):
    _, transcripts = write_tree(tmp_path)
    entries, skipped = build_asterisk.read_transcripts(transcripts,
                                                       build_asterisk.default_normalizer())
    assert entries["words-00"].text == "por favor ingrese su contraseña"
    assert entries["words-06"].text == "l'ora è tarda"
    assert entries["digits/5"].text == "cinco"
    text = "\n".join(skipped)
    for name, reason in [("beep", "annotation"), ("letters/b", "single letter"),
                         ("conf-adminmenu", "digits"), ("dup", "2 times"),
                         ("symbol", "spoken symbol"), ("prompt-00", "digits")]:
        assert f": {name}: " in text and reason in text, (name, text)
        assert name not in entries
    assert all(line.startswith(f"{transcripts}:") for line in skipped)


def read_italian(tmp_path: Path, text: str):
    """(entries, skipped, path) of ``text`` as an Italian transcript file."""
    transcripts = tmp_path / "core-sounds-it.txt"
    transcripts.write_text(text, encoding="utf-8")
    return (*build_asterisk.read_transcripts(
        transcripts, build_asterisk.default_normalizer("skip", "it")), transcripts)


def test_notes_in_parentheses_are_not_speech(tmp_path):
    entries, skipped, _ = read_italian(
        tmp_path, "confbridge-join: (beep)\nsilence/7: (7 secondi di silenzio)\n"
        "confbridge-muted: Voce disattivata. (You are now muted.)\nspy-nbs: N B S (in inglese)\n")
    assert entries["confbridge-muted"].text == "voce disattivata"
    assert entries["spy-nbs"].text == "n b s"
    assert "confbridge-join: an annotation, not speech ((beep))" in "\n".join(skipped)
    assert "silence/7: an annotation" in "\n".join(skipped)
    assert set(entries) == {"confbridge-muted", "spy-nbs"}


def test_run_on_lines_are_split_into_their_entries(tmp_path):
    # two lines of the Italian package hold several entries (a missing line break)
    entries, skipped, transcripts = read_italian(
        tmp_path, "vm-tempremoved: Il tuo messaggio è stato eliminato vm-then-pound: poi premere "
        "cancelletto\nvm-then-pound: quindi premere sterlina\n"
        "conf-a: Per disattivare la voce. conf-b: Per riattivare. conf-c: Sei solo.\n"
        "conf-c: Sei solo.\nconf-b: Premere uno: poi attendere\n"
        "vm-options: Per registrare: il messaggio\n"
        "vm-prepend: Premere cancelletto.vm-urgent: Per segnare urgente, premere quattro.\n"
        "vm-urgent: Per segnare urgente, premere quattro.\n")
    assert entries["vm-tempremoved"].text == "il tuo messaggio è stato eliminato"
    assert entries["conf-a"].text == "per disattivare la voce"
    assert entries["conf-c"].text == "sei solo"            # the same text on both lines: kept
    assert entries["vm-options"].text == "per registrare il messaggio"   # not a name: not cut
    # the French line 486: the next entry's name glued to the full stop
    assert entries["vm-prepend"].text == "premere cancelletto"
    assert entries["vm-urgent"].text == "per segnare urgente premere quattro"
    text = "\n".join(skipped)
    assert f"{transcripts}:1: vm-then-pound: listed 2 times with different texts (lines 1, 2)" \
        in text
    assert f"{transcripts}:3: conf-b: listed 2 times with different texts (lines 3, 5)" in text
    assert set(entries) == {"vm-tempremoved", "conf-a", "conf-c", "vm-options", "vm-prepend",
                            "vm-urgent"}


def test_recordings_too_short_for_their_text_are_left_out(tmp_path):
    # Italian's "beep: un suono beep" is a 0.4-second tone: 30 characters a second
    sounds, transcripts = write_tree(tmp_path)
    with gzip.open(transcripts, "at", encoding="utf-8") as handle:
        handle.write("tone: un sonido de error ascendente\n")
    sf.write(sounds / "es_MX_f_Allison/tone.wav", np.zeros(3200, np.float32), 8000,
             subtype="PCM_16")
    kwargs = dict(sounds=sounds, transcripts=transcripts, test_fraction=0.25, dev_fraction=0.15,
                  seed=3, log=lambda *_: None)
    report = build_asterisk.build_corpus("es", tmp_path / "out", **kwargs)
    unchecked = build_asterisk.build_corpus("es", tmp_path / "unchecked",
                                            max_chars_per_second=1000, **kwargs)
    assert "tone" not in {u.name for u in report.utterances}
    assert "tone" in {u.name for u in unchecked.utterances}
    assert "tone: 29 characters in 0.40 s (72.5/s, over 25): the recording cannot say" in \
        (tmp_path / "out/skipped.txt").read_text()
    with pytest.raises(build_asterisk.InputError, match="must be positive"):
        build_asterisk.build_corpus("es", tmp_path / "bad", max_chars_per_second=0, **kwargs)
    # checked after the split: every other prompt stays in its subset
    assert {(u.name, u.subset) for u in report.utterances} == \
        {(u.name, u.subset) for u in unchecked.utterances if u.name != "tone"}


def test_split_by_prompt_text_and_layout(tmp_path):
    report = build(tmp_path, test_fraction=0.25, dev_fraction=0.15, seed=3)
    out = tmp_path / "out"
    subsets = {u.subset for u in report.utterances}
    assert subsets == {"train", "dev", "test"}
    texts = {s: {u.text for u in report.utterances if u.subset == s} for s in subsets}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["dev"]
    assert not texts["dev"] & texts["test"]
    # "gracias" (words-01) and "Gracias." (same-text) are one prompt: always in one subset
    assert len({u.subset for u in report.utterances if u.text == "gracias"}) == 1
    assert "nothere: no recording" in (out / "skipped.txt").read_text()
    flac = sorted((out / "LibriSpeech").glob("*/*/*/*.flac"))
    assert len(flac) == len(report.utterances) == 1 + 13 + 1  # digits/5, words, same-text
    assert {sf.info(str(p)).samplerate for p in flac} == {8000}
    trans = (out / "LibriSpeech/train/101/1010/101-1010.trans.txt").read_text().splitlines()
    assert trans and all(line.split(" ", 1)[0].startswith("101-1010-") for line in trans)
    lm = set((out / "lm-text.txt").read_text().splitlines())
    held = set((out / "heldout-text.txt").read_text().splitlines())
    assert lm == texts["train"] and held == texts["dev"] | texts["test"]
    stats = json.loads((out / "stats.json").read_text())
    assert sum(s["utterances"] for s in stats.values()) == len(flac)
    assert stats["test"]["minutes"] > 0

    from asr.librispeech import prepare_librispeech

    reports = prepare_librispeech(out, ["train", "dev", "test"], tmp_path / "manifests")
    assert [r.utterances for r in reports] == [stats[s]["utterances"] for s in
                                               ("train", "dev", "test")]
    assert not any(r.audio_without_transcript or r.unreadable for r in reports)


@pytest.mark.skipif(importlib.util.find_spec("num2words") is None, reason="needs num2words")
def test_digit_prompts_spelt_out_for_training_only(tmp_path):
    sounds, transcripts = write_tree(tmp_path)
    with gzip.open(transcripts, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    lines += ["word-uno: Uno.", "digit-uno: 1"]  # spelt out, the same text as a words prompt
    with gzip.open(transcripts, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    for name in ("word-uno", "digit-uno"):
        sf.write(sounds / "es_MX_f_Allison" / f"{name}.wav", np.zeros(4000, np.float32), 8000,
                 subtype="PCM_16")
    outcomes = set()
    for seed in range(8):
        out = tmp_path / f"out{seed}"
        kwargs = dict(sounds=sounds, transcripts=transcripts, test_fraction=0.3,
                      dev_fraction=0.1, seed=seed, log=lambda *_: None)
        skip = build_asterisk.build_corpus("es", tmp_path / f"skip{seed}", digits="skip",
                                           **kwargs)
        report = build_asterisk.build_corpus("es", out, digits="train", **kwargs)
        held = {(u.subset, u.name, u.text) for u in report.utterances if u.subset != "train"}
        assert held == {(u.subset, u.name, u.text) for u in skip.utterances
                        if u.subset != "train"}
        train = {u.name: u.text for u in report.utterances if u.subset == "train"}
        assert train["prompt-00"] == "mensaje número cero de la lista sí"
        assert train["conf-adminmenu"] == "marque uno"
        uno_subset = next(u.subset for u in report.utterances if u.name == "word-uno")
        if uno_subset == "train":
            assert train["digit-uno"] == "uno"
        else:
            assert "digit-uno" not in train
            assert f"digit-uno: spelt out, it is a {uno_subset} prompt" in \
                (out / "skipped.txt").read_text()
        outcomes.add(uno_subset == "train")
        assert "marque uno" in (out / "lm-text.txt").read_text().splitlines()
    assert outcomes == {True, False}


def test_rerun_is_idempotent(tmp_path):
    first = build(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.flac")}
    second = build(tmp_path)
    assert [u.id for u in first.utterances] == [u.id for u in second.utterances]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.flac")} == before


def test_rerun_with_other_prompts_rewrites_renumbered_files(tmp_path):
    # a rebuild that leaves out a prompt renumbers the ids after it: their files must follow
    sounds, transcripts = write_tree(tmp_path)
    kwargs = dict(sounds=sounds, transcripts=transcripts, log=lambda *_: None)
    first = build_asterisk.build_corpus("es", tmp_path / "out", **kwargs)
    (sounds / "es_MX_f_Allison/words-03.wav").unlink()
    second = build_asterisk.build_corpus("es", tmp_path / "out", **kwargs)
    moved = [u for u in second.utterances
             if u.id in {v.id for v in first.utterances if v.name != u.name}]
    assert moved
    for utt in second.utterances:
        stored, _ = sf.read(utt.path, dtype="int16")
        source, _ = sf.read(utt.source, dtype="int16")
        assert np.array_equal(stored, source), utt.id


def test_other_speaker_is_training_only_and_duration_checked(tmp_path):
    names = [*PROMPTS, "digits/5", "same-text"]
    ratios = {name: 1.0 for name in names}
    ratios["words-00"] = 2.5  # another wording, by its length
    report = build(tmp_path, extra_seconds=ratios, test_fraction=0.3, dev_fraction=0.1)
    other = [u for u in report.utterances if u.speaker == 102]
    core_subset = {u.name: u.subset for u in report.utterances if u.speaker == 101}
    assert other and all(u.subset == "train" for u in other)
    assert {u.name for u in other} == {n for n, s in core_subset.items()
                                       if s == "train" and n != "words-00"}
    skipped = (tmp_path / "out/skipped.txt").read_text()
    assert core_subset["words-00"] == "train"  # with this seed
    assert "words-00: " in skipped and "probably another wording" in skipped
    assert "other speakers are training-only" in skipped
    assert "102  | train | es\n" in (tmp_path / "out/LibriSpeech/SPEAKERS.TXT").read_text()


@pytest.mark.skipif(shutil.which("sox") is None, reason="needs sox")
def test_gsm_recordings_are_read_with_sox(tmp_path):
    wav = tmp_path / "a.wav"
    sf.write(wav, 0.2 * np.sin(np.arange(8000) / 5.0).astype(np.float32), 8000,
             subtype="PCM_16")
    gsm = tmp_path / "a.gsm"
    subprocess.run(["sox", str(wav), "-r", "8000", "-c", "1", str(gsm)], check=True)
    wave, rate = build_asterisk.read_audio(gsm)
    assert rate == 8000 and abs(len(wave) - 8000) < 200 and wave.dtype == np.int16
    assert abs(build_asterisk.audio_seconds(gsm) - 1.0) < 0.03


def test_errors_are_one_line(tmp_path):
    _, transcripts = write_tree(tmp_path)
    with pytest.raises(build_asterisk.InputError, match="core es recordings are not there"):
        build_asterisk.build_corpus("es", tmp_path / "o", sounds=tmp_path / "none",
                                    transcripts=transcripts)
    with pytest.raises(build_asterisk.InputError, match="transcripts of asterisk-core-sounds-fr"):
        build_asterisk.find_transcripts("fr", tmp_path)
    assert build_asterisk.main(["--lang", "xx", "--root", str(tmp_path / "o")]) == 1


@pytest.mark.skipif(not (build_asterisk.SOUNDS / "es_MX_f_Allison").is_dir(),
                    reason="asterisk-core-sounds-es-wav not installed")
def test_installed_spanish_prompts_are_8khz_speech():
    folder = build_asterisk.SOUNDS / "es_MX_f_Allison"
    wave, rate = build_asterisk.read_audio(folder / "auth-thankyou.wav")
    assert rate == 8000 and 0.3 < len(wave) / rate < 3


def test_rebuild_without_the_other_speakers_removes_their_files(tmp_path):
    names = [*PROMPTS, "digits/5", "same-text"]
    build(tmp_path, extra_seconds={name: 1.0 for name in names})
    assert (tmp_path / "out/LibriSpeech/train/102").is_dir()
    report = build(tmp_path, extra=[])
    assert not (tmp_path / "out/LibriSpeech/train/102").exists()
    flac = sorted((tmp_path / "out/LibriSpeech").rglob("*.flac"))
    assert len(flac) == len(report.utterances)
