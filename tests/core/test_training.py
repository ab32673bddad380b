import dataclasses

import pytest
import torch

import toyhelpers as th
from toyhelpers.checkpoints import TRAIN_STATE
from toyhelpers.models import ModelConfig, make_transformer

TASK = th.get_task("sort_fixed", length=3, n_values=10)
ARCH = dict(n_layers=1, d_model=32, n_heads=2, attn_only=True)
CONFIG = th.TrainConfig(
    steps=60,
    batch_size=64,
    lr=3e-3,
    warmup_steps=5,
    eval_every=20,
    eval_size=200,
    checkpoint_every=20,
    seed=3,
)


def fresh_model(seed: int = 3):
    return make_transformer(ModelConfig.for_task(TASK, **ARCH), seed=seed)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"


def test_training_learns_something():
    result = th.train(fresh_model(), TASK, dataclasses.replace(CONFIG, steps=200), progress=False)
    first, last = result.history["loss"][0], result.history["loss"][-1]
    assert last < first * 0.8
    assert result.history["step"] == [20.0 * i for i in range(1, 11)]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_same_seed_same_weights(precision):
    config = dataclasses.replace(CONFIG, precision=precision)
    a = th.train(fresh_model(), TASK, config, progress=False).model
    b = th.train(fresh_model(), TASK, config, progress=False).model
    assert_same_weights(weights(a), weights(b))


def test_bf16_training_learns_and_keeps_float32_weights():
    config = dataclasses.replace(CONFIG, steps=200, precision="bf16")
    result = th.train(fresh_model(), TASK, config, progress=False)
    assert result.history["loss"][-1] < result.history["loss"][0] * 0.8
    assert {p.dtype for p in result.model.parameters()} == {torch.float32}
    fp32 = th.train(
        fresh_model(), TASK, dataclasses.replace(config, precision="fp32"), progress=False
    )
    assert not torch.equal(  # the forward pass really ran in bfloat16
        fp32.model.state_dict()["embed.weight"], result.model.state_dict()["embed.weight"]
    )


