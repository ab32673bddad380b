"""What every exercise check promises, checked for each one.

A check passes its reference answer however a learner might write it (float64, a GPU or
numpy result, a 0-dim tensor or a Python number where a number is asked for, a nested
list where a tensor is), reports a stub or `None` as "not attempted", and explains a
wrong answer. The wrong answers live with their family's tests, in a dict `MISTAKES`
(check name -> (wrong answer, pattern its message must match)); every check needs one.
"""

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from toyhelpers import families
from toyhelpers.checks import ExerciseFailed, ExerciseNotAttempted
from toyhelpers.lessons import LESSONS


def all_checks() -> list[tuple[str, Callable]]:
    found = []
    for family, module in families.load("checks").items():
        for name, value in sorted(vars(module).items()):
            if callable(value) and hasattr(value, "exercise_name"):
                found.append((f"{family}.{name}", value))
    return found


CHECKS = all_checks()
IDS = [name for name, _ in CHECKS]
# Answers that return a hook: the model itself consumes what the hook returns, so it must
# be a tensor (of any dtype); a nested list is not an answer there.
HOOK_ANSWERS = {"check_zero_ablate_head_hook"}


def mistakes(family: str) -> dict[str, tuple[Callable, str]]:
    """`MISTAKES` of every `tests/families/test_<family>*.py` (a family's lessons may keep
    their tests in modules of their own, e.g. `test_attention_ioi.py`)."""
    found: dict[str, tuple[Callable, str]] = {}
    for path in sorted((Path(__file__).parents[1] / "families").glob(f"test_{family}*.py")):
        module = importlib.import_module(f"tests.families.{path.stem}")
        found.update(getattr(module, "MISTAKES", {}))
    return found


def convert(value: Any, tensor: Callable, number: Callable) -> Any:
    """`value` with each tensor and number replaced by `tensor(t)` and `number(x)`; a
    returned function returns converted values in turn."""
    if isinstance(value, torch.Tensor):
        return (
            number(value.item())
            if value.ndim == 0 and value.is_floating_point()
            else (tensor(value))
        )
    if isinstance(value, float):
        return number(value)
    if isinstance(value, (list, tuple)):
        return type(value)(convert(v, tensor, number) for v in value)
    if isinstance(value, dict):
        return {k: convert(v, tensor, number) for k, v in value.items()}
    if callable(value):
        return answer_as(value, tensor, number)
    return value


def answer_as(fn: Callable, tensor: Callable, number: Callable) -> Callable:
    def answer(*args, **kwargs):
        return convert(fn(*args, **kwargs), tensor, number)

    return answer


def float64(t: torch.Tensor) -> torch.Tensor:
    return t.double() if t.is_floating_point() else t


def int32(t: torch.Tensor) -> torch.Tensor:
    return t.int() if t.dtype == torch.long else t


def as_numpy(t: torch.Tensor):
    return t.detach().numpy().astype(np.float64) if t.is_floating_point() else t.numpy()


def as_list(t: torch.Tensor):
    return t.tolist()


def keep(x):
    return x


VARIANTS = {
    "as written": (keep, keep),
    "float64, numbers as 0-dim float64 tensors": (
        float64,
        lambda x: torch.tensor(x, dtype=torch.float64),
    ),
    "int32 ids, 0-dim tensors as Python numbers": (int32, float),
    "numpy arrays and numpy scalars": (as_numpy, np.float32),
    "nested lists": (as_list, keep),
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("check", [c for _, c in CHECKS], ids=IDS)
def test_reference_passes_however_it_is_written(check, variant, capsys):
    if variant == "nested lists" and check.__name__ in HOOK_ANSWERS:
        pytest.skip("a hook must return a tensor")
    tensor, number = VARIANTS[variant]
    check(answer_as(check.reference, tensor, number))
    assert f"check passed: {check.exercise_name}" in capsys.readouterr().out


@pytest.mark.parametrize("check", [c for _, c in CHECKS], ids=IDS)
def test_stub_and_none_are_not_attempted(check):
    def stub(*args, **kwargs):
        raise NotImplementedError("exercise: write this part")

    with pytest.raises(ExerciseNotAttempted):
        check(stub)
    with pytest.raises(ExerciseNotAttempted):
        check(None)


@pytest.mark.parametrize("name, check", CHECKS, ids=IDS)
def test_a_wrong_answer_is_explained(name, check):
    family, function = name.split(".")
    table = mistakes(family)
    assert function in table, f"tests/families/test_{family}.py: MISTAKES has no {function}"
    wrong, message = table[function]
    with pytest.raises(ExerciseFailed, match=message):
        check(wrong)


def test_every_lesson_with_checks_names_a_module_that_has_them():
    modules = families.load("checks")
    for lesson in LESSONS:
        if lesson.status == "done":
            assert lesson.family in modules, lesson.stem
