"""The in-context family: its function classes, baselines, models and lesson 21's checks."""

import pytest
import torch

import toyhelpers as th
from toyhelpers.families.icl import baselines
from toyhelpers.models import build_model, config_class

# One small model of each kind, as the tests below build them.
SMALL = {"icl_transformer": dict(n_layers=2, d_model=16, n_heads=2), "linear_attention": {}}


def small_models(task, seed=0) -> dict:
    return {
        kind: build_model(config_class(kind).for_task(task, **arch), seed=seed)
        for kind, arch in SMALL.items()
    }


def test_linear_prompts_follow_their_weights():
    task = th.get_task("icl_linear", dim=4, n_points=10, bias=True)
    batch, params = task.draw(50, seed=0)
    want = (batch.xs * params["w"][:, None]).sum(-1) + params["b"][:, None]
    assert torch.allclose(batch.ys, want, atol=1e-5)
    again, _ = task.draw(50, seed=0)
    assert torch.equal(again.xs, task.generate(50, seed=0).xs)
    noisy = th.get_task("icl_linear", dim=4, n_points=10, noise=0.5)
    batch, params = noisy.draw(4000, seed=1)
    residual = batch.ys - (batch.xs * params["w"][:, None]).sum(-1)
    assert abs(residual.std().item() - 0.5) < 0.01


def test_sparse_weights_have_exactly_n_nonzero_entries_spread_over_coordinates():
    task = th.get_task("icl_sparse", dim=8, n_nonzero=3)
    _, params = task.draw(4000, seed=2)
    assert ((params["w"] != 0).sum(1) == 3).all()
    share = (params["w"] != 0).float().mean(0)
    assert (share - 3 / 8).abs().max() < 0.03


def _leaf_by_recursion(feature: list[int], x: list[float], depth: int) -> int:
    """A decision tree walked node by node, written apart from the task's batched gathers."""
    node = 0
    for _ in range(depth):
        node = 2 * node + (2 if x[feature[node]] > 0 else 1)
    return node - (2**depth - 1)


def test_trees_send_each_input_to_the_leaf_its_signs_choose():
    task = th.get_task("icl_tree", dim=5, depth=3, n_points=6)
    batch, params = task.draw(40, seed=3)
    for b in range(40):
        for i in range(6):
            leaf = _leaf_by_recursion(params["feature"][b].tolist(), batch.xs[b, i].tolist(), 3)
            assert batch.ys[b, i] == params["value"][b, leaf]
    leaves = task.leaf(params["feature"], batch.xs)
    assert leaves.unique().numel() == 8  # every leaf is reached


def test_signals_have_the_variance_the_errors_are_normalised_by():
    for name, settings in [
        ("icl_linear", {}),
        ("icl_sparse", {}),
        ("icl_tree", {}),
        ("icl_mlp", {}),
        ("icl_linear", {"bias": True}),
    ]:
        task = th.get_task(name, **settings)
        batch = task.generate(4000, seed=4)
        ratio = batch.ys.var().item() / task.signal_variance
        assert 0.85 < ratio < 1.15, (name, settings, ratio)
        assert abs(task.metrics(torch.zeros_like(batch.ys), batch)["loss"] - ratio) < 0.1


@pytest.mark.parametrize(
    "name, settings, message",
    [
        ("icl_sparse", {"dim": 4, "n_nonzero": 5}, "n_nonzero=5 is more .* than dim=4"),
        ("icl_linear", {"n_points": 1}, "n_points must be an int in 2..128"),
        ("icl_linear", {"noise": -0.1}, r"noise must be a number in \[0.0, 10.0\)"),
        ("icl_tree", {"depth": 0}, "depth must be an int in 1..8"),
    ],
)
def test_bad_settings_are_explained(name, settings, message):
    with pytest.raises(ValueError, match=message):
        th.get_task(name, **settings)


