"""The modular-arithmetic tasks (notebooks 06-11): format, the train/test split, training."""

import pytest
import torch

import toyhelpers as th
from toyhelpers.models import ModelConfig, make_transformer
from toyhelpers.training import TrainConfig, _Data, train

NAMES = ("mod_add", "mod_sub", "mod_add_gelu", "mod_add_sub")


def pairs(batch) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in batch.tokens[:, :2].tolist()}


def test_tasks_are_listed():
    assert set(NAMES) <= set(th.list_tasks())


@pytest.mark.parametrize("name", NAMES)
def test_defaults(name):
    task = th.get_task(name)
    assert task.config() == {"p": 113, "train_fraction": 0.3, "split_seed": 0}
    assert task.vocab[:3] == ["0", "1", "2"] and task.vocab[-1] == "=" and task.d_vocab == 114


@pytest.mark.parametrize(
    "name, answers",
    [
        ("mod_add", lambda a, b: [(a + b) % 7]),
        ("mod_add_gelu", lambda a, b: [(a + b) % 7]),
        ("mod_sub", lambda a, b: [(a - b) % 7]),
        ("mod_add_sub", lambda a, b: [(a + b) % 7, (a - b) % 7]),
    ],
)
def test_format(name, answers):
    task = th.get_task(name, p=7)
    batch = task.split("all")
    assert batch.tokens.shape == (49, task.seq_len) == (49, 3 + len(answers(0, 0)))
    for (a, b, eq, *rest), row in zip(batch.tokens.tolist(), batch.scored.tolist(), strict=True):
        assert eq == task.token_id("=") == 7
        assert rest == answers(a, b)
        assert row == [False] * 3 + [True] * len(rest)
    # every pair once, in the order a*p + b
    assert batch.tokens[:, 0].tolist() == [i // 7 for i in range(49)]
    assert batch.tokens[:, 1].tolist() == [i % 7 for i in range(49)]


def test_example_strings():
    assert th.get_task("mod_add", p=7).decode(th.get_task("mod_add", p=7).encode("3 5 = 1")) == (
        "3 5 = 1"
    )
    task = th.get_task("mod_add_sub", p=7)
    assert task.answers(torch.tensor([3]), torch.tensor([5])).tolist() == [[1, 5]]


@pytest.mark.parametrize("p, fraction", [(7, 0.3), (113, 0.3), (11, 0.5), (13, 0.9)])
def test_split_sizes_and_disjointness(p, fraction):
    task = th.get_task("mod_sub", p=p, train_fraction=fraction)
    train_set, test_set = task.split("train"), task.split("test")
    assert len(train_set) == round(fraction * p * p) == task.train_mask().sum()
    assert len(train_set) + len(test_set) == p * p
    assert pairs(train_set).isdisjoint(pairs(test_set))
    assert len(pairs(train_set) | pairs(test_set)) == p * p
    mask = task.train_mask()
    assert all(mask[a, b] for a, b in pairs(train_set))


def test_split_is_deterministic_and_follows_split_seed():
    a, b = th.get_task("mod_add", p=11), th.get_task("mod_add", p=11)
    assert torch.equal(a.split("train").tokens, b.split("train").tokens)
    c = th.get_task("mod_add", p=11, split_seed=1)
    assert pairs(a.split("train")) != pairs(c.split("train"))
    # mod_add_gelu is the same data as mod_add
    gelu = th.get_task("mod_add_gelu", p=11)
    assert torch.equal(gelu.split("train").tokens, a.split("train").tokens)
    # every task with the same p and split_seed holds out the same pairs
    assert pairs(th.get_task("mod_add_sub", p=11).split("test")) == pairs(a.split("test"))


def test_generate_draws_only_test_pairs_and_sample_only_train_pairs():
    task = th.get_task("mod_add_sub", p=7)
    test_pairs, train_pairs = pairs(task.split("test")), pairs(task.split("train"))
    batch = task.generate(500, seed=3)
    assert pairs(batch) <= test_pairs
    assert len(pairs(batch)) > len(test_pairs) // 2  # really draws across the test set
    assert torch.equal(batch.tokens, task.generate(500, seed=3).tokens)
    assert not torch.equal(batch.tokens, task.generate(500, seed=4).tokens)
    assert pairs(task.sample(500, torch.Generator().manual_seed(0))) <= train_pairs


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"p": 1}, "p must be a prime int in 2..1000"),
        ({"p": 9}, "p must be a prime"),
        ({"p": 113.0}, "p must be a prime int"),
        ({"p": 1009}, "p must be a prime int in 2..1000"),
        ({"train_fraction": 0}, r"train_fraction must be a number in \(0, 1\)"),
        ({"train_fraction": 1.0}, r"train_fraction must be a number in \(0, 1\)"),
        ({"train_fraction": "0.3"}, "train_fraction must be a number"),
        ({"p": 2, "train_fraction": 0.1}, "gives 0 training pairs"),
        ({"p": 2, "train_fraction": 0.9}, "both the train and the test split"),
        ({"split_seed": -1}, "split_seed must be a non-negative int"),
    ],
)
@pytest.mark.parametrize("name", ["mod_add", "mod_add_sub"])
def test_bad_settings_say_what_is_allowed(name, settings, message):
    with pytest.raises(ValueError, match=message):
        th.get_task(name, **settings)


def test_bad_split_name():
    with pytest.raises(ValueError, match="split name must be 'train', 'test' or 'all'"):
        th.get_task("mod_add", p=7).split("valid")


def test_add_sub_metrics_score_each_output():
    task = th.get_task("mod_add_sub", p=5)
    batch = task.split("all")
    logits = torch.nn.functional.one_hot(batch.tokens.roll(-1, dims=1), task.d_vocab).float()
    logits[:, 3] = 0.0  # no preference for the difference: argmax is token 0
    got = task.metrics(logits, batch)
    assert got["add_accuracy"] == 1.0
    assert got["sub_accuracy"] == pytest.approx(5 / 25)
    assert got["accuracy"] == pytest.approx(5 / 25)


def test_training_uses_the_whole_train_split():
    task = th.get_task("mod_add", p=7)
    config = TrainConfig(steps=5, batch_size=1_000, train_size=3, eval_every=5, warmup_steps=1)
    data = _Data(task, config, torch.device("cpu"))
    want = task.split("train")
    assert torch.equal(data.fixed.tokens, want.tokens)  # train_size is ignored
    assert data.next() is data.fixed  # full batch
    model = make_transformer(ModelConfig.for_task(task, n_layers=1, d_model=16, n_heads=2))
    result = train(model, task, config, progress=False)
    assert result.steps == 5 and "accuracy" in result.metrics


def test_minibatches_come_from_the_train_split():
    task = th.get_task("mod_add_sub", p=7)
    data = _Data(task, TrainConfig(batch_size=8), torch.device("cpu"))
    assert pairs(data.next()) <= pairs(task.split("train"))
