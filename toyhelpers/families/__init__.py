"""Task families: one package per family, holding everything that family owns.

A family package `toyhelpers/families/<family>/` may have these modules, each optional:

- `tasks.py`: its tasks, registered with `@toyhelpers.tasks.register`;
- `recipes.py`: `RECIPES` (what `toyhelpers train NAME` runs) and `SWEEPS` (saved
  experiments, see `toyhelpers.sweeps`);
- `checks.py`: the exercise checks of its lessons (`toyhelpers.checks.exercise`);
- `pretrained/<recipe>/`: the checkpoint each shipped recipe made;
- `results/<sweep>.json`: the saved result of each sweep;
- analysis tools of its own (`modular/fourier.py`, `othello/probes.py`, ...).

Nothing here is imported with `toyhelpers`: the registries call `load("tasks")` or
`load("recipes")` the first time they are asked for a name.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from functools import cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent


@cache
def names() -> tuple[str, ...]:
    """Every family, sorted."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules([str(ROOT)]) if m.ispkg))


def load(part: str) -> dict[str, ModuleType]:
    """Import module `part` ("tasks", "recipes", "checks") of every family that has one."""
    modules = {}
    for family in names():
        name = f"{__name__}.{family}.{part}"
        if importlib.util.find_spec(name) is not None:
            modules[family] = importlib.import_module(name)
    return modules


def family_dir(family: str) -> Path:
    if family not in names():
        raise ValueError(f"unknown family {family!r}; families: {', '.join(names())}")
    return ROOT / family


def find(folder: str, name: str) -> Path | None:
    """`families/<family>/<folder>/<name>` in whichever family has it (None if none)."""
    hits = [ROOT / family / folder / name for family in names()]
    hits = [path for path in hits if path.exists()]
    if len(hits) > 1:
        raise ValueError(f"{folder}/{name} exists in more than one family: {hits}")
    return hits[0] if hits else None


def listing(folder: str) -> dict[str, Path]:
    """Every entry of `families/*/<folder>/`, by name."""
    found: dict[str, Path] = {}
    for family in names():
        base = ROOT / family / folder
        if base.is_dir():
            for path in sorted(base.iterdir()):
                if not path.name.startswith((".", "_")):
                    found[path.name] = path
    return found
