import json

import pytest
import torch

import toyhelpers as th
from toyhelpers.checkpoints import META, WEIGHTS, load_checkpoint, save_checkpoint
from toyhelpers.models import ModelConfig, make_transformer

TASK = th.get_task("sort_fixed", length=3, n_values=10)


def small_model(**arch):
    config = dict(n_layers=1, d_model=32, n_heads=2, attn_only=True) | arch
    return make_transformer(ModelConfig.for_task(TASK, **config), seed=0)


def test_round_trip_keeps_weights_and_meta(tmp_path):
    model = small_model()
    save_checkpoint(model, TASK, tmp_path, seed=0, steps=5, metrics={"accuracy": 0.5})
    loaded = load_checkpoint(tmp_path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])
    assert loaded.meta["steps"] == 5 and loaded.meta["metrics"] == {"accuracy": 0.5}
    assert loaded.task.config() == TASK.config() and not loaded.training
    tokens = TASK.generate(4).tokens
    assert torch.allclose(model(tokens), loaded(tokens))


def test_mismatched_config_is_a_clear_error(tmp_path):
    save_checkpoint(small_model(), TASK, tmp_path, seed=0, steps=0, metrics={})
    meta = json.loads((tmp_path / META).read_text())
    meta["model_config"]["d_model"] = 48
    (tmp_path / META).write_text(json.dumps(meta))
    with pytest.raises(
        ValueError,
        match=r"do not fit this model's config:\n.*k.bias: checkpoint \(32,\) vs model \(48,\)",
    ):
        load_checkpoint(tmp_path)


def test_checkpoint_task_mismatch(tmp_path):
    save_checkpoint(small_model(), TASK, tmp_path, seed=0, steps=0, metrics={})
    with pytest.raises(ValueError, match="was trained on sort_fixed"):
        load_checkpoint(tmp_path, task=th.get_task("sort_fixed", length=4))
    meta = json.loads((tmp_path / META).read_text())
    meta["task_config"]["length"] = 4
    (tmp_path / META).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not match its task"):
        load_checkpoint(tmp_path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="meta.json is missing"):
        load_checkpoint(tmp_path)


def test_unknown_pretrained_name_lists_the_shipped_ones():
    with pytest.raises(ValueError, match="shipped checkpoints: .*sort_fixed"):
        th.load_pretrained("nope")


def test_weights_file_is_safetensors(tmp_path):
    save_checkpoint(small_model(), TASK, tmp_path, seed=0, steps=0, metrics={})
    from safetensors.torch import load_file

    assert "embed.weight" in load_file(str(tmp_path / WEIGHTS))


def shipped_names():
    return sorted(th.checkpoints.shipped())


@pytest.mark.parametrize("name", shipped_names())
def test_every_shipped_checkpoint_matches_its_recorded_metrics(name):
    """Each shipped model is re-measured on fresh data; it must reach its recipe's target
    and match what meta.json says."""
    model = th.load_pretrained(name)
    target = th.get_recipe(name).target
    assert target, f"recipe {name} ships a checkpoint but names no target"
    assert model.meta["task"] in th.list_tasks()
    assert model.meta["steps"] > 0 and "train_config" in model.meta
    metrics = th.evaluate(model, model.task, n=2000, seed=31337)
    recorded = model.meta["metrics"]
    n_recorded = model.meta["train_config"]["eval_size"]
    keys = [k for k in ("accuracy", "token_accuracy", "legal_rate") if k in recorded]
    # Tasks scored by an error (the in-context regressions) record it instead.
    errors = [k for k in model.task.lower_is_better if k in recorded and k != "loss"]
    assert keys or errors, f"{name}: meta.json records no accuracy and no error"
    for key, bound in target.items():
        if key in model.task.lower_is_better:  # a target for an error is a maximum
            assert metrics[key] <= bound, (name, key, metrics[key], bound)
        else:
            assert metrics[key] >= bound, (name, key, metrics[key], bound)
    for key in keys:
        # Both numbers are estimates from samples: allow four standard errors of the
        # recorded one (it used the training run's eval_size), plus a little.
        p = recorded[key]
        tolerance = 4 * (p * (1 - p) / n_recorded) ** 0.5 + 0.005
        assert abs(metrics[key] - p) < tolerance, (name, key, metrics[key], p)
    for key in errors:
        # A mean squared error over 2,000 prompts varies by a few percent between samples.
        assert abs(metrics[key] - recorded[key]) < 0.2 * recorded[key] + 0.002, (
            name,
            key,
            metrics[key],
            recorded[key],
        )
    size = sum(p.stat().st_size for p in th.checkpoints.pretrained_dir(name).glob("*"))
    # float32 weights, under 5 MB but for models whose size a lesson asks for: Othello (4.8M
    # parameters, 19 MB) and the width-256 in-context models of lessons 21-22 (1.6M, 6.4 MB).
    assert size < {"othello": 20_000_000, "icl_linear": 7_000_000, "icl_sparse": 7_000_000}.get(
        name, 5_000_000
    )


def _comparable(train_config: dict) -> dict:
    # Read through TrainConfig, as resuming does: settings added after a checkpoint was
    # trained take their defaults (precision fp32, no pool), which is how it was trained.
    config = th.TrainConfig.from_dict(train_config).to_dict()
    config["betas"] = list(config["betas"])
    if config["grokfast_alpha"] is None:
        # Without the filter its strength means nothing (and older checkpoints predate it).
        config.pop("grokfast_alpha")
        config.pop("grokfast_lambda")
    config.pop("stop_at")  # recorded series train past the target on purpose
    return config


@pytest.mark.parametrize("name", shipped_names())
def test_every_shipped_checkpoint_comes_from_its_recipe(name):
    """`toyhelpers train NAME` reproduces the shipped model: same task, model and settings."""
    recipe = th.get_recipe(name)
    meta = th.checkpoints.read_meta(th.checkpoints.pretrained_dir(name))
    task = recipe.make_task()
    assert (meta["task"], meta["task_config"]) == (task.name, task.config())
    assert meta["model_config"] == recipe.model_config(task).to_dict()
    assert _comparable(meta["train_config"]) == _comparable(recipe.train_config().to_dict())
