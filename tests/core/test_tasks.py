"""The Task base class, its declared settings and the registry (tasks/contracts checks
what every registered task promises; this file, the machinery behind it)."""

import subprocess
import sys
from dataclasses import dataclass

import pytest
import torch

import toyhelpers as th
from toyhelpers.tasks import (
    Task,
    bool_setting,
    choice_setting,
    float_setting,
    int_setting,
    register,
    validate_settings,
)


@dataclass(frozen=True)
class Toy(Task):
    n: int = int_setting(3, 1, 9)
    size: int | None = int_setting(None, 2)
    rate: float = float_setting(0.5, 0, 1)
    flag: bool = bool_setting(False)
    kind: str = choice_setting("a", ["a", "b"])


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"n": 0}, r"n must be an int in 1..9, got 0"),
        ({"n": 2.0}, r"n must be an int in 1..9, got 2.0"),
        ({"n": True}, r"n must be an int in 1..9, got True"),
        ({"size": 1}, r"size must be None or an int >= 2, got 1"),
        ({"rate": 1}, r"rate must be a number in \(0, 1\), got 1"),
        ({"flag": "no"}, r"flag must be True or False, got 'no'"),
        ({"kind": "c"}, r"kind must be one of 'a', 'b', got 'c'"),
    ],
)
def test_declared_settings_say_what_is_allowed(settings, message):
    with pytest.raises(ValueError, match=message):
        Toy(**settings)


def test_good_settings_pass_and_none_only_where_the_default_is_none():
    validate_settings(Toy(n=9, size=None, rate=0.1, flag=True, kind="b"))
    with pytest.raises(ValueError, match="n must be an int"):
        Toy(n=None)


def test_bad_generate_arguments():
    task = th.get_task("sort_fixed")
    with pytest.raises(ValueError, match="n must be a positive int"):
        task.generate(0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        task.generate(4, seed=-1)


def test_encode_decode_round_trip_and_errors():
    task = th.get_task("sort_fixed", length=3)
    text = "START 4 9 2 MID 2 4 9"
    ids = task.encode(text)
    assert task.decode(ids) == text and ids.dtype == torch.long
    assert task.vocab[int(ids[0])] == "START"
    with pytest.raises(ValueError, match="unknown token"):
        task.encode("START 50 MID")
    with pytest.raises(ValueError, match="outside 0..51"):
        task.decode([0, 99])


def test_a_name_cannot_be_registered_twice():
    th.list_tasks()
    with pytest.raises(ValueError, match="'sort_fixed' is registered twice"):
        register("sort_fixed")(Toy)


def test_tasks_load_lazily_and_never_import_transformer_lens():
    """`import toyhelpers` imports no family; looking up and generating tasks imports the
    families' task modules (torch only), never TransformerLens (about 5 s on a CPU)."""
    code = (
        "import sys, toyhelpers as th\n"
        "print('toyhelpers.families' in sys.modules)\n"
        "th.get_task('sort_fixed').generate(4, seed=0)\n"
        "th.list_tasks()\n"
        "print('transformer_lens' in sys.modules)\n"
        "print('toyhelpers.families.othello.tasks' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "True"]
