"""A modality's command-line program (``asr``, ``htr``): prepare, train, evaluate, recognise.

The program is built from its :class:`ctc.modality.Modality`, its own ``prepare`` corpora and
the name of its recognition command; everything else is shared. Exit status: 0 on success, 1
when an input was bad (one line on stderr naming it; batch commands finish the other inputs
first), 2 on a usage error, 130 when interrupted.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from ctc.commands.evaluate import add_evaluate_parser
from ctc.commands.options import apply_threads
from ctc.commands.recognize import add_recognize_parser
from ctc.commands.train import add_train_parser
from ctc.distributed import end_shard
from ctc.errors import Main, cli_entry
from ctc.modality import Modality


@dataclass(frozen=True)
class Program:
    """What a modality's program adds to the shared commands.

    ``add_prepare`` registers ``prepare`` subcommands (corpus readers) on a subparsers object,
    each with ``set_defaults(run=...)``; ``doc`` is the program module's docstring, whose
    indented lines starting with the program's name are the ``--help`` examples; ``configs``:
    where its YAML configs live; ``add_commands`` (optional) registers the program's own
    top-level commands (``asr export``) on the commands' subparsers object. The recognition
    command's name and description come from the modality.
    """

    prog: str
    description: str
    modality: Modality
    add_prepare: Callable[[argparse._SubParsersAction], None]
    doc: str
    configs: str
    add_commands: Callable[[argparse._SubParsersAction], None] | None = None

    def parser(self) -> argparse.ArgumentParser:
        examples = [line for line in self.doc.splitlines()
                    if line.startswith(f"  {self.prog} ") or line.startswith("    ")]
        parser = argparse.ArgumentParser(
            prog=self.prog, description=self.description,
            epilog="examples:\n" + "\n".join(examples)
                   + f"\n\nRun `{self.prog} <command> --help` for the options of a command.",
            formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.set_defaults(prog=self.prog)
        commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)
        prepare = commands.add_parser("prepare", help="write manifests for a corpus",
                                      description="Write JSONL manifests for a corpus.")
        self.add_prepare(prepare.add_subparsers(dest="corpus", metavar="<corpus>",
                                                required=True))
        add_train_parser(commands, self.modality, self.configs)
        add_evaluate_parser(commands, self.modality)
        add_recognize_parser(commands, self.modality)
        if self.add_commands is not None:
            self.add_commands(commands)
        return parser

    def main(self) -> Main:
        """The program's ``main(argv) -> exit status``."""

        def main(argv: list[str] | None = None) -> int:
            args = self.parser().parse_args(argv)
            apply_threads(args)
            status = args.run(args)
            end_shard()
            return status

        return cli_entry(self.prog)(main)
