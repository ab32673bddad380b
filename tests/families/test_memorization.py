"""The memorization family: the table task, the bits estimates, and the checks of lesson 23."""

import math

import pytest
import torch

import toyhelpers as th
from toyhelpers.families.memorization.capacity import (
    ablated_predictions,
    bits_learned,
    fitted,
    table_bits,
)
from toyhelpers.families.modular.models import MLPConfig


def test_format_and_table():
    task = th.get_task("memorize", n=5, table_seed=3)
    assert task.vocab == [str(v) for v in range(5)] + ["="]
    batch = task.train_set()
    assert batch.tokens.shape == (25, 4) and batch.scored[:, 3].all()
    assert not batch.scored[:, :3].any()
    a, b, eq, label = batch.tokens.T
    assert torch.equal(a * 5 + b, torch.arange(25)) and (eq == 5).all()
    assert torch.equal(label, task.table().flatten())
    other = th.get_task("memorize", n=5, table_seed=4)
    assert not torch.equal(task.table(), other.table())


def test_generate_draws_from_the_table():
    task = th.get_task("memorize", n=7)
    tokens = task.generate(500, seed=1).tokens
    assert torch.equal(tokens[:, 3], task.table()[tokens[:, 0], tokens[:, 1]])


def test_labels_look_uniform():
    counts = torch.bincount(th.get_task("memorize", n=48).table().flatten(), minlength=48)
    assert counts.min() > 20 and counts.max() < 80  # 48 expected per label


def test_the_mlp_reads_memorize_and_refuses_other_tasks():
    task = th.get_task("memorize", n=9)
    model = MLPConfig.for_task(task, d_hidden=8).build()
    assert model(task.train_set().tokens).shape == (81, 1, 9)
    with pytest.raises(ValueError, match="memorize"):
        th.evaluate(model, th.get_task("memorize", n=10), n=10)


def test_bits_estimates():
    assert table_bits(48, 2304) == pytest.approx(2304 * math.log2(48))
    assert bits_learned(1.0, 48, 2304) == pytest.approx(table_bits(48, 2304))
    assert bits_learned(1 / 48, 48, 2304) == pytest.approx(0.0, abs=1e-9)
    assert 0 < bits_learned(0.5, 48, 2304) < 0.5 * table_bits(48, 2304)
    with pytest.raises(ValueError, match="fit"):
        bits_learned(1.5, 48, 2304)


def test_shipped_model_fits_the_whole_table():
    model = th.load_pretrained("memorize_mlp")
    assert fitted(model, model.task).float().mean() >= 0.99


def test_ablation_removes_one_neurons_term():
    model = th.load_pretrained("memorize_mlp")
    task = model.task
    preds = ablated_predictions(model, task)
    tokens = task.train_set().tokens
    with torch.no_grad():
        saved = model.W_out[3].clone()
        model.W_out[3] = 0
        want = model(tokens)[:, 0].argmax(-1)
        model.W_out[3] = saved
    assert torch.equal(preds[3], want)


# -- the checks: one explained mistake each (tests/contracts/test_checks.py) -------------


def _active_counts(model, task):
    with torch.no_grad():
        return (model.hidden(task.train_set().tokens) > 0).sum(0)


def _summed_top_k(model, task, k):
    from toyhelpers.families.memorization.checks import _neuron_flip_counts

    counts = _neuron_flip_counts(model, task).sort(descending=True).values
    return counts[:k].sum().item() / task.n**2


MISTAKES = {
    "check_table_bits": (lambda n, n_entries: n_entries * math.log(n), "nats"),
    "check_bits_learned": (lambda fit, n, n_entries: fit * n_entries * math.log2(n), "chance"),
    "check_neuron_flip_counts": (_active_counts, "active"),
    "check_carried_by_top_k": (_summed_top_k, "together"),
}
