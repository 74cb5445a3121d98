"""Process-group set-up for torch DistributedDataParallel runs started by ``torchrun``.

``torchrun --nproc_per_node N`` sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` in each process; :func:`process_group` initialises torch.distributed from them
(gloo on CPU, nccl when the run uses CUDA) and tears it down afterwards (after a barrier
when the block ends normally; at once when it raises). Without those
variables it does nothing, so the same code path serves single-process runs.
"""

from __future__ import annotations

import contextlib
import os


def launched_by_torchrun() -> bool:
    """Whether this process is one of several started by torchrun (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextlib.contextmanager
def process_group(device: str = "cpu"):
    """Initialise torch.distributed for the block when launched by torchrun.

    Parameters
    ----------
    device : {"cpu", "cuda", "auto"}
        Training device: nccl is used for CUDA, gloo otherwise.

    Yields
    ------
    tuple of int
        ``(rank, world_size)``; ``(0, 1)`` for a single process.
    """
    import torch
    import torch.distributed as dist

    if not launched_by_torchrun() or dist.is_initialized():
        yield (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        return
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    try:
        yield dist.get_rank(), dist.get_world_size()
        # Only on normal exit: a rank that raised must not wait here for ranks that may be
        # blocked in a collective it will never join (torchrun then stops the others).
        dist.barrier()
    finally:
        dist.destroy_process_group()


def all_ranks_agree(ok: bool) -> bool:
    """Whether ``ok`` holds on every rank (one all-reduce); ``ok`` itself without DDP.

    Lets every rank stop at the same step when one of them must (a non-finite loss, a
    refused run directory) instead of the others waiting forever in the next collective.
    """
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return bool(ok)
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"  # nccl reduces GPU tensors only
    flag = torch.tensor([1 if ok else 0], dtype=torch.int32, device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def resolve_device(device: str):
    """``"auto"`` -> cuda when available, else cpu; otherwise ``torch.device(device)``."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