@pytest.mark.parametrize("pool_batches", [None, 7])
def test_resume_after_interruption_matches_uninterrupted_run(tmp_path, pool_batches):
    """With a pool of 7 batches, the interruption at step 40 falls inside the sixth pool."""
    config = dataclasses.replace(CONFIG, pool_batches=pool_batches)
    full = th.train(fresh_model(), TASK, config, progress=False)

    # Interrupt a second run after 40 steps, as a Colab disconnect would.
    class Disconnect(Exception):
        pass

    calls = {"n": 0}
    model = fresh_model()
    real_forward = th.models.core_module(model).forward

    def flaky_forward(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 41 + 2:  # 40 training steps and two evaluations have run
            raise Disconnect
        return real_forward(*args, **kwargs)

    th.models.core_module(model).forward = flaky_forward
    with pytest.raises(Disconnect):
        th.train(model, TASK, config, out_dir=tmp_path, progress=False)
    assert torch.load(tmp_path / TRAIN_STATE, weights_only=False)["step"] == 40

    resumed = th.train(
        fresh_model(seed=99), TASK, config, out_dir=tmp_path, resume=True, progress=False
    )
    assert resumed.steps == CONFIG.steps
    assert_same_weights(weights(full.model), weights(resumed.model))
    assert resumed.history["loss"] == full.history["loss"]


def test_keyboard_interrupt_saves_state(tmp_path, monkeypatch):
    model = fresh_model()
    net = th.models.core_module(model)
    real_forward = net.forward
    calls = {"n": 0}

    def interrupting_forward(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return real_forward(*args, **kwargs)

    net.forward = interrupting_forward
    with pytest.raises(KeyboardInterrupt):
        th.train(model, TASK, CONFIG, out_dir=tmp_path, progress=False)
    assert torch.load(tmp_path / TRAIN_STATE, weights_only=False)["step"] == 9


def test_resume_refuses_a_different_config(tmp_path):
    th.train(
        fresh_model(), TASK, dataclasses.replace(CONFIG, steps=20), out_dir=tmp_path, progress=False
    )
    with pytest.raises(ValueError, match="its training config was"):
        th.train(
            fresh_model(),
            TASK,
            dataclasses.replace(CONFIG, lr=1e-2),
            out_dir=tmp_path,
            resume=True,
            progress=False,
        )
    with pytest.raises(ValueError, match="its task settings was"):
        other = th.get_task("sort_fixed", length=3, n_values=10, distinct=True)
        th.train(fresh_model(), other, CONFIG, out_dir=tmp_path, resume=True, progress=False)


def test_pooled_batches_are_slices_of_one_draw(monkeypatch):
    """A pool of 4 batches is one draw of 4 batches' rows, served in order, then redrawn."""
    config = dataclasses.replace(CONFIG, steps=6, eval_every=6, pool_batches=4)
    seen, draws = [], []
    cls = type(TASK)
    real_sample, real_loss = cls.sample, cls.training_loss

    def recording_sample(self, n, gen):
        draws.append(n)
        return real_sample(self, n, gen)

    def recording_loss(self, net, batch):
        seen.append(batch.tokens.clone())
        return real_loss(self, net, batch)

    monkeypatch.setattr(cls, "sample", recording_sample)
    monkeypatch.setattr(cls, "training_loss", recording_loss)
    th.train(fresh_model(), TASK, config, progress=False)
    assert draws == [4 * CONFIG.batch_size] * 2
    gen = th.tasks.make_generator(CONFIG.seed + th.training.DATA_SEED_OFFSET)
    pool = 4 * CONFIG.batch_size
    first, second = (real_sample(TASK, pool, gen).tokens.split(CONFIG.batch_size) for _ in "ab")
    expected = list(first) + list(second)[:2]
    assert all(torch.equal(a, b) for a, b in zip(seen, expected, strict=True))


def test_a_state_saved_before_a_setting_existed_resumes(tmp_path):
    """Training states written before `pool_batches` existed hold no such key."""
    config = dataclasses.replace(CONFIG, steps=20)
    th.train(fresh_model(), TASK, config, out_dir=tmp_path, progress=False)
    state = torch.load(tmp_path / TRAIN_STATE, weights_only=False)
    del state["train_config"]["pool_batches"]
    torch.save(state, tmp_path / TRAIN_STATE)
    longer = dataclasses.replace(config, steps=40)
    with pytest.raises(ValueError, match="its training config was"):  # steps differ
        th.train(fresh_model(), TASK, longer, out_dir=tmp_path, resume=True, progress=False)
    resumed = th.train(fresh_model(), TASK, config, out_dir=tmp_path, resume=True, progress=False)
    assert resumed.steps == 20


def test_resume_needs_out_dir():
    with pytest.raises(ValueError, match="resume=True needs out_dir"):
        th.train(fresh_model(), TASK, CONFIG, resume=True, progress=False)


def test_stop_at_target_stops_early():
    config = dataclasses.replace(CONFIG, steps=400, stop_at=0.0)
    result = th.train(fresh_model(), TASK, config, progress=False)
    assert result.reached_target and result.steps == CONFIG.eval_every


def test_stop_metric_must_exist():
    config = dataclasses.replace(CONFIG, stop_at=0.5, stop_metric="f1")
    with pytest.raises(ValueError, match="stop_metric 'f1' is not measured"):
        th.train(fresh_model(), TASK, config, progress=False)


def test_fixed_training_set_full_batch():
    config = dataclasses.replace(CONFIG, train_size=50, batch_size=64, steps=40)
    result = th.train(fresh_model(), TASK, config, progress=False)
    assert len(result.history["loss"]) == 2


def test_bad_train_config():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        th.TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="lr must be positive"):
        th.TrainConfig(lr=0)
    with pytest.raises(ValueError, match="precision must be 'fp32' or 'bf16'"):
        th.TrainConfig(precision="fp16")
    with pytest.raises(ValueError, match="pool_batches must be None or a positive int"):
        th.TrainConfig(pool_batches=0)


def test_a_model_made_for_another_task_is_a_clear_error():
    """Training or evaluating a model on a task it was not built for says what differs."""
    other = th.get_task("permute")
    message = (
        r"the model and the task do not match: the model reads 12 token ids and up to 8 "
        r"positions, but permute\(length=5, n_values=10\) has 17 tokens and sequences of 17"
    )
    with pytest.raises(ValueError, match=message):
        th.evaluate(fresh_model(), other, n=10)
    with pytest.raises(ValueError, match=message):
        th.train(fresh_model(), other, CONFIG, progress=False)
    longer = th.get_task("sort_fixed", length=5, n_values=10)  # same tokens, longer lists
    with pytest.raises(ValueError, match="up to 8 positions, but sort_fixed"):
        th.evaluate(fresh_model(), longer, n=10)
