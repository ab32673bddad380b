"""Pick where to compute: a CUDA GPU (Colab), Apple's MPS, or the CPU."""

from __future__ import annotations

import os

import torch

ENV_VAR = "TOYHELPERS_DEVICE"


def pick_device(requested: str | torch.device | None = None) -> torch.device:
    """`requested` if given, else $TOYHELPERS_DEVICE, else the best device available."""
    choice = requested if requested is not None else os.environ.get(ENV_VAR) or "auto"
    if isinstance(choice, torch.device):
        return choice
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(choice)
    except RuntimeError:
        raise ValueError(
            f"unknown device {choice!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device 'cuda' was asked for, but torch sees no CUDA GPU; use 'cpu' or 'auto'"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was asked for, but it is not available; use 'cpu' or 'auto'")
    return device


def set_cpu_threads(device: torch.device, threads: int | None = None) -> int:
    """On a CPU, run torch on `threads` threads (None keeps torch's default); return the count.

    On a quiet 2-core machine two threads train the sort_fixed model about 1.5x faster than
    one (benchmarks/train_throughput.py); with other jobs running, one thread avoids the
    oversubscription that can slow training tenfold.
    """
    if device.type == "cpu" and threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be a positive int, got {threads!r}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()
