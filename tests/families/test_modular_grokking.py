"""The grokking toolkit: last-position training, Grokfast, the MLP model, recorded series."""

import dataclasses

import pytest
import torch

import toyhelpers as th
from toyhelpers.checkpoints import TRAIN_STATE, load_checkpoint
from toyhelpers.families.modular.fourier import logit_grid, operand_embedding
from toyhelpers.families.modular.models import MLPConfig, ModularMLP, make_mlp
from toyhelpers.models import ModelConfig, core_module, make_transformer, tail_logits
from toyhelpers.tasks import scored_loss
from toyhelpers.training import TrainConfig, train

SMALL = dict(n_layers=1, d_model=32, n_heads=2, d_mlp=64)
FULL_BATCH = TrainConfig(
    steps=30,
    batch_size=100_000,
    lr=3e-3,
    weight_decay=1.0,
    warmup_steps=5,
    grad_clip=None,
    eval_every=10,
    eval_size=200,
    checkpoint_every=10,
)


@pytest.mark.parametrize("name", ["mod_add", "mod_add_sub"])
@pytest.mark.parametrize(
    "arch",
    [SMALL, dict(n_layers=2, d_model=16, n_heads=2, normalization="LN", positional="rotary")],
)
def test_tail_logits_equal_the_full_forward(name, arch):
    task = th.get_task(name, p=13)
    net = core_module(make_transformer(ModelConfig.for_task(task, **arch), seed=3))
    batch = task.split("all")
    k = len(task.operations)
    full = net(batch.tokens)
    torch.testing.assert_close(tail_logits(net, batch.tokens[:, : 2 + k], k), full[:, 2 : 2 + k])
    # The cheap training loss is the ordinary scored loss, to float precision.
    torch.testing.assert_close(task.training_loss(net, batch), scored_loss(full, batch))


def test_tail_logits_rejects_bad_k():
    task = th.get_task("mod_add", p=7)
    net = core_module(make_transformer(ModelConfig.for_task(task, **SMALL)))
    with pytest.raises(ValueError, match="k must be in 1..3"):
        tail_logits(net, task.split("all").tokens[:, :3], 4)


def test_grokfast_changes_training_and_resumes_exactly(tmp_path):
    task = th.get_task("mod_add", p=13)
    config = dataclasses.replace(FULL_BATCH, grokfast_alpha=0.9, grokfast_lambda=2.0)

    def model():
        return make_transformer(ModelConfig.for_task(task, **SMALL), seed=0)

    plain = train(model(), task, FULL_BATCH, progress=False).model
    full = train(model(), task, config, progress=False).model
    diff = [(a - b).abs().max() for a, b in zip(plain.parameters(), full.parameters(), strict=True)]
    assert max(diff) > 1e-4, "the Grokfast filter had no effect"

    short = dataclasses.replace(config, steps=20)
    train(model(), task, short, out_dir=tmp_path, progress=False)
    assert torch.load(tmp_path / TRAIN_STATE, weights_only=False)["grad_ema"] is not None
    # Resuming needs the same config; continue the 20-step state to 30 via a fresh call.
    state = torch.load(tmp_path / TRAIN_STATE, weights_only=False)
    state["train_config"] = config.to_dict()
    torch.save(state, tmp_path / TRAIN_STATE)
    resumed = train(model(), task, config, out_dir=tmp_path, resume=True, progress=False).model
    for a, b in zip(full.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_grokfast_alpha_is_validated():
    with pytest.raises(ValueError, match="grokfast_alpha"):
        TrainConfig(grokfast_alpha=1.5)


def test_on_eval_sees_every_evaluation():
    task = th.get_task("mod_add", p=7)
    seen = []
    train(
        make_transformer(ModelConfig.for_task(task, **SMALL)),
        task,
        FULL_BATCH,
        progress=False,
        on_eval=lambda step, model, history: seen.append((step, len(history["step"]))),
    )
    assert seen == [(10, 1), (20, 2), (30, 3)]


def test_mlp_is_one_hidden_layer_on_one_hot_operands():
    config = MLPConfig(n_values=7, d_hidden=16)
    mlp = make_mlp(config, seed=1)
    tokens = torch.tensor([[2, 5, 7, 0]])
    one_hot = torch.cat([torch.eye(7)[2], torch.eye(7)[5]])
    hidden = torch.relu(one_hot @ mlp.W_in + mlp.b_in)
    torch.testing.assert_close(mlp(tokens)[0, 0], hidden @ mlp.W_out + mlp.b_out)
    assert torch.equal(make_mlp(config, seed=1).W_in, mlp.W_in)
    with pytest.raises(ValueError, match="operands must be values 0..6"):
        mlp(torch.tensor([[7, 0, 7, 0]]))


def test_mlp_config_is_validated():
    with pytest.raises(ValueError, match="act_fn must be one of"):
        MLPConfig(n_values=7, d_hidden=4, act_fn="tanh")
    with pytest.raises(ValueError, match="d_hidden must be a positive int"):
        MLPConfig(n_values=7, d_hidden=0)


def test_mod_add_mlp_trains_saves_and_reloads(tmp_path):
    task = th.get_task("mod_add_mlp", p=13, train_fraction=0.6)
    mlp = make_mlp(MLPConfig(n_values=13, d_hidden=64), seed=0)
    result = train(
        mlp, task, dataclasses.replace(FULL_BATCH, steps=40), out_dir=tmp_path, progress=False
    )
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]
    loaded = load_checkpoint(tmp_path)
    assert isinstance(loaded, ModularMLP)
    torch.testing.assert_close(loaded.W_in, mlp.W_in)
    assert logit_grid(loaded, task).shape == (13, 13, 13)
    assert operand_embedding(loaded, task).shape == (13, 64)


def test_mod_add_mlp_rejects_transformer_logits():
    task = th.get_task("mod_add_mlp", p=7)
    batch = task.split("train")
    with pytest.raises(ValueError, match="ModularMLP"):
        task.metrics(torch.zeros(len(batch), 4, 8), batch)


def test_shipped_series_is_consistent():
    from toyhelpers.families.modular.fourier import progress_measures
    from toyhelpers.families.modular.series import load_series

    series = load_series("mod_add")
    history = series.history
    assert history["steps"][0] == 0 and history["steps"] == sorted(history["steps"])
    assert set(series.steps) <= set(history["steps"]) and len(series.steps) >= 4
    for name in ("train_loss", "test_loss", "restricted_loss", "excluded_loss", "test_accuracy"):
        assert len(history[name]) == len(history["steps"])
    # The recorded run groks: test accuracy ends above 99% after starting near chance.
    assert history["test_accuracy"][0] < 0.05 and history["test_accuracy"][-1] > 0.99
    # A shipped half-precision snapshot reproduces the recorded measures.
    model = th.load_pretrained("mod_add")
    step = series.steps[len(series.steps) // 2]
    i = history["steps"].index(step)
    key = [int(k) for k in history["key_freqs"]]
    again = progress_measures(model, model.task, [series.state_dict(step)], key_freqs=key)
    for name in ("test_loss", "restricted_loss", "excluded_loss"):
        assert again[name][0] == pytest.approx(history[name][i], rel=0.05, abs=0.02), name


def test_unknown_series_is_explained():
    from toyhelpers.families.modular.series import load_series

    with pytest.raises(ValueError, match="no recorded series for 'sort_fixed'"):
        load_series("sort_fixed")