def test_models_refuse_prompts_beyond_their_context_or_of_another_dim():
    task = th.get_task("icl_linear", dim=3, n_points=8)
    for model in small_models(task).values():
        longer = th.get_task("icl_linear", dim=3, n_points=9).generate(2)
        with pytest.raises(ValueError, match="at most 8 points"):
            model(longer.xs, longer.ys)
        with pytest.raises(ValueError, match="up to 8 points .* n_points=9"):
            th.evaluate(model, th.get_task("icl_linear", dim=3, n_points=9), n=4)
        with pytest.raises(ValueError, match="dim 3, but .* has dim 4"):
            th.evaluate(model, th.get_task("icl_linear", dim=4, n_points=8), n=4)


def test_a_prediction_never_sees_its_own_answer_or_later_examples():
    task = th.get_task("icl_linear", dim=3, n_points=8)
    batch = task.generate(4, seed=5)
    for kind, model in small_models(task, seed=1).items():
        base = task.predict(model, batch)
        for i in range(8):
            ys, xs = batch.ys.clone(), batch.xs.clone()
            ys[:, i:] += 5.0
            xs[:, i + 1 :] += 5.0
            changed = task.predict(model, type(batch)(xs, ys))
            assert torch.allclose(changed[:, : i + 1], base[:, : i + 1], atol=1e-5), (kind, i)


def test_the_transformer_hooks_see_what_forward_computes():
    task = th.get_task("icl_linear", dim=3, n_points=8)
    batch = task.generate(4, seed=6)
    model = build_model(
        config_class("icl_transformer").for_task(task, n_layers=2, d_model=16, n_heads=2), seed=2
    ).eval()
    preds, cache = model.run_with_cache(batch.xs, batch.ys)
    assert torch.allclose(preds, model(batch.xs, batch.ys), atol=1e-5)
    embed = model.embed(batch.xs, batch.ys)
    pos = cache["hook_pos_embed"]
    assert torch.allclose(cache["blocks.0.hook_resid_pre"], embed + pos, atol=1e-5)
    zero_last = [("blocks.1.hook_resid_post", lambda x, hook: torch.zeros_like(x))]
    assert not torch.allclose(model.with_hooks(batch.xs, batch.ys, zero_last), preds)


def test_checkpoints_round_trip_both_model_kinds(tmp_path):
    task = th.get_task("icl_linear", dim=3, n_points=8)
    batch = task.generate(4, seed=7)
    for kind, model in small_models(task, seed=3).items():
        th.save_checkpoint(model, task, tmp_path / kind, seed=3, steps=1, metrics={})
        again = th.load_checkpoint(tmp_path / kind)
        assert set(again.state_dict()) == set(model.state_dict())
        assert torch.equal(task.predict(again, batch), task.predict(model, batch))
    names = set(th.load_checkpoint(tmp_path / "icl_transformer").state_dict())
    assert {"read_in.weight", "blocks.0.attn.q.weight"} <= names


def test_training_is_reproducible_and_learns_on_cpu():
    task = th.get_task("icl_linear", dim=3, n_points=8)
    config = th.TrainConfig(steps=300, batch_size=128, lr=1e-2, eval_every=300, eval_size=500)
    runs = []
    for _ in range(2):
        model = build_model(config_class("linear_attention").for_task(task), seed=0)
        runs.append(th.train(model, task, config, progress=False))
    assert torch.equal(runs[0].model.A, runs[1].model.A)
    # From about 1 (predicting 0) to one gradient step's error (0.61 at dim 5 over 15 points).
    assert runs[0].metrics["loss"] < 0.75


# -- baselines ---------------------------------------------------------------------------


def test_least_squares_is_exact_from_dim_examples_and_minimum_norm_before():
    task = th.get_task("icl_linear", dim=4, n_points=9)
    batch, params = task.draw(4000, seed=8)
    errors = task.errors(baselines.least_squares(batch.xs, batch.ys), batch)
    assert errors[4:].max() < 1e-6
    # Below dim examples, the minimum-norm fit is X^T (X X^T)^-1 y, written out.
    X, y = batch.xs[:, :2].double(), batch.ys[:, :2].double()
    w = (X.transpose(1, 2) @ torch.linalg.solve(X @ X.transpose(1, 2), y[..., None]))[..., 0]
    want = (batch.xs[:, 2].double() * w).sum(-1)
    assert torch.allclose(
        baselines.least_squares(batch.xs, batch.ys)[:, 2].double(), want, atol=1e-4
    )
    # Bayes-optimal for w ~ N(0, I): the expected error with k < dim examples is 1 - k/dim.
    assert torch.allclose(errors[:4], 1 - torch.arange(4) / 4, atol=0.08)


