"""tools/lang_text.py: held-out texts never used, normalisation within the alphabet, catalogue
sentences, and the LM text (transcripts weighted, more sentences of the language)."""

from __future__ import annotations

import gettext
import gzip
import shutil
import struct
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import lang_text  # noqa: E402

sys.path.pop(0)


def test_held_out_texts_and_sentences_holding_them_are_not_spoken():
    allowed = lang_text.held_out_filter(["adiós", "su buzón está lleno", "hola"])
    assert not allowed("adiós") and not allowed("hola")
    assert not allowed("ahora su buzón está lleno de mensajes")
    assert allowed("adiós amigo")  # a held-out text under three words only counts whole
    assert allowed("su buzón de voz")


def test_clean_texts_normalises_and_keeps_the_alphabet():
    allowed = set("abcdefghijklmnopqrstuvwxyz' ") | set("áéíóúüñ")
    out = lang_text.clean_texts(["¡Hola, señor!", "Hola señor", "straße ok", "marque 1 ahora",
                             "uno dos tres cuatro"], allowed, 2, 3)
    assert out == ["hola señor"]


def _write_mo(path: Path, messages: dict[str, str]) -> None:
    """A minimal GNU .mo catalogue."""
    keys = sorted(messages)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(messages[k].encode() + b"\0" for k in keys)
    n = len(keys)
    header = 7 * 4
    table = header + 16 * n
    offsets, off_ids, off_strs = [], table, table + len(ids)
    for k in keys:
        offsets.append((len(k.encode()), off_ids))
        off_ids += len(k.encode()) + 1
    str_offsets = []
    for k in keys:
        str_offsets.append((len(messages[k].encode()), off_strs))
        off_strs += len(messages[k].encode()) + 1
    data = struct.pack("<7I", 0x950412DE, 0, n, header, header + 8 * n, 0, 0)
    data += b"".join(struct.pack("<2I", *o) for o in offsets)
    data += b"".join(struct.pack("<2I", *o) for o in str_offsets)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data + ids + strs)


def test_catalogue_sentences(tmp_path):
    _write_mo(tmp_path / "es/LC_MESSAGES/app.mo", {
        "": "Content-Type: text/plain; charset=UTF-8\n",
        "File not found": "No se encontró el archivo. Inténtelo de nuevo",
        "Usage: %s": "Uso: %s [opciones]", "Copy 2 files": "Copiar 2 archivos"})
    with open(tmp_path / "es/LC_MESSAGES/app.mo", "rb") as handle:
        assert gettext.GNUTranslations(handle).gettext("Copy 2 files") == "Copiar 2 archivos"
    out = lang_text.catalogue_sentences("es", tmp_path)
    assert "No se encontró el archivo" in out and "Inténtelo de nuevo" in out
    assert not any("%" in s or "2" in s for s in out)


_PAGE = r""".TH LISTER 1 "mars 2024" "outils 2.1" "Commandes de l'utilisateur"
.SH NOM
lister \- afficher le contenu d'un répertoire
.SH DESCRIPTION
Afficher les informations sur les fichiers du répertoire courant
ou de chaque répertoire indiqué. Les entrées sont triées
par ordre alphabétique.
.PP
The default is the current directory.
.TP
\fB\-a\fR, \fB\-\-all\fP
ne pas ignorer les entrées commençant par un point
.PP
Voir la section 3 pour les détails ; la liste s'arrête ensuite.
"""


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff renders the manual pages")
def test_manpage_sentences_render_paragraphs_whole_and_leave_english_out(tmp_path):
    pages = tmp_path / "fr" / "man1"
    pages.mkdir(parents=True)
    (pages / "lister.1.gz").write_bytes(gzip.compress(_PAGE.encode("utf-8")))
    (pages / "ll.1.gz").write_bytes(gzip.compress(b".so man1/lister.1\n"))  # a link
    (pages / "broken.1.gz").write_bytes(b"not gzip")
    (pages / "plain.1").write_text(".TH PLAIN 1\n.SH NOM\nune page sans compression\n",
                                   encoding="utf-8")
    assert lang_text.manpage_sentences("fr", tmp_path) == [
        # lister.1.gz (broken.1.gz unreadable, ll.1.gz a link): a paragraph's source lines
        # make one sentence; no heading or footer with digits, no option, no English
        "NOM", "lister - afficher le contenu d'un répertoire", "DESCRIPTION",
        "Afficher les informations sur les fichiers du répertoire courant ou de chaque "
        "répertoire indiqué", "Les entrées sont triées par ordre alphabétique",
        "ne pas ignorer les entrées commençant par un point", "la liste s'arrête ensuite",
        "NOM", "une page sans compression"]  # plain.1


def test_manpage_sentences_without_pages_name_the_folder_and_package(tmp_path):
    with pytest.raises(lang_text.InputError, match=r"/fr: no manual pages.*manpages-fr"):
        lang_text.manpage_sentences("fr", tmp_path)


def test_lm_text_weights_the_transcripts_and_leaves_held_out_text_out(tmp_path, capsys):
    (tmp_path / "lm-text.txt").write_text("gracias\nsu buzón está lleno\n", encoding="utf-8")
    (tmp_path / "heldout.txt").write_text("ingrese su contraseña\n", encoding="utf-8")
    (tmp_path / "more.txt").write_text(
        "Por favor, ingrese su contraseña ahora.\nEl archivo no existe\nGracias\n"
        "Copie 2 archivos\nel archivo no existe\n", encoding="utf-8")
    out = tmp_path / "lm.txt"
    assert lang_text.main(["--lang", "es", "--text", str(tmp_path / "lm-text.txt"),
                           "--exclude", str(tmp_path / "heldout.txt"),
                           "--more-text", str(tmp_path / "more.txt"), "--repeat", "3",
                           "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines == ["gracias", "su buzón está lleno"] * 3 + ["el archivo no existe"]
    assert "3x" in capsys.readouterr().out


def test_lm_text_missing_input_is_one_line(tmp_path, capsys):
    assert lang_text.main(["--lang", "es", "--text", str(tmp_path / "none.txt"),
                           "--out", str(tmp_path / "lm.txt")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("lang_text: error:") and "none.txt" in err and "\n" not in err
    assert not (tmp_path / "lm.txt").exists()
