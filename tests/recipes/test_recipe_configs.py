"""Every recipe's YAML config loads and passes the config checks as it is shipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc.train import load_config

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "recipes").glob("*/conf/*.yaml"))


def test_the_recipes_ship_configs():
    assert {p.parent.parent.name for p in CONFIGS} >= {"asterisk", "iam", "librispeech", "mnist"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_recipe_config_is_valid(path):
    load_config(path)  # InputError naming the key when a value is out of its domain
