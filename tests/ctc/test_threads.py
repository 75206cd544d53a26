"""ctc.threads: the intra-op thread count chosen from the free cores, and its overrides."""

from __future__ import annotations

import argparse

import pytest
import torch

from ctc import threads
from ctc.commands.options import apply_threads
from ctc.errors import InputError


@pytest.fixture(autouse=True)
def _restore_torch_threads(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    monkeypatch.delenv(threads.OMP_ENV, raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("cores", "busy", "expected"), [
    (2, 0.0, 2), (2, 0.3, 2), (2, 0.6, 1), (2, 1.0, 1), (2, 2.0, 1),
    (8, 2.9, 5), (8, 2.4, 6), (8, 3.5, 4), (1, 0.0, 1),
])
def test_free_cores_minus_busy_ones(monkeypatch, cores, busy, expected):
    monkeypatch.setattr(threads, "usable_cores", lambda: cores)
    monkeypatch.setattr(threads, "busy_cores", lambda window=0.1: busy)
    assert threads.intra_op_threads() == expected


@pytest.mark.parametrize("name", [threads.ENV, threads.OMP_ENV])
def test_environment_overrides_the_measurement(monkeypatch, name):
    monkeypatch.setattr(threads, "busy_cores", lambda window=0.1: pytest.fail("measured"))
    monkeypatch.setenv(name, "3")
    assert threads.intra_op_threads() == 3


def test_carousel_threads_wins_over_omp(monkeypatch):
    monkeypatch.setenv(threads.ENV, "2")
    monkeypatch.setenv(threads.OMP_ENV, "1")
    assert threads.intra_op_threads() == 2


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_bad_environment_value_is_named(monkeypatch, value):
    monkeypatch.setenv(threads.ENV, value)
    with pytest.raises(ValueError, match=threads.ENV):
        threads.intra_op_threads()
    with pytest.raises(InputError, match=threads.ENV):
        apply_threads(argparse.Namespace(threads=0))


def test_busy_cores_sees_a_spinning_process():
    import multiprocessing as mp

    spinning = mp.get_context("spawn").Process(target=_spin, daemon=True)
    spinning.start()
    try:
        assert threads.busy_cores(0.5) > 0.5
    finally:
        spinning.kill()


def _spin() -> None:
    while True:
        pass


def test_usable_cores_follow_affinity_and_quota(monkeypatch):
    monkeypatch.setattr(threads, "_cgroup_quota", lambda: None)
    assert threads.usable_cores() == len(threads.os.sched_getaffinity(0))
    monkeypatch.setattr(threads, "_cgroup_quota", lambda: 0.5)
    assert threads.usable_cores() == 1


def test_threads_option_sets_torch(monkeypatch):
    monkeypatch.setattr(threads, "busy_cores", lambda window=0.1: pytest.fail("measured"))
    apply_threads(argparse.Namespace(threads=1))
    assert torch.get_num_threads() == 1
    apply_threads(argparse.Namespace())  # a command without the option: left alone
    assert torch.get_num_threads() == 1
    with pytest.raises(InputError, match="--threads"):
        apply_threads(argparse.Namespace(threads=-2))
