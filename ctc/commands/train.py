"""``train``: a model from manifests and a YAML config, for any modality."""

from __future__ import annotations

import argparse
from pathlib import Path

from ctc.checkpoint import read_model
from ctc.errors import InputError
from ctc.modality import Modality


def add_train_parser(commands: argparse._SubParsersAction, modality: Modality,
                     config_hint: str) -> None:
    train = commands.add_parser(
        "train", help="train a model",
        description=f"Train a BiLSTM-CTC {modality.title} model. The config's frontend section "
                    "holds the feature options, stored in the checkpoint with the tokenizer.")
    train.add_argument("--config", required=True, help=f"YAML config (see {config_hint})")
    train.add_argument("--train", help="training manifest (JSONL; or data.train_manifest)")
    train.add_argument("--valid", help="validation manifest (JSONL; or data.valid_manifest)")
    train.add_argument("--out", required=True, help="experiment folder for checkpoints and logs")
    train.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. --set optim.lr=5e-4 (repeatable)")
    init = train.add_argument_group("fine-tuning")
    init.add_argument("--init", metavar="CKPT",
                      help="start from this model's weights (a checkpoint or experiment folder); "
                           "the output layer is resized to this run's vocabulary, keeping the "
                           "rows of the symbols both share; --set 'train.freeze=[frontend]' "
                           "keeps layers as they are (train.freeze_steps=N: for N steps)")
    init.add_argument("--init-frontend", choices=("keep", "reestimate"), default="keep",
                      help="the front-end statistics (global CMVN) of --init's model: keep them "
                           "(default) or re-estimate them on this training set")
    init.add_argument("--init-vocab", choices=("new", "union"), default="new",
                      help="new: the vocabulary of this training text (default); union: also "
                           "keep every symbol of --init's model")
    modality.add_train_options(train)
    train.set_defaults(run=lambda args: run_train(args, modality))


def _check_modality(records: list, name: str, modality: Modality) -> None:
    wrong = [r for r in records if r.modality != modality.name]
    if wrong:
        shown = ", ".join(f"{r.id} ({r.modality})" for r in wrong[:3])
        raise InputError(f"{name} manifest: {len(wrong)} record(s) are not {modality.name}: "
                         f"{shown}")


def init_tokenizer(config, saved, texts: list[str], vocab: str):
    """The tokenizer of a fine-tuning run: a BPE model is kept (its pieces cannot be merged);
    characters come from this run's texts, with ``vocab="union"`` also the saved model's."""
    from ctc.data.tokens import BLANK_SYMBOL, CharTokenizer
    from ctc.train.prepare import build_tokenizer

    if saved.kind == "bpe":
        return saved
    new = build_tokenizer(config.tokenizer, texts)
    if vocab == "new" or new.kind != "char":
        return new
    symbols = sorted(set(new.symbols[1:]) | set(saved.symbols) - {BLANK_SYMBOL})
    return CharTokenizer([BLANK_SYMBOL, *symbols])


def run_train(args: argparse.Namespace, modality: Modality) -> int:
    from ctc.data.manifest import read_manifest
    from ctc.train import load_config, run_training
    from ctc.train.config import check_resume

    config = load_config(args.config, args.set)
    if args.resume:
        check_resume(config, args.out)
    train_path = args.train or config.data.train_manifest
    valid_path = args.valid or config.data.valid_manifest
    if not train_path or not valid_path:
        raise InputError("give --train and --valid manifests "
                         "(or data.train_manifest and data.valid_manifest)")
    train_records = read_manifest(train_path)
    valid_records = read_manifest(valid_path)
    _check_modality(train_records, "train", modality)
    _check_modality(valid_records, "valid", modality)
    init = tokenizer = None
    if args.init:
        init = read_model(args.init)
        if init.modality.name != modality.name:
            raise InputError(f"--init {init.path}: a {init.modality.title} model, not "
                             f"{modality.title}")
        args.init_featurizer = init.featurizer if args.init_frontend == "keep" else None
        tokenizer = init_tokenizer(config, init.tokenizer, [r.text for r in train_records],
                                   args.init_vocab)
    try:
        featurizer = modality.build_featurizer(config.frontend, train_records, args)
    except (TypeError, ValueError) as err:
        raise InputError(f"{args.config}: frontend: {err}") from None
    metrics = run_training(config, featurizer, train_records, valid_records, Path(args.out),
                           resume=args.resume, tokenizer=tokenizer, init=init)
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in metrics.items() if not isinstance(v, dict | list))
    print(f"trained model in {args.out}: {shown}")
    return 0
