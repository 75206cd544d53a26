"""Kaldi-style ``cmd |`` audio paths: run by the shell with a time limit, decoded by soundfile,
one-line errors naming the command; manifests keep them as they are."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from asr import audio
from asr.audio import audio_info, is_pipe, iter_audio_blocks, load_audio
from ctc.data.manifest import read_manifest
from ctc.errors import InputError

RATE = 16000


@pytest.fixture
def wav(tmp_path):
    wave = np.random.default_rng(0).uniform(-0.3, 0.3, 2 * RATE).astype(np.float32)
    sf.write(tmp_path / "x.flac", wave, RATE, subtype="PCM_24")
    return tmp_path / "x.flac"


def test_a_pipe_reads_like_its_file(wav):
    pipe = f"cat '{wav}' |"
    assert is_pipe(pipe) and not is_pipe(str(wav))
    assert audio_info(pipe).frames == 2 * RATE
    assert np.allclose(load_audio(pipe, RATE), load_audio(wav, RATE))
    assert np.allclose(load_audio(pipe, RATE, 0.5, 1.25), load_audio(wav, RATE)[8000:20000])
    assert np.allclose(np.concatenate(list(iter_audio_blocks(pipe, 8000, 0.3))),
                       np.concatenate(list(iter_audio_blocks(wav, 8000, 0.3))))


def test_the_output_is_reused_for_segments_of_one_recording(tmp_path, wav):
    count = tmp_path / "runs"
    pipe = f"echo x >> '{count}'; cat '{wav}' |"
    for start in (0.0, 0.5, 1.0):
        load_audio(pipe, RATE, start, start + 0.5)
    assert count.read_text().count("x") == 1


@pytest.mark.parametrize("command, says", [
    ("sh -c 'echo no such file: in.sph >&2; exit 2' |", "failed (exit status 2): no such file"),
    ("true |", "wrote no audio"),
    ("echo not audio |", "cannot read audio (Format not recognised"),
    ("kill -9 $$ |", "killed by signal 9"),
    ("|", "empty command"),
])
def test_failures_are_one_line_naming_the_command(command, says):
    with pytest.raises(InputError) as err:
        load_audio(command)
    message = str(err.value)
    assert "\n" not in message and says in message
    if command != "|":
        assert command.rstrip(" |") in message


def test_a_hanging_command_times_out(monkeypatch):
    monkeypatch.setenv("CAROUSEL_PIPE_TIMEOUT", "0.5")
    with pytest.raises(InputError, match=r"did not finish within 0.5 s"):
        audio_info("sleep 30 |")
    monkeypatch.setenv("CAROUSEL_PIPE_TIMEOUT", "soon")
    with pytest.raises(InputError, match="CAROUSEL_PIPE_TIMEOUT"):
        audio_info("sleep 30 |")


def test_a_segment_past_the_end_of_a_piped_recording(wav):
    with pytest.raises(InputError, match="lies past the end of the recording"):
        load_audio(f"cat {wav} |", RATE, 1.5, 3.0)


def test_manifests_keep_commands_unresolved(tmp_path, wav):
    line = {"id": "u", "modality": "audio", "path": f"cat {wav.name} |", "text": "a"}
    (tmp_path / "m.jsonl").write_text(json.dumps(line) + "\n")
    assert read_manifest(tmp_path / "m.jsonl")[0].path == f"cat {wav.name} |"
    audio._PIPE_CACHE.clear()