def test_gradient_descent_and_ridge_reach_least_squares_in_their_limits():
    task = th.get_task("icl_linear", dim=3, n_points=10)
    batch = task.generate(100, seed=9)
    ls = baselines.least_squares(batch.xs, batch.ys)
    many_steps = baselines.gradient_descent(batch.xs, batch.ys, lr=0.3, steps=300)
    assert baselines.relative_distance(many_steps, ls, 3)[6:].max() < 1e-3
    assert (
        baselines.relative_distance(baselines.ridge(batch.xs, batch.ys, 1e-6), ls, 3).max() < 1e-3
    )
    one = baselines.gradient_descent(batch.xs, batch.ys, lr=1.0, steps=1)
    assert torch.equal(one, baselines.averaging(batch.xs, batch.ys))
    # One step from w = 0 is (lr / i) sum_j y_j x_j . x_i, written out at point 5.
    want = 0.5 / 5 * (batch.ys[:, :5, None] * batch.xs[:, :5]).sum(1)
    step = baselines.gradient_descent(batch.xs, batch.ys, lr=0.5, steps=1)
    assert torch.allclose(step[:, 5], (want * batch.xs[:, 5]).sum(-1), atol=1e-5)


def test_linear_attention_with_the_gd_weights_is_one_gradient_step():
    task = th.get_task("icl_linear", dim=4, n_points=10)
    batch = task.generate(50, seed=10)
    model = build_model(config_class("linear_attention").for_task(task))
    with torch.no_grad():
        model.A.zero_()
        model.A[:4, :4] = 0.7 * torch.eye(4)
        model.v.zero_()
        model.v[4] = 1.0
    want = baselines.gradient_descent(batch.xs, batch.ys, lr=0.7, steps=1)
    assert torch.allclose(task.predict(model, batch), want, atol=1e-5)


def test_nearest_neighbours_average_the_closest_earlier_answers():
    xs = torch.tensor([[[0.0], [1.0], [5.0], [0.9]]])
    ys = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    got = baselines.nearest_neighbours(xs, ys, k=2)
    assert torch.allclose(got, torch.tensor([[0.0, 1.0, 1.5, 1.5]]))


def test_lasso_beats_least_squares_on_sparse_weights_below_dim_examples():
    task = th.get_task("icl_sparse", dim=8, n_points=10, n_nonzero=1)
    batch = task.generate(60, seed=11)
    lasso = task.errors(baselines.lasso(batch.xs, batch.ys, alpha=0.01), batch)
    ls = task.errors(baselines.least_squares(batch.xs, batch.ys), batch)
    assert lasso[6:8].mean() < 0.1 < 0.2 < ls[6:8].mean()


def test_greedy_tree_and_fitted_net_learn_their_classes_from_enough_examples():
    tree = th.get_task("icl_tree", dim=2, depth=1, n_points=40)
    batch = tree.generate(40, seed=12)
    assert (
        tree.errors(baselines.greedy_tree(batch.xs, batch.ys, max_depth=1), batch)[20:].mean()
        < 0.05
    )
    mlp = th.get_task("icl_mlp", dim=2, hidden=4, n_points=30)
    batch = mlp.generate(40, seed=13)
    net = mlp.errors(baselines.fitted_net(batch.xs, batch.ys, hidden=16, steps=200), batch)
    assert net[20:].mean() < 0.3 * mlp.errors(torch.zeros_like(batch.ys), batch)[20:].mean()


# -- lesson 21's checks: wrong answers ----------------------------------------------------


