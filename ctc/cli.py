"""The ``ctc`` command: tools shared by both modalities (scoring, LM building, LM tuning).

Each subcommand lives in its own module exposing ``main(argv) -> int``; this file only dispatches.
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS = {
    "score": ("ctc.metrics.score_cli", "score hypotheses against references (WER/CER report)"),
    "lm": ("ctc.lm.cli", "build and inspect word n-gram language models"),
    "tune-lm": ("ctc.decode.tune_cli", "search LM weight alpha and word bonus beta on a dev set"),
}


def _usage() -> str:
    lines = ["usage: ctc <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "Run `ctc <command> --help` for the options of a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"ctc: error: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
