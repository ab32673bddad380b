"""Checkpoints: safetensors weights plus a JSON file saying what they are.

A checkpoint is a folder holding `model.safetensors` and `meta.json` (model config, task
and its settings, seed, training steps and the metrics measured after training). The
shipped ones live in their family, `toyhelpers/families/<family>/pretrained/<recipe>/`,
each named after the recipe that made it. Training also keeps `last.pt`, the
full training state, to resume an interrupted run.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformer_lens.model_bridge import TransformerBridge

from toyhelpers import families
from toyhelpers.models import (
    ModelConfig,
    build_model,
    config_from_dict,
    model_config_of,
    to_device,
)
from toyhelpers.tasks import Task, get_task

FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
META = "meta.json"
TRAIN_STATE = "last.pt"


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write `path` through a temporary file in the same folder, then rename it into place.

    A crash (or a Colab disconnect) mid-write leaves the previous file intact.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp makes the file private; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_checkpoint(
    model: TransformerBridge,
    task: Task,
    out_dir: str | Path,
    *,
    seed: int,
    steps: int,
    metrics: dict[str, float],
    train_config: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the model's weights and `meta.json` into `out_dir`; returns the folder."""
    out = Path(out_dir)
    meta = {
        "format": FORMAT_VERSION,
        "task": task.name,
        "task_config": task.config(),
        "model_config": model_config_of(model).to_dict(),
        "seed": seed,
        "steps": steps,
        "metrics": metrics,
        "train_config": train_config or {},
        "torch_version": torch.__version__,
        **(extra or {}),
    }
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write(out / WEIGHTS, lambda p: save_file(state, str(p)))
    atomic_write(out / META, lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"))
    return out


def read_meta(path: str | Path) -> dict[str, Any]:
    meta_path = Path(path) / META
    if not meta_path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}: {META} is missing")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"checkpoint {path} has format {meta.get('format')!r}; this toyhelpers reads "
            f"format {FORMAT_VERSION}"
        )
    return meta


def load_weights(model: TransformerBridge, state: dict[str, torch.Tensor], source: str) -> None:
    """Load `state` into `model`, or say exactly which tensors do not fit."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if state[k].shape != own[k].shape
    ]
    if missing or unexpected or wrong:
        problems = (
            [f"missing {k}" for k in missing[:5]]
            + [f"unexpected {k}" for k in unexpected[:5]]
            + wrong[:5]
        )
        raise ValueError(
            f"the weights in {source} do not fit this model's config:\n  "
            + "\n  ".join(problems)
            + "\nThe model must be built with the config the weights were trained with."
        )
    model.load_state_dict(state)


def load_checkpoint(
    path: str | Path, *, device: str | torch.device = "cpu", task: Task | None = None
) -> TransformerBridge:
    """The model stored at `path`, in eval mode, with `.task` and `.meta` attached.

    If `task` is given, its settings must match the ones the model was trained on.
    """
    meta = read_meta(path)
    trained_on = get_task(meta["task"], **meta["task_config"])
    if task is not None and (task.name, task.config()) != (trained_on.name, trained_on.config()):
        raise ValueError(
            f"checkpoint {path} was trained on {trained_on}, not on {task}; "
            f"use get_task({meta['task']!r}, **{meta['task_config']!r})"
        )
    config = config_from_dict(meta["model_config"])
    if isinstance(config, ModelConfig) and (config.d_vocab, config.n_ctx) != (
        trained_on.d_vocab,
        trained_on.seq_len,
    ):
        raise ValueError(
            f"checkpoint {path}: model config (d_vocab={config.d_vocab}, n_ctx={config.n_ctx}) "
            f"does not match its task {trained_on} (d_vocab={trained_on.d_vocab}, "
            f"seq_len={trained_on.seq_len})"
        )
    model = build_model(config, seed=meta["seed"])
    load_weights(model, load_file(str(Path(path) / WEIGHTS)), str(path))
    model.task = trained_on
    model.meta = meta
    return to_device(model, device).eval()


def shipped() -> dict[str, Path]:
    """Every checkpoint shipped inside the package, by name (the recipe that made it)."""
    return {n: p for n, p in families.listing("pretrained").items() if (p / META).exists()}


def pretrained_dir(name: str) -> Path:
    """The folder of the checkpoint shipped as `name`."""
    found = shipped()
    if name not in found:
        raise ValueError(
            f"no pretrained checkpoint called {name!r}; shipped checkpoints: "
            f"{', '.join(sorted(found))}"
        )
    return found[name]


def load_pretrained(name: str, *, device: str | torch.device = "cpu") -> TransformerBridge:
    """The model shipped inside the package as `name` (a recipe's name), in eval mode."""
    return load_checkpoint(pretrained_dir(name), device=device)
