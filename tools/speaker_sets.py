"""The training sets that the Asterisk recipe derives from a corpus's manifests by speaker.

    python tools/speaker_sets.py core TRAIN DEV OUT
    python tools/speaker_sets.py pretrain OUT REPEAT OWN ESPEAK OTHERS_OF [REAL ...]

``core`` writes the lines of TRAIN spoken by a speaker of DEV (the core speaker, whom dev and
test hold), byte for byte (``TRAIN_SPEAKERS=core``). ``pretrain`` writes the pretraining set:
the espeak-ng manifest ESPEAK, then each REAL manifest (real speech of other languages,
``PRETRAIN_REAL``) REPEAT times with its ids and speakers prefixed by its number and the copy
(``real0.1-ID``) so that none collide, then, when OTHERS_OF is a dev manifest, the utterances of
the language's own training set OWN by the speakers that dev does not hold, REPEAT times
(``own.1-ID``, ``PRETRAIN_OTHER_SPEAKERS=1``); OWN itself is refused as a REAL manifest. Both
write atomically; a bad input ends with one line naming the option, the file and the line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ctc.errors import InputError
from ctc.io import atomic_write_text, read_text_lines


class SetError(Exception):
    """A manifest that cannot be read: the message is the whole one-line report."""


def records(path: str, option: str) -> Iterator[tuple[str, dict]]:
    """The non-empty lines of a JSONL manifest with their records (each with an ``id``)."""
    try:
        lines = read_text_lines(path)
    except InputError as err:
        raise SetError(f"{option}: {err}") from None
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            record["id"]
        except (ValueError, TypeError, KeyError):
            raise SetError(f"{option}: {path}:{number}: not a JSON manifest record") from None
        yield line, record


def speakers(path: str, option: str) -> set:
    return {record.get("speaker") for _, record in records(path, option)}


def write_lines(out: str, lines: list[str]) -> None:
    atomic_write_text(out, "".join(line + "\n" for line in lines))


def core_set(train: str, dev: str, out: str) -> str:
    option = "TRAIN_SPEAKERS=core"
    core = speakers(dev, option)
    kept = [line for line, record in records(train, option) if record.get("speaker") in core]
    if not kept:
        raise SetError(f"{option}: no utterance of {train} is by a speaker of {dev}")
    write_lines(out, kept)
    return f"{out}: {len(kept)} utterances of the core speaker"


def pretrain_set(out: str, repeat: int, own: str, espeak: str, others_of: str,
                 real: list[str]) -> str:
    sources = []
    for k, path in enumerate(real):
        if os.path.realpath(path) == os.path.realpath(own):
            raise SetError(f"PRETRAIN_REAL: {path} is this language's own training set")
        sources.append((f"real{k}", [r for _, r in records(path, "PRETRAIN_REAL")]))
    told = f"{len(real)} real manifest(s)"
    if others_of:
        option = "PRETRAIN_OTHER_SPEAKERS=1"
        core = speakers(others_of, option)
        others = [r for _, r in records(own, option) if r.get("speaker") not in core]
        if not others:
            raise SetError(f"{option}: every utterance of {own} is by a speaker of {others_of}")
        sources.append(("own", others))
        told += f", {len(others)} utterances of this language's other speakers"
    lines = [line for line, _ in records(espeak, "ESPEAK_ROOT")]
    for prefix, chosen in sources:
        for copy in range(repeat):
            for r in chosen:
                r = dict(r, id=f"{prefix}.{copy}-{r['id']}",
                         speaker=f"{prefix}-{r.get('speaker', '')}")
                lines.append(json.dumps(r, ensure_ascii=False))
    write_lines(out, lines)
    return f"{out}: {len(lines)} utterances (espeak-ng, {told}; {repeat}x each)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    core = sub.add_parser("core", help="the core speaker's training utterances")
    core.add_argument("train")
    core.add_argument("dev")
    core.add_argument("out")
    pre = sub.add_parser("pretrain", help="the pretraining set")
    pre.add_argument("out")
    pre.add_argument("repeat", type=int)
    pre.add_argument("own")
    pre.add_argument("espeak")
    pre.add_argument("others_of", help="the dev manifest, or '' for no own speakers")
    pre.add_argument("real", nargs="*")
    args = parser.parse_args(argv)
    try:
        if args.command == "core":
            said = core_set(args.train, args.dev, args.out)
            print(said, file=sys.stderr)
        else:
            said = pretrain_set(args.out, args.repeat, args.own, args.espeak, args.others_of,
                                args.real)
            print(said)
    except SetError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
