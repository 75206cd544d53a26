"""torch.distributed set-up for runs launched by ``torchrun`` (gloo on CPU, nccl on GPU): data
parallel training (``ctc.train``), and evaluation and transcription sharded over processes
(``ctc.commands``); and the one place that resolves a ``--device`` name."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from ctc.errors import InputError


@dataclass
class DistInfo:
    """This process's place in the run; ``world == 1`` for a plain single-process run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


DEVICES = ("cpu", "cuda", "auto")


def resolve_device(name: str | torch.device, local_rank: int = 0) -> torch.device:
    """``auto`` -> ``cuda:<local_rank>`` when CUDA is available, else ``cpu``; ``cuda`` ->
    ``cuda:<local_rank>``; InputError for other names or CUDA on a machine without it."""
    name = str(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)
    except RuntimeError:
        raise InputError(f"--device {name}: choose one of {', '.join(DEVICES)}") from None
    if device.type not in ("cpu", "cuda"):
        raise InputError(f"--device {name}: choose one of {', '.join(DEVICES)}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name}: no CUDA device is available")
    return device


def setup_distributed(device_name: str) -> DistInfo:
    """Join the process group described by torchrun's environment (WORLD_SIZE, RANK, ...)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world <= 1:
        return DistInfo(device=device)
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        owns = True
    return DistInfo(rank, world, local_rank, device, owns)


_SHARD: DistInfo | None = None


def current_shard() -> DistInfo:
    """This process's share of a command run under ``torchrun`` (rank and world from its
    environment), joining a gloo group for the exchange of results (the models may still run on
    GPUs); a plain run is rank 0 of 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    global _SHARD
    if _SHARD is None:
        owns = not dist.is_initialized()
        if owns:  # results travel once, at the end: a rank may wait long for the others
            dist.init_process_group(backend="gloo", timeout=datetime.timedelta(hours=24))
        _SHARD = DistInfo(rank, world, local_rank, torch.device("cpu"), owns)
    return _SHARD


def end_shard() -> None:
    """Leave the group :func:`current_shard` joined, once every process got there (a process
    that exits while another still holds the group can abort it)."""
    global _SHARD
    if _SHARD is not None:
        teardown(_SHARD)
        _SHARD = None


def all_reduce_sum(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``values`` over all processes (identity when single-process)."""
    if info.world > 1:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def broadcast_object(obj, info: DistInfo):
    """``obj`` from rank 0 on every rank."""
    if info.world <= 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj, info: DistInfo) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank."""
    if info.world <= 1:
        return [obj]
    out = [None] * info.world
    dist.all_gather_object(out, obj)
    return out


def barrier(info: DistInfo) -> None:
    if info.world > 1:
        dist.barrier()


def teardown(info: DistInfo, synchronize: bool = True) -> None:
    """Leave the process group we created; first wait for every process when ``synchronize``
    (a process leaving while another still talks to it can abort the run under gloo)."""
    if info.owns_group and dist.is_initialized():
        if synchronize:
            dist.barrier()
        dist.destroy_process_group()
