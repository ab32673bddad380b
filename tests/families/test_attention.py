"""The attention family: prev_token and repeat_tokens, and the checks of lessons 14-15."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.families.attention import checks
from toyhelpers.families.attention.tasks import PrevToken, RepeatTokens
from toyhelpers.models import core_module

# -- prev_token ------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(n_values=st.integers(2, 60), length=st.integers(2, 40), seed=st.integers(0, 2**31))
def test_prev_token_format(n_values, length, seed):
    task = PrevToken(n_values, length)
    batch = task.generate(16, seed=seed)
    toks = batch.tokens
    assert toks.shape == (16, length + 1) and task.seq_len == length + 1
    assert (toks[:, 0] == task.token_id("BOS")).all()
    assert ((toks[:, 1:] >= 0) & (toks[:, 1:] < n_values)).all()
    # The targets are t1..t(n-1): each is named by the logits one position after it.
    want = torch.zeros(length + 1, dtype=torch.bool)
    want[1:length] = True
    assert (batch.scored == want).all()
    assert [i - 1 for i in task.query_positions] == want.nonzero().flatten().tolist()


def test_prev_token_example_and_vocabulary():
    task = th.get_task("prev_token", n_values=4, length=5)
    assert task.vocab == ["0", "1", "2", "3", "BOS"]
    text = "BOS 3 0 0 2 1"
    assert task.decode(task.encode(text)) == text


def _one_hot_logits(tokens, d_vocab):
    return torch.nn.functional.one_hot(tokens, d_vocab).float() * 10


def test_prev_token_metrics_read_the_token_before_not_after():
    task = th.get_task("prev_token")
    batch = task.generate(64, seed=0)
    # Logits at i naming t(i-1) are perfect; logits naming t(i+1) (next-token) are not.
    previous = _one_hot_logits(batch.tokens.roll(1, dims=1), task.d_vocab)
    following = _one_hot_logits(batch.tokens.roll(-1, dims=1), task.d_vocab)
    assert task.metrics(previous, batch)["accuracy"] == 1.0
    assert task.metrics(previous, batch)["loss"] < 1e-3
    assert task.metrics(following, batch)["token_accuracy"] < 0.2
    # A model that only repeats the current token is right when t(i) == t(i-1).
    current = _one_hot_logits(batch.tokens, task.d_vocab)
    assert task.metrics(current, batch)["token_accuracy"] < 0.15


def test_prev_token_values_are_uniform():
    task = th.get_task("prev_token", n_values=8, length=20)
    values = task.generate(4000, seed=1).tokens[:, 1:]
    counts = torch.bincount(values.flatten(), minlength=8).float()
    assert (counts / counts.sum() - 1 / 8).abs().max() < 0.01
    # A repeat (t(i) == t(i-1)) is as likely as chance: 1/8.
    repeats = (values[:, 1:] == values[:, :-1]).float().mean()
    assert abs(repeats - 1 / 8) < 0.01


def test_shipped_prev_token_attends_to_the_previous_position():
    model = th.load_pretrained("prev_token")
    batch = model.task.generate(500, seed=7)
    _, cache = model.run_with_cache(batch.tokens)
    previous = checks._previous_token_attention(cache["blocks.0.attn.hook_pattern"])
    assert previous.mean() >= 0.95 and previous.min() >= 0.9
    assert model.cfg.positional_embedding_type == "rotary" and model.cfg.attn_only
    assert "pos_embed.weight" not in model.state_dict()


def test_pair_scores_add_up_to_the_models_own_rotary_scores():
    model = th.load_pretrained("prev_token")
    q, k = checks._content_independent_qk(model, model.task.n_values)
    n = model.task.seq_len
    rotary = core_module(model).layers[0].attn.rotary
    with torch.no_grad():
        rq, rk = rotary.apply_rope(q.expand(1, 1, n, -1), k.expand(1, 1, n, -1))
        scores = (rq[0, 0] @ rk[0, 0].T) / model.cfg.d_head**0.5  # query pos, key pos
    by_distance = checks._pair_scores(q, k, n, model.cfg.rotary_base).sum(0)
    for i in range(n):
        assert torch.allclose(scores[i, : i + 1].flip(0), by_distance[: i + 1], atol=1e-3)


def test_keep_pairs_hook_with_every_pair_changes_nothing():
    model = th.load_pretrained("prev_token")
    tokens = model.task.generate(8, seed=2).tokens
    every = list(range(model.cfg.d_head // 2))
    hook = checks._keep_pairs_hook(every)
    with torch.no_grad():
        edited = model.run_with_hooks(tokens, fwd_hooks=[(checks.HOOK_Q, hook)])
        assert torch.allclose(edited, model(tokens))


# -- repeat_tokens ---------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    min_segment=st.integers(2, 10),
    extra=st.integers(0, 8),
    more_values=st.integers(0, 10),
    seed=st.integers(0, 2**31),
)
def test_repeat_tokens_format(min_segment, extra, more_values, seed):
    max_segment = min_segment + extra
    task = RepeatTokens(2 * max_segment - 2 + more_values, min_segment, max_segment)
    batch = task.generate(32, seed=seed)
    toks = batch.tokens
    assert toks.shape == (32, 2 * max_segment + 1)
    assert (toks[:, 0] == task.token_id("BOS")).all()
    prefix, segment = task.layout(toks)
    for row, scored, k, length in zip(
        toks, batch.scored, prefix.tolist(), segment.tolist(), strict=True
    ):
        assert min_segment <= length <= max_segment
        assert 2 * (max_segment - length) <= k <= 2 * max_segment - length - 2
        first = row[1 + k : 1 + k + length]
        second = row[1 + k + length :]
        assert len(set(row[1 : 1 + k + length].tolist())) == k + length  # all distinct
        assert 2 <= len(second) <= length and torch.equal(second, first[: len(second)])
        want = torch.zeros_like(scored)
        want[2 + k + length :] = True  # the second copy from its second token
        assert torch.equal(scored, want)


def test_repeat_tokens_example_and_layout():
    task = th.get_task("repeat_tokens", n_values=10, min_segment=3, max_segment=6)
    text = "BOS 5 6 3 7 1 4 0 6 3 7 1 4"  # k = 1, L = 6: the copy right after one token
    tokens = task.encode(text)[None]
    assert task.decode(tokens[0]) == text
    prefix, segment = task.layout(tokens)
    assert (prefix.item(), segment.item()) == (1, 6)
    first, second = task.copy_masks(tokens)
    assert first[0].nonzero().flatten().tolist() == [3, 4, 5, 6, 7]
    assert second[0].nonzero().flatten().tolist() == [9, 10, 11, 12]


def test_repeat_tokens_balances_lengths_and_includes_k_0():
    task = th.get_task("repeat_tokens")
    prefix, segment = task.layout(task.generate(20_000, seed=3).tokens)
    counts = torch.bincount(segment, minlength=task.max_segment + 1)[task.min_segment :]
    assert (counts.float() / counts.sum() - 1 / len(counts)).abs().max() < 0.01
    longest = segment == task.max_segment
    assert (prefix[longest] == 0).any() and (prefix[~longest] > 0).all()


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"min_segment": 13}, r"min_segment must be an int in 2..max_segment=12"),
        ({"n_values": 20}, r"n_values must be >= 2 \* max_segment - 2 = 22"),
    ],
)
def test_repeat_tokens_settings_that_depend_on_each_other(settings, message):
    with pytest.raises(ValueError, match=message):
        th.get_task("repeat_tokens", **settings)


def test_shipped_repeat_tokens_has_previous_token_heads_and_induction_heads():
    model = th.load_pretrained("repeat_tokens")
    tokens = model.task.generate(300, seed=8).tokens
    _, cache = model.run_with_cache(tokens)
    # Layer 0 splits the previous-token job between its two heads, by position (lesson
    # 15): summed, they attend one back at the keys the induction heads read (0.99).
    previous = cache["blocks.0.attn.hook_pattern"].diagonal(offset=-1, dim1=-2, dim2=-1)
    key = checks._induction_key(tokens)
    read = torch.zeros_like(tokens, dtype=torch.bool)
    read.scatter_(1, key.clamp(min=0), key >= 0)
    read[:, 0] = False
    assert previous.sum(1)[read[:, 1:]].mean() > 0.9
    induction = checks._induction_score(cache["blocks.1.attn.hook_pattern"], tokens)
    assert induction.min() > 0.8


def test_composition_scores_agree_with_transformer_lens():
    model = th.load_pretrained("repeat_tokens")
    for kind in "QKV":
        ours = checks._composition_scores(model, kind)
        theirs = model.all_composition_scores(kind)[0, :, 1, :].detach()
        assert torch.allclose(ours, theirs, atol=1e-5)


def test_k_path_hook_equals_removing_the_head_from_the_key_input():
    model = th.load_pretrained("repeat_tokens")
    tokens = model.task.generate(16, seed=4).tokens
    _, cache = model.run_with_cache(tokens)
    head_out = cache["blocks.0.attn.hook_z"][:, :, 0] @ model.W_O[0, 0]
    seen = {}

    def keep(k, hook):
        seen["k"] = k.detach().clone()

    def minus(x, hook):
        return x - head_out

    with torch.no_grad():
        model.run_with_hooks(
            tokens, fwd_hooks=[("blocks.1.attn.k.hook_in", minus), (checks.HOOK_K1, keep)]
        )
    expected = checks._k_path_ablation_hook(model, head_out, 1)(cache[checks.HOOK_K1], None)
    assert torch.allclose(seen["k"][:, :, 1], expected[:, :, 1], atol=1e-4)


# -- the checks: one explained mistake each (tests/contracts/test_checks.py) -------------


def _inverted_keep(pairs):
    def hook(q, hook):
        return q - checks._keep_pairs_hook(pairs)(q, hook)

    return hook


def _mse_with_row_0(pattern):
    seq = pattern.shape[-1]
    return ((pattern - torch.diag(torch.ones(seq - 1), -1)) ** 2).mean()


def _induction_score_everywhere(pattern, tokens):
    key = checks._induction_key(tokens).clamp(min=0)
    index = key[:, None, :, None].expand(-1, pattern.shape[1], -1, 1)
    return pattern.gather(-1, index).squeeze(-1).mean(dim=(0, 2))


def _adding_k_hook(model, head_out, head):
    remove = checks._k_path_ablation_hook(model, head_out, head)

    def add(k, hook):
        return 2 * k - remove(k, hook)

    return add


MISTAKES = {
    "check_previous_token_attention": (
        lambda pattern: pattern.diagonal(dim1=-2, dim2=-1)[..., 2:].mean(0),
        "the query itself",
    ),
    "check_content_independent_qk": (
        lambda model, n_values: (model.b_Q[0, 0].detach(), model.b_K[0, 0].detach()),
        "bias alone",
    ),
    "check_pair_scores": (
        lambda q, k, n, base: checks._pair_scores(k, q, n, base),
        "sign of the angle is reversed",
    ),
    "check_keep_pairs_hook": (_inverted_keep, "zeroed the pairs you were asked to keep"),
    "check_previous_token_mse": (_mse_with_row_0, "row 0 has no previous token"),
    "check_induction_key": (
        lambda tokens: (lambda key: torch.where(key >= 0, key - 1, -1))(
            checks._induction_key(tokens)
        ),
        "earlier occurrence of the current token itself",
    ),
    "check_induction_score": (_induction_score_everywhere, "averaged over every query"),
    "check_composition_scores": (
        lambda model, kind: checks._composition_scores(model, "Q" if kind != "Q" else "K"),
        "those are the (Q|K)-composition scores",
    ),
    "check_k_composition_circuit": (
        lambda model, writer, reader, n: checks._k_composition_circuit(model, writer, reader, n).T,
        "rows are the query's token",
    ),
    "check_k_path_ablation_hook": (_adding_k_hook, "added the contribution instead"),
    "check_icl_score": (
        lambda logits, tokens, first, second: -checks._icl_score(logits, tokens, first, second),
        "sign is reversed",
    ),
}


def test_previous_attention_with_query_1_is_explained():
    with pytest.raises(checks.ExerciseFailed, match="query 1's previous token is BOS"):
        checks.check_previous_token_attention(
            lambda pattern: pattern.diagonal(offset=-1, dim1=-2, dim2=-1).mean(0)
        )


def test_neox_pairing_is_explained():
    def halves(q, k, n, base):
        return checks._pair_scores(checks._halves(q), checks._halves(k), n, base)

    with pytest.raises(checks.ExerciseFailed, match="GPT-NeoX layout"):
        checks.check_pair_scores(halves)


def test_unnormalised_composition_scores_are_explained():
    def unnormalised(model, kind):
        reader = {"Q": model.QK[1], "K": model.QK[1].T, "V": model.OV[1]}[kind]
        return torch.tensor(
            [[(model.OV[0, g] @ reader[h]).norm().item() for h in range(2)] for g in range(2)]
        )

    with pytest.raises(checks.ExerciseFailed, match="scores are at most 1"):
        checks.check_composition_scores(unnormalised)
