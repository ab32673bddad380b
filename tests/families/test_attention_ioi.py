"""Lesson 16's part of the attention family: the toy_ioi task, its analysis tools and the
checks of lesson 16 (their MISTAKES are read by tests/contracts/test_checks.py)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.families.attention import checks, ioi
from toyhelpers.families.attention.ioi import POS_END, POS_X, POS_Y, POS_Z, ToyIOI

# -- the task ------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(n_names=st.integers(3, 26), seed=st.integers(0, 2**31))
def test_toy_ioi_format(n_names, seed):
    task = ToyIOI(n_names)
    batch = task.generate(64, seed=seed)
    toks = batch.tokens
    assert toks.shape == (64, 6) and task.vocab[-2:] == ["BOS", "MID"]
    assert (toks[:, 0] == task.token_id("BOS")).all() and (toks[:, 4] == task.token_id("MID")).all()
    assert (toks[:, 1:4] < n_names).all() and (toks[:, 5] < n_names).all()
    assert (batch.scored.nonzero()[:, 1] == 5).all() and batch.scored.sum() == 64
    x, y, z, answer = toks[:, POS_X], toks[:, POS_Y], toks[:, POS_Z], toks[:, 5]
    assert (x != y).all()
    ioi_rows = task.is_ioi(toks)
    # IOI rows: the answer is the one of X, Y that Z is not.
    assert torch.equal(answer[ioi_rows], torch.where(z == x, y, x)[ioi_rows])
    # Distractor rows: three distinct names and the answer one of them.
    d = ~ioi_rows
    assert ((z != x) & (z != y))[d].all()
    assert ((answer == x) | (answer == y) | (answer == z))[d].all()


def test_toy_ioi_example_names_and_answers():
    task = th.get_task("toy_ioi", n_names=5)
    assert task.names == ["Alice", "Bob", "Carol", "Dan", "Eve"]
    text = "BOS Alice Bob Alice MID Bob"
    tokens = task.encode(text)[None]
    assert task.decode(tokens[0]) == text
    io, s = task.io_and_s(tokens)
    assert (task.names[io.item()], task.names[s.item()]) == ("Bob", "Alice")


def test_toy_ioi_balances_its_forms():
    task = th.get_task("toy_ioi")
    toks = task.generate(20_000, seed=1).tokens
    ioi_rows = task.is_ioi(toks)
    assert abs(ioi_rows.float().mean() - 0.5) < 0.02
    # IOI: the repeated name is X half the time; distractor: each slot answers a third.
    assert abs((toks[ioi_rows, POS_Z] == toks[ioi_rows, POS_X]).float().mean() - 0.5) < 0.02
    d = toks[~ioi_rows]
    for slot in (POS_X, POS_Y, POS_Z):
        assert abs((d[:, 5] == d[:, slot]).float().mean() - 1 / 3) < 0.02
    counts = torch.bincount(toks[:, 1:4].flatten(), minlength=task.n_names).float()
    assert (counts / counts.mean() - 1).abs().max() < 0.1  # repeats make counts lumpy
    few = th.get_task("toy_ioi", distractor_fraction=0.1).generate(5_000, seed=2).tokens
    assert abs((~task.is_ioi(few)).float().mean() - 0.1) < 0.02


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"n_names": 2}, r"n_names must be an int in 3\.\.26"),
        ({"n_names": 27}, r"n_names must be an int in 3\.\.26"),
        ({"distractor_fraction": 1.0}, r"distractor_fraction must be a number in \(0\.0, 1\.0\)"),
    ],
)
def test_bad_settings_are_explained(setting, message):
    with pytest.raises(ValueError, match=message):
        th.get_task("toy_ioi", **setting)


def test_metrics_of_a_perfect_and_of_a_calibrated_answer():
    task = th.get_task("toy_ioi")
    batch = task.generate(2_000, seed=3)
    toks = batch.tokens
    io, _ = task.io_and_s(toks)
    logits = torch.full((len(toks), 6, task.d_vocab), -30.0)
    rows = torch.arange(len(toks))
    ioi_rows = task.is_ioi(toks)
    logits[rows[ioi_rows], POS_END, io[ioi_rows]] = 30.0
    for slot in (POS_X, POS_Y, POS_Z):  # distractors: equal logits on the three names
        logits[rows[~ioi_rows], POS_END, toks[~ioi_rows, slot]] = 30.0
    m = task.metrics(logits, batch)
    assert m["accuracy"] == 1.0 and m["logit_diff"] == pytest.approx(60.0)
    assert m["distractor_on_names"] == pytest.approx(1.0)
    assert m["distractor_min_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["distractor_min_prob"] == pytest.approx(1 / 3, abs=1e-4)
    # A model that bets on X for every distractor is not calibrated: min_prob says so.
    logits[rows[~ioi_rows], POS_END, toks[~ioi_rows, POS_Y]] = -30.0
    logits[rows[~ioi_rows], POS_END, toks[~ioi_rows, POS_Z]] = -30.0
    assert task.metrics(logits, batch)["distractor_min_prob"] < 1e-6


def test_abc_corruption_keeps_x_and_y_and_brings_a_third_name():
    task = th.get_task("toy_ioi", n_names=4)
    toks = task.generate(500, seed=4).tokens
    bad = ioi.abc_corruption(toks, task.n_names, seed=1)
    assert torch.equal(bad[:, [0, 1, 2, 4]], toks[:, [0, 1, 2, 4]])
    assert ((bad[:, POS_Z] != bad[:, POS_X]) & (bad[:, POS_Z] != bad[:, POS_Y])).all()
    assert (bad[:, POS_Z] < task.n_names).all() and not task.is_ioi(bad).any()
    flipped = ioi.flip_subject(toks[task.is_ioi(toks)])
    io, s = task.io_and_s(toks[task.is_ioi(toks)])
    assert torch.equal(task.io_and_s(flipped)[0], s) and torch.equal(flipped[:, 5], s)


# -- the shipped model and the analysis tools ------------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    model = th.load_pretrained("toy_ioi")
    toks = model.task.generate(600, seed=21).tokens
    return model, toks[model.task.is_ioi(toks)]


def test_shipped_toy_ioi_is_attention_only_with_three_layers(shipped):
    model, _ = shipped
    assert model.cfg.n_layers == 3 and model.cfg.attn_only


def test_patching_a_head_with_its_own_value_changes_nothing(shipped):
    model, toks = shipped
    _, cache = model.run_with_cache(toks)
    hook = ioi.patch_head_hook(cache["blocks.1.attn.hook_z"], 0, None)
    with torch.no_grad():
        patched = model.run_with_hooks(toks, fwd_hooks=[("blocks.1.attn.hook_z", hook)])
        assert torch.allclose(patched, model(toks), atol=1e-4)


def test_direct_path_patching_adds_up_with_the_rest_of_the_residual_stream(shipped):
    # Each head's direct effect, summed over heads, plus the embeddings' direct effect,
    # is the whole change of the logit difference (the model is linear after attention).
    model, toks = shipped
    bad = ioi.abc_corruption(toks, model.task.n_names)
    direct = ioi.path_patching_to_logits(model, toks, bad).sum()
    with torch.no_grad():
        _, c1 = model.run_with_cache(toks)
        _, c2 = model.run_with_cache(bad)
    io, s = model.task.io_and_s(toks)
    direction = (model.W_U[:, io] - model.W_U[:, s]).T
    embed = ((c1["hook_embed"] - c2["hook_embed"])[:, POS_END] * direction).sum(-1).mean()
    gap = (
        ioi.logit_diff(model(toks), toks).mean() - ioi.logit_diff(model(bad), toks).mean()
    ).item()
    assert direct.item() + embed.item() / gap == pytest.approx(1.0, abs=1e-3)


def test_path_patching_through_a_receiver_equals_patching_its_input(shipped):
    # Adding a sender's change to a receiver's query equals running the receiver's query
    # input with the sender's corrupted output in it: the hook's linear shortcut holds.
    model, toks = shipped
    toks = toks[:32]
    bad = ioi.abc_corruption(toks, model.task.n_names)
    with torch.no_grad():
        _, clean = model.run_with_cache(toks)
        _, corrupt = model.run_with_cache(bad)
    z = "blocks.0.attn.hook_z"
    delta = (corrupt[z][:, :, 1] - clean[z][:, :, 1]) @ model.W_O[0, 1]
    hook = ioi.add_to_input_hook(delta, model.W_Q[2, 0].detach(), 0, POS_END)
    want = hook(clean["blocks.2.attn.hook_q"], None)
    seen = {}

    def keep(q, hook):
        seen["q"] = q.detach().clone()

    def shift(x, hook):
        x = x.clone()
        x[:, POS_END] += delta[:, POS_END]
        return x

    with torch.no_grad():
        model.run_with_hooks(
            toks, fwd_hooks=[("blocks.2.attn.q.hook_in", shift), ("blocks.2.attn.hook_q", keep)]
        )
    assert torch.allclose(seen["q"][:, :, 0], want[:, :, 0], atol=1e-4)


def test_shipped_toy_ioi_copy_scores_match_the_full_ov_circuit(shipped):
    model, _ = shipped
    ov = (model.W_E @ model.OV[2, 2] @ model.W_U).AB.detach()[:16, :16]
    others = (ov.sum(-1) - ov.diagonal()) / 15
    assert ioi.name_copy_score(model, 2, 2, 16).item() == pytest.approx(
        (ov.diagonal() - others).mean().item(), abs=1e-5
    )


# -- the checks: one explained mistake each (tests/contracts/test_checks.py) -----------------


def _sign_flipped_logit_diff(logits, tokens):
    return -ioi.logit_diff(logits, tokens)


def _patch_every_head(source, head, position):
    def hook(z, hook):
        z = z.clone()
        where = slice(None) if position is None else position
        z[:, where] = source[:, where]
        return z

    return hook


def _subtracting_hook(delta, weight, head, position):
    add = ioi.add_to_input_hook(delta, weight, head, position)

    def hook(x, hook_point):
        return 2 * x - add(x, hook_point)

    return hook


def _attention_to_io(pattern, tokens):
    return ioi.attention_to(pattern, tokens, "io", query=POS_Z)


def _diagonal_only(model, layer, head, n_names):
    ov = (model.W_E[:n_names] @ model.OV[layer, head] @ model.W_U[:, :n_names]).AB
    return ov.diagonal().mean().detach()


MISTAKES = {
    "check_logit_diff": (_sign_flipped_logit_diff, "sign is reversed"),
    "check_patch_head_hook": (_patch_every_head, "you patched every head"),
    "check_add_to_input_hook": (_subtracting_hook, "you subtracted the change"),
    "check_duplicate_token_score": (_attention_to_io, "attention from Z to the other name"),
    "check_name_copy_score": (_diagonal_only, "subtract the mean of the other names"),
}


def test_logit_diff_read_at_the_answer_position_is_explained():
    def at_answer(logits, tokens):
        io, s = ToyIOI.io_and_s(tokens)
        rows = torch.arange(len(tokens))
        return logits[rows, -1, io] - logits[rows, -1, s]

    with pytest.raises(checks.ExerciseFailed, match="logits at MID"):
        checks.check_logit_diff(at_answer)


def test_z_attending_to_itself_is_explained():
    def itself(pattern, tokens):
        return pattern[ToyIOI.is_ioi(tokens)][:, :, POS_Z, POS_Z].mean(0)

    with pytest.raises(checks.ExerciseFailed, match="Z attending to itself"):
        checks.check_duplicate_token_score(itself)