def _fits_through_own_point(xs, ys):
    """Least squares on the examples up to and including i."""
    out = torch.zeros_like(ys)
    for i in range(1, xs.shape[1]):
        w = torch.linalg.pinv(xs[:, : i + 1]) @ ys[:, : i + 1, None]
        out[:, i] = (xs[:, i] * w[..., 0]).sum(-1)
    return out


def _summed_gradient(xs, ys, lr, steps):
    """Gradient descent on the summed (not mean) squared error."""
    out = torch.zeros_like(ys)
    for i in range(1, xs.shape[1]):
        X, y = xs[:, :i], ys[:, :i]
        w = torch.zeros(xs.shape[0], xs.shape[2])
        for _ in range(steps):
            w = w - lr * (X.transpose(1, 2) @ ((X @ w[..., None])[..., 0] - y)[..., None])[..., 0]
        out[:, i] = (xs[:, i] * w).sum(-1)
    return out


def _influence_of_the_sum(model, xs, ys, point):
    ys = ys.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(xs, ys).sum(), ys)
    return grad[:, :point]


def _r2_on_training_rows(features, targets):
    X = torch.cat([features, torch.ones(len(features), 1)], 1)
    n = int(0.8 * len(X))
    coef = torch.linalg.lstsq(X[:n], targets[:n]).solution
    residual = targets[:n] - X[:n] @ coef
    return 1 - residual.pow(2).sum() / (targets[:n] - targets[:n].mean(0)).pow(2).sum()


# -- lesson 22's checks: wrong answers ----------------------------------------------------


def _slope_by_finite_difference(model, xs, ys, point, eps=1e-3):
    """A correct answer written another way: central differences, coordinate by coordinate."""
    out = []
    for d in range(xs.shape[-1]):
        up, down = xs.clone(), xs.clone()
        up[:, point, d] += eps
        down[:, point, d] -= eps
        out.append((model(up, ys)[:, point] - model(down, ys)[:, point]) / (2 * eps))
    return torch.stack(out, -1).detach()


def _slope_of_the_sum(model, xs, ys, point):
    xs = xs.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(xs, ys).sum(), xs)
    return grad[:, point]


def _share_of_absolute_values(weights, w_true):
    on = (w_true != 0).float()
    return (weights.abs() * on).sum(-1) / weights.abs().sum(-1)


def _path_turning_the_wrong_way(feature, x, depth):
    node, tested = torch.zeros(len(x), dtype=torch.long), torch.zeros(x.shape, dtype=torch.bool)
    for _ in range(depth):
        coord = feature[torch.arange(len(x)), node]
        tested[torch.arange(len(x)), coord] = True
        node = 2 * node + 1 + (x[torch.arange(len(x)), coord] <= 0).long()
    return tested


def _signed_flip_effect(model, xs, ys, point):
    base = model(xs, ys)[:, point]
    out = []
    for d in range(xs.shape[-1]):
        flipped = xs.clone()
        flipped[:, point, d] *= -1
        out.append(model(flipped, ys)[:, point] - base)
    return torch.stack(out, -1).detach()


MISTAKES = {
    "check_least_squares_predictions": (_fits_through_own_point, "only the examples before i"),
    "check_gd_predictions": (_summed_gradient, "mean squared error"),
    "check_influence": (_influence_of_the_sum, "sum of all predictions"),
    "check_probe_r2": (_r2_on_training_rows, "held-out"),
    "check_implied_weights": (_slope_of_the_sum, "sum of all predictions"),
    "check_support_share": (_share_of_absolute_values, "absolute values"),
    "check_path_coordinates": (_path_turning_the_wrong_way, "wrong branch"),
    "check_flip_effect": (_signed_flip_effect, "signed changes"),
}


def test_implied_weights_accept_a_finite_difference():
    from toyhelpers.families.icl.checks import check_implied_weights

    check_implied_weights(_slope_by_finite_difference)


