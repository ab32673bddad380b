"""What every notebook's set-up cell calls: device, plot renderer, seeds, fast mode."""

from __future__ import annotations

import os

import torch

from toyhelpers.device import pick_device, set_cpu_threads

FAST_ENV = "TOYHELPERS_FAST"


def fast_mode() -> bool:
    """True when $TOYHELPERS_FAST is set (CI sets it): notebooks train briefly or load
    the shipped checkpoints instead of training from scratch."""
    return os.environ.get(FAST_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def setup(seed: int = 0, device: str | None = None, threads: int | None = None) -> torch.device:
    """Pick the device, CPU threads and plot renderer, seed torch, and say what was chosen."""
    from toyhelpers.plotting import set_renderer

    chosen = pick_device(device)
    set_cpu_threads(chosen, threads)
    renderer = set_renderer()
    torch.manual_seed(seed)
    mode = "fast (short runs, shipped checkpoints)" if fast_mode() else "full"
    print(f"device: {chosen} | plots: {renderer} | mode: {mode}")
    return chosen
