"""Process groups for multi-process training: torchrun detection, local spawning, and the few collectives.

Launch modes:
* `torchrun --nproc-per-node N -m valle.train ...`: torchrun sets RANK / WORLD_SIZE / LOCAL_RANK /
  MASTER_ADDR / MASTER_PORT; `DistEnv.from_environ()` reads them.
* `valle train --world-size N ...`: `spawn` starts N local processes itself (the reference's mp.spawn path),
  with MASTER_ADDR=127.0.0.1 and MASTER_PORT=--master-port.

Backend: NCCL when training on CUDA, gloo otherwise (CPU, and CI).  Every collective here is called by
every rank at the same point of the loop; that is the whole hang-avoidance rule.
"""

from __future__ import annotations

import datetime
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from valle import utils
from valle.errors import InvalidInputError

TIMEOUT = datetime.timedelta(minutes=30)  # a rank waiting longer than this at a collective fails instead of hanging


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in the job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_environ(cls) -> DistEnv:
        """The torchrun environment, or a single process when it is absent."""
        if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
            return cls()
        try:
            rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            local = int(os.environ.get("LOCAL_RANK", rank))
        except ValueError:
            raise InvalidInputError(
                f"RANK/WORLD_SIZE/LOCAL_RANK must be integers, got {os.environ.get('RANK')!r}/"
                f"{os.environ.get('WORLD_SIZE')!r}/{os.environ.get('LOCAL_RANK')!r}"
            ) from None
        return cls(rank=rank, local_rank=local, world_size=world)


def resolve_device(spec: str, env: DistEnv) -> torch.device:
    """`--device`: "auto" = cuda:LOCAL_RANK when CUDA exists, else cpu; "cuda" = cuda:LOCAL_RANK."""
    if spec == "auto" and torch.cuda.is_available():
        spec = "cuda"
    return utils.resolve_device(spec, env.local_rank)


def init_process_group(env: DistEnv, device: torch.device) -> None:
    """Join the job's process group (no-op for a single process)."""
    if not env.distributed or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, rank=env.rank, world_size=env.world_size, timeout=TIMEOUT)


def destroy_process_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Sum a tensor over ranks (returns it unchanged for one process)."""
    if env.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def all_agree(flags: list[bool], env: DistEnv, device: torch.device) -> list[bool]:
    """Each flag True only if it is True on every rank (e.g. "I still have a batch", "budget not reached")."""
    if not env.distributed:
        return list(flags)
    t = torch.tensor([1 if f else 0 for f in flags], dtype=torch.int64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return [bool(v) for v in t.tolist()]


def gather_objects(obj: Any, env: DistEnv) -> list[Any]:
    """Every rank's `obj`, in rank order, on every rank (a list of one for a single process)."""
    if not env.distributed:
        return [obj]
    out: list[Any] = [None] * env.world_size
    dist.all_gather_object(out, obj)
    return out


def gather_state_dicts(obj: dict[str, Any], env: DistEnv) -> list[dict[str, Any]]:
    """`gather_objects` for dicts holding tensors (RNG states): each rank sends `torch.save` bytes, read back
    with `weights_only=True` (all_gather_object's own pickling of tensors fails on torch 2.13 with gloo)."""
    if not env.distributed:
        return [obj]
    buf = io.BytesIO()
    torch.save(obj, buf)
    return [torch.load(io.BytesIO(b), weights_only=True) for b in gather_objects(buf.getvalue(), env)]


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()


def spawn(fn: Callable[..., Any], world_size: int, master_port: int, args: tuple[Any, ...]) -> None:
    """Run `fn(env, *args)` in `world_size` local processes (rank = process index) and wait for all.

    Any rank's exception makes `torch.multiprocessing.spawn` stop the others and re-raise here.
    """
    import torch.multiprocessing as mp

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ["MASTER_PORT"] = str(master_port)
    mp.spawn(_spawned, args=(world_size, fn, args), nprocs=world_size, join=True)


def _spawned(rank: int, world_size: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size))
    fn(DistEnv(rank=rank, local_rank=rank, world_size=world_size), *args)
