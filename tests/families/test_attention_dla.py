"""Lesson 17's part of the attention family: the tools that set direct logit attribution
beside ablation, and the checks of lesson 17 (their MISTAKES are read by
tests/contracts/test_checks.py)."""

import pytest
import torch

import toyhelpers as th
from toyhelpers.families.attention import checks, dla
from toyhelpers.families.attention.ioi import POS_END, ToyIOI, logit_diff


@pytest.fixture(scope="module")
def shipped():
    model = th.load_pretrained("toy_ioi")
    toks = model.task.generate(400, seed=31).tokens
    toks = toks[model.task.is_ioi(toks)]
    with torch.no_grad():
        logits, cache = model.run_with_cache(toks)
    return model, toks, logits, cache


def test_head_logits_and_the_rest_add_up_to_the_logits(shipped):
    # No LayerNorm: the logits are a sum over the residual stream's parts, so the heads'
    # direct writes plus the embeddings and the biases give back the model's logits.
    model, toks, logits, cache = shipped
    z = dla.stacked_z(cache, model.cfg.n_layers, POS_END)
    heads = dla.head_logits(z, model.W_O, model.W_U).sum((1, 2))
    embed = (cache["hook_embed"] + cache["hook_pos_embed"])[:, POS_END] @ model.W_U
    biases = model.b_O.sum(0) @ model.W_U + model.b_U
    assert torch.allclose(heads + embed + biases, logits[:, POS_END], atol=1e-3)


def test_head_dla_is_the_answer_column_of_the_head_logits(shipped):
    model, toks, _, cache = shipped
    z = dla.stacked_z(cache, model.cfg.n_layers, POS_END)
    io, _ = ToyIOI.io_and_s(toks)
    written = dla.head_logits(z, model.W_O, model.W_U)
    rows = torch.arange(len(io))
    assert torch.allclose(
        dla.head_dla(z, model.W_O, model.W_U, io), written[rows, :, :, io].mean(0), atol=1e-5
    )


def test_a_write_that_moves_every_logit_alike_changes_no_log_probability():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 18, generator=gen)
    answer = torch.randint(0, 18, (50,), generator=gen)
    shift = torch.randn(50, 1, generator=gen).expand(50, 18)
    assert dla.direct_logprob_effect(logits, shift, answer).abs() < 1e-5
    # Lowering one wrong logit raises the answer's log-probability with zero DLA on it.
    wrong = (answer + 1) % 18
    lower = torch.zeros(50, 18)
    lower[torch.arange(50), wrong] = -3.0
    assert dla.direct_logprob_effect(logits, lower, answer) > 0


def test_ablating_a_head_on_identical_prompts_changes_nothing(shipped):
    model, toks, _, _ = shipped
    same = toks[:1].repeat(8, 1)
    assert abs(dla.ablation_effect(model, same, 2, 2, logit_diff).item()) < 1e-4


def test_redirected_attention_rows_still_sum_to_one(shipped):
    model, toks, _, _ = shipped
    keys = torch.ones(len(toks), dtype=torch.long)
    seen = {}

    def keep(pattern, hook):
        seen["p"] = pattern.clone()

    hook = dla.redirect_attention_hook(1, POS_END, keys)
    with torch.no_grad():
        model.run_with_hooks(
            toks,
            fwd_hooks=[("blocks.2.attn.hook_pattern", hook), ("blocks.2.attn.hook_pattern", keep)],
        )
    p = seen["p"]
    assert torch.allclose(p.sum(-1), torch.ones_like(p.sum(-1)), atol=1e-5)
    assert (p[:, 1, POS_END, 1] == 1).all()


def test_frozen_scale_attributions_add_up_to_the_centred_logit():
    model = th.load_pretrained("add5")
    batch = model.task.generate(200, seed=5)
    with torch.no_grad():
        _, cache = model.run_with_cache(batch.tokens)
    predicting = torch.zeros_like(batch.scored)
    predicting[:, :-1] = batch.scored[:, 1:]
    answer = batch.tokens[:, 1:][batch.scored[:, 1:]]
    parts = {"embed": cache["hook_embed"] + cache["hook_pos_embed"]}
    for layer in range(model.cfg.n_layers):
        parts[f"attn{layer}"] = cache[f"blocks.{layer}.hook_attn_out"]
        parts[f"mlp{layer}"] = cache[f"blocks.{layer}.hook_mlp_out"]
    got = dla.layernorm_attributions(model, cache, predicting, answer, parts)
    resid = cache["ln_final.hook_in"][predicting]
    logits = dla.final_logits(model, resid)
    rows = torch.arange(len(answer))
    centred = (logits[rows, answer] - logits.mean(-1)).mean().item()
    bias = model.ln_final._original_component.bias @ model.W_U
    bias_part = (bias[answer] - bias.mean()).mean().item()
    assert sum(f for f, _ in got.values()) + bias_part == pytest.approx(centred, abs=1e-3)
    # Removing a component renormalises: its effect is not its frozen-scale share.
    assert any(abs(f - r) > 0.1 * abs(f) + 0.05 for f, r in got.values())


# -- wrong answers of lesson 17's exercises (the contract test feeds them to the checks) -----


def _summed_dla(z, W_O, W_U, answer):
    return torch.einsum("blhd,lhdm,bm->lh", z, W_O, W_U[:, answer].T)


def _logit_only(logits, written, answer):
    return written[torch.arange(len(answer)), answer].mean()


def _added_attention(head, query, keys):
    def hook(pattern, hook):
        pattern[torch.arange(len(keys)), head, query, keys] += 1.0
        return pattern

    return hook


def _zero_ablation(model, tokens, layer, head, metric):
    def hook(z, hook):
        z[:, :, head] = 0.0
        return z

    with torch.no_grad():
        ablated = model.run_with_hooks(tokens, fwd_hooks=[(f"blocks.{layer}.attn.hook_z", hook)])
        return (metric(ablated, tokens) - metric(model(tokens), tokens)).mean()


MISTAKES = {
    "check_head_dla": (_summed_dla, "you summed over the prompts"),
    "check_direct_logprob_effect": (_logit_only, "that is the DLA"),
    "check_redirect_attention_hook": (_added_attention, "without taking the old away"),
    "check_ablation_effect": (_zero_ablation, "you zeroed the head"),
}


def test_redirecting_every_head_is_explained():
    def every_head(head, query, keys):
        def hook(pattern, hook):
            pattern[:, :, query] = 0.0
            pattern[torch.arange(len(keys)), :, query, keys] = 1.0
            return pattern

        return hook

    with pytest.raises(checks.ExerciseFailed, match="every head"):
        checks.check_redirect_attention_hook(every_head)
