"""toyhelpers: tasks, models, training, checkpoints and plots for the toy-model course.

Importing the package is cheap: each name below is imported on first use.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Batch": "toyhelpers.tasks",
    "Task": "toyhelpers.tasks",
    "get_task": "toyhelpers.tasks",
    "list_tasks": "toyhelpers.tasks",
    "ModelConfig": "toyhelpers.models",
    "make_transformer": "toyhelpers.models",
    "TrainConfig": "toyhelpers.training",
    "TrainResult": "toyhelpers.training",
    "train": "toyhelpers.training",
    "evaluate": "toyhelpers.evaluation",
    "load_checkpoint": "toyhelpers.checkpoints",
    "load_pretrained": "toyhelpers.checkpoints",
    "save_checkpoint": "toyhelpers.checkpoints",
    "get_recipe": "toyhelpers.recipes",
    "pick_device": "toyhelpers.device",
    "imshow": "toyhelpers.plotting",
    "line": "toyhelpers.plotting",
    "scatter": "toyhelpers.plotting",
    "attention_patterns": "toyhelpers.plotting",
    "setup": "toyhelpers.notebook",
    "fast_mode": "toyhelpers.notebook",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if importlib.util.find_spec(f"toyhelpers.{name}") is not None:
        return importlib.import_module(f"toyhelpers.{name}")
    raise AttributeError(f"module 'toyhelpers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
