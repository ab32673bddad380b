"""The documented model and training config for each task: what `toyhelpers train` runs.

One module per task family (`toyhelpers/recipes/<family>.py`) defines `RECIPES`, and may
define `SWEEPS` (saved experiments, see `toyhelpers.sweeps`). Each recipe is the smallest
setting we found that reaches the task's target on a 2-core CPU; the notebooks say how
it was found.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from toyhelpers.recipes.base import Recipe
from toyhelpers.tasks.base import family_modules

__all__ = ["Recipe", "all_recipes", "all_sweeps", "get_recipe"]


def _collect(attribute: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in family_modules("toyhelpers.recipes"):
        module = importlib.import_module(f"toyhelpers.recipes.{name}")
        for key, value in getattr(module, attribute, {}).items():
            if key in found:
                raise ValueError(f"{attribute[:-1].lower()} {key!r} is defined twice")
            found[key] = value
    return found


def all_recipes() -> dict[str, Recipe]:
    return _collect("RECIPES")


def all_sweeps() -> dict[str, Callable[[], dict[str, Any]]]:
    return _collect("SWEEPS")


def get_recipe(name: str) -> Recipe:
    recipes = all_recipes()
    if name not in recipes:
        raise ValueError(
            f"no training recipe for task {name!r}; "
            f"tasks with a recipe: {', '.join(sorted(recipes))}"
        )
    return recipes[name]
