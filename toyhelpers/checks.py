"""Inline exercise checks: compare a learner's answer with the reference, explain failures.

A check is a function `check_<exercise>(answer)` defined with the `@exercise` decorator.
It raises `ExerciseFailed` (an AssertionError) with a diagnosis when the answer is wrong,
`ExerciseNotAttempted` when the answer is still the stub, and prints
"check passed: <exercise>" otherwise. Each outcome is also published as notebook output
metadata, which `toyhelpers check NOTEBOOK` reads to report every exercise.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import torch

METADATA_KEY = "toyhelpers_check"
PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"

F = TypeVar("F", bound=Callable[..., Any])


class ExerciseFailed(AssertionError):
    """The answer ran but is wrong; the message says where."""


class ExerciseNotAttempted(NotImplementedError):
    """The answer is still the stub."""


def _publish(exercise: str, status: str, message: str) -> None:
    record = {"exercise": exercise, "status": status, "message": message}
    if "IPython" in sys.modules:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            # Invisible to the learner; `toyhelpers check` reads it back from the outputs.
            display({"text/plain": ""}, raw=True, metadata={METADATA_KEY: record})


def exercise(name: str) -> Callable[[F], F]:
    """Make `fn` the check of exercise `name`: it reports passed / failed / not attempted."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            if any(a is None for a in args) or any(v is None for v in kwargs.values()):
                _publish(name, NOT_ATTEMPTED, "an answer is still None")
                raise ExerciseNotAttempted(f"{name}: fill in the answer (it is still None)")
            try:
                fn(*args, **kwargs)
            except NotImplementedError as err:
                _publish(name, NOT_ATTEMPTED, str(err))
                raise ExerciseNotAttempted(f"{name}: not attempted yet ({err})") from None
            except AssertionError as err:
                _publish(name, FAILED, str(err))
                raise ExerciseFailed(f"{name}: {err}") from None
            _publish(name, PASSED, "")
            print(f"check passed: {name}")

        run.exercise_name = name  # type: ignore[attr-defined]
        return run  # type: ignore[return-value]

    return wrap


# -- comparison helpers that explain the first difference ------------------------------


def first_difference(got: torch.Tensor, want: torch.Tensor) -> tuple[int, ...] | None:
    """Index of the first element where `got` and `want` differ (None if equal)."""
    diff = (
        (got != want)
        if got.dtype in (torch.bool, torch.long, torch.int)
        else ~torch.isclose(got.float(), want.float(), rtol=1e-4, atol=1e-5)
    )
    where = diff.nonzero()
    return None if len(where) == 0 else tuple(int(i) for i in where[0])


def assert_tensor(got: Any, want: torch.Tensor, what: str, *, dims: str = "") -> None:
    """Fail with a diagnosis unless `got` is a tensor equal (or close) to `want`.

    `dims` names the axes (e.g. "batch pos") so the message can say where they differ.
    """
    if not isinstance(got, torch.Tensor):
        raise ExerciseFailed(f"{what} should be a torch.Tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(want.shape):
        axes = f" [{dims}]" if dims else ""
        raise ExerciseFailed(
            f"{what} has shape {tuple(got.shape)}, expected {tuple(want.shape)}{axes}"
        )
    where = first_difference(got.detach().cpu(), want.detach().cpu())
    if where is not None:
        names = dims.split() if dims else [f"dim{i}" for i in range(len(where))]
        at = ", ".join(f"{n}={i}" for n, i in zip(names, where, strict=False))
        raise ExerciseFailed(
            f"{what} differs first at {at}: got {got[where].item()}, expected {want[where].item()}"
        )
