"""What every registered task promises, checked for each one.

Family tests (`tests/families/`) keep only what is particular to a family: its format,
its answers, its balance of hard cases.
"""

import dataclasses

import pytest
import torch

import toyhelpers as th
from toyhelpers.tasks import Batch, Task, make_generator

TASKS = th.list_tasks()


def bad_values(kind: str, lo, hi) -> list:
    """Values a setting of this kind must refuse."""
    if kind == "int":
        return [lo - 1, 2.5, "3", True] + ([hi + 1] if hi is not None else [])
    if kind == "float":
        return [lo, hi, "0.5", None]
    if kind == "float_from":
        return [lo - 1, hi, "0.5", None]
    if kind == "bool":
        return ["yes", 1, None]
    return ["no such choice", None]


def settings_of(name: str) -> list[dataclasses.Field]:
    return list(dataclasses.fields(th.tasks.task_class(name)))


def tensors(batch) -> list[torch.Tensor]:
    """Every tensor of a batch, whatever its kind (token `Batch`, in-context `Points`)."""
    return [getattr(batch, f.name) for f in dataclasses.fields(batch)]


def same(a, b) -> bool:
    return type(a) is type(b) and all(map(torch.equal, tensors(a), tensors(b)))


@pytest.mark.parametrize("name", TASKS)
def test_same_seed_same_batch_other_seed_other_batch(name):
    task = th.get_task(name)
    a, b, c = task.generate(32, seed=5), task.generate(32, seed=5), task.generate(32, seed=6)
    assert same(a, b) and not same(a, c)
    assert len(a) == 32 and same(a[2:5], b[2:5])


@pytest.mark.parametrize("name", TASKS)
def test_config_rebuilds_the_same_task(name):
    task = th.get_task(name)
    again = th.get_task(name, **task.config())
    assert again == task and again.name == name
    assert same(again.generate(8, seed=1), task.generate(8, seed=1))


TOKEN_TASKS = [n for n in TASKS if isinstance(th.get_task(n).generate(1), Batch)]


@pytest.mark.parametrize("name", [n for n in TASKS if n not in TOKEN_TASKS])
def test_real_valued_batches_fit_the_declared_layout(name):
    """The in-context tasks: `xs [n, n_points, dim]`, `ys [n, n_points]`, finite floats,
    and predictions scored at every point."""
    task = th.get_task(name)
    for batch in (task.generate(32, seed=3), task.sample(32, make_generator(3))):
        assert batch.xs.shape == (32, task.n_points, task.dim)
        assert batch.ys.shape == (32, task.n_points)
        assert batch.xs.dtype == batch.ys.dtype == torch.float32
        assert batch.xs.isfinite().all() and batch.ys.isfinite().all()
        zero = task.metrics(torch.zeros_like(batch.ys), batch)
        assert set(zero) >= {"loss"} and set(zero) <= set(task.lower_is_better)


@pytest.mark.parametrize("name", TOKEN_TASKS)
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