def test_the_path_ends_in_the_leaf_the_task_computes():
    from toyhelpers.families.icl.checks import _path_coordinates

    task = th.get_task("icl_tree", dim=6, depth=3, n_points=5)
    batch, params = task.draw(100, seed=7)
    tested = _path_coordinates(params["feature"], batch.xs[:, 2], task.depth)
    for b in range(100):
        node, path = 0, set()
        for _ in range(task.depth):
            coord = params["feature"][b, node].item()
            path.add(coord)
            node = 2 * node + (2 if batch.xs[b, 2, coord] > 0 else 1)
        assert set(tested[b].nonzero()[:, 0].tolist()) == path
        assert node - 7 == task.leaf(params["feature"], batch.xs)[b, 2]
    # Flipping a coordinate off the path never moves the tree's answer.
    flipped = batch.xs.clone()
    off = ~tested
    flipped[:, 2] = torch.where(off, -flipped[:, 2], flipped[:, 2])
    assert torch.equal(
        task.leaf(params["feature"], flipped)[:, 2], task.leaf(params["feature"], batch.xs)[:, 2]
    )


def test_an_interrupted_transformer_run_resumes_to_the_same_weights(tmp_path):
    task = th.get_task("icl_linear", dim=3, n_points=6)
    config = th.TrainConfig(
        steps=20, batch_size=16, eval_every=10, eval_size=50, checkpoint_every=10
    )

    def fresh(seed=0):
        arch = dict(n_layers=1, d_model=16, n_heads=2)
        return build_model(config_class("icl_transformer").for_task(task, **arch), seed=seed)

    full = th.train(fresh(), task, config, progress=False)

    class Disconnect(Exception):
        pass

    model, calls = fresh(), {"n": 0}
    real_forward = model.forward

    def flaky_forward(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10 + 1 + 1:  # 10 training steps, one evaluation, then a crash
            raise Disconnect
        return real_forward(*args, **kwargs)

    model.forward = flaky_forward
    with pytest.raises(Disconnect):
        th.train(model, task, config, out_dir=tmp_path, progress=False)
    resumed = th.train(fresh(seed=5), task, config, out_dir=tmp_path, resume=True, progress=False)
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_training_stops_once_an_error_falls_to_its_target():
    task = th.get_task("icl_linear", dim=3, n_points=8)
    config = th.TrainConfig(
        steps=300,
        batch_size=128,
        lr=1e-2,
        eval_every=50,
        eval_size=500,
        stop_metric="loss",
        stop_at=0.9,  # an error: reached when it is at or below 0.9
    )
    model = build_model(config_class("linear_attention").for_task(task), seed=0)
    result = th.train(model, task, config, progress=False)
    assert result.reached_target and result.steps < 300
    assert result.history["loss"][-1] <= 0.9 < min(result.history["loss"][:-1], default=1.0)


def test_apply_evaluates_the_drawn_functions_at_new_inputs():
    for name in ("icl_linear", "icl_sparse", "icl_tree", "icl_mlp"):
        task = th.get_task(name, dim=4, n_points=6)
        batch, params = task.draw(20, seed=8)
        assert torch.allclose(task.apply(params, batch.xs), batch.ys)
        moved = task.apply(params, -batch.xs)
        assert moved.shape == batch.ys.shape and not torch.allclose(moved, batch.ys)
        with pytest.raises(ValueError, match=r"xs must have shape \[batch, point, 4\]"):
            task.apply(params, batch.xs[..., :3])


def test_sign_agreement_weighs_examples_by_shared_signs():
    xs = torch.tensor([[[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [2.0, 0.5]]])
    ys = torch.tensor([[3.0, 5.0, 7.0, 0.0]])
    pred = baselines.sign_agreement(xs, ys, beta=1.0)
    assert pred[0, 0] == 0 and pred[0, 1] == 3.0  # no examples; one example
    # Query 3 agrees with x_0 on 2 signs, x_1 on 1, x_2 on 0: weights e^2, e^1, e^0.
    e = torch.tensor(1.0).exp()
    assert torch.isclose(pred[0, 3], (3 * e**2 + 5 * e + 7) / (e**2 + e + 1))
    assert torch.isclose(baselines.sign_agreement(xs, ys, beta=0.0)[0, 3], torch.tensor(5.0))
    with pytest.raises(ValueError, match="beta must be >= 0"):
        baselines.sign_agreement(xs, ys, beta=-1.0)
