"""What every registered task promises, checked for each one.

Family tests (`tests/families/`) keep only what is particular to a family: its format,
its answers, its balance of hard cases.
"""

import dataclasses

import pytest
import torch

import toyhelpers as th
from toyhelpers.tasks import Task, make_generator

TASKS = th.list_tasks()


def bad_values(kind: str, lo, hi) -> list:
    """Values a setting of this kind must refuse."""
    if kind == "int":
        return [lo - 1, 2.5, "3", True] + ([hi + 1] if hi is not None else [])
    if kind == "float":
        return [lo, hi, "0.5", None]
    if kind == "bool":
        return ["yes", 1, None]
    return ["no such choice", None]


def settings_of(name: str) -> list[dataclasses.Field]:
    return list(dataclasses.fields(th.tasks.task_class(name)))


@pytest.mark.parametrize("name", TASKS)
def test_same_seed_same_batch_other_seed_other_batch(name):
    task = th.get_task(name)
    a, b, c = task.generate(32, seed=5), task.generate(32, seed=5), task.generate(32, seed=6)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.scored, b.scored)
    assert not torch.equal(a.tokens, c.tokens)


@pytest.mark.parametrize("name", TASKS)
def test_config_rebuilds_the_same_task(name):
    task = th.get_task(name)
    again = th.get_task(name, **task.config())
    assert again == task and again.name == name
    assert torch.equal(again.generate(8, seed=1).tokens, task.generate(8, seed=1).tokens)


@pytest.mark.parametrize("name", TASKS)
def test_batches_fit_the_declared_layout(name):
    task = th.get_task(name)
    for batch in (task.generate(32, seed=3), task.sample(32, make_generator(3))):
        assert batch.tokens.shape == batch.scored.shape == (32, task.seq_len)
        assert batch.tokens.dtype == torch.long and batch.scored.dtype == torch.bool
        assert 0 <= batch.tokens.min() and batch.tokens.max() < task.d_vocab
        assert not batch.scored[:, 0].any(), "position 0 has no logits before it"
        assert batch.scored.any(dim=1).all(), "every sequence scores something"


@pytest.mark.parametrize("name", TASKS)
def test_every_setting_is_declared_and_validated(name):
    undeclared = [f.name for f in settings_of(name) if "setting" not in f.metadata]
    assert not undeclared, f"declare these with int_setting & co.: {undeclared}"
    for f in settings_of(name):
        kind, lo, hi = f.metadata["setting"]
        for value in bad_values(kind, lo, hi):
            if value is None and f.default is None:
                continue
            with pytest.raises(ValueError, match=rf"\b{f.name}\b"):
                th.get_task(name, **{f.name: value})


@pytest.mark.parametrize("name", TASKS)
def test_unknown_settings_list_the_allowed_ones(name):
    allowed = ", ".join(f.name for f in settings_of(name))
    with pytest.raises(ValueError, match=f"its settings are: {allowed}"):
        th.get_task(name, no_such_setting=1)


def test_unknown_task_and_recipe_names_are_explained():
    with pytest.raises(ValueError, match="available tasks: .*sort_fixed"):
        th.get_task("sort_fixd")
    with pytest.raises(ValueError, match="is a recipe, not a task: it trains on task 'mod_add'"):
        th.get_task("mod_add_gelu")


def test_every_task_is_a_task_subclass_with_a_description():
    for name in TASKS:
        cls = th.tasks.task_class(name)
        assert issubclass(cls, Task) and cls.description, name
