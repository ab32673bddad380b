"""Growing a trained transformer deeper or wider without changing what it computes."""

import dataclasses

import pytest
import torch

from toyhelpers.models import ModelConfig, insert_blocks, make_transformer, widen

SMALL = ModelConfig(n_layers=2, d_model=32, n_heads=4, d_vocab=11, n_ctx=7, normalization="LN")
TOKENS = torch.randint(0, 11, (5, 7), generator=torch.Generator().manual_seed(0))


def grown(at: int, extra: int = 2):
    earlier = make_transformer(SMALL, seed=0)
    model = make_transformer(dataclasses.replace(SMALL, n_layers=SMALL.n_layers + extra), seed=1)
    insert_blocks(model, earlier, at)
    return earlier, model


@pytest.mark.parametrize("at", [0, 1, 2])
def test_inserted_blocks_leave_the_function_unchanged(at):
    earlier, model = grown(at)
    with torch.no_grad():
        before, after = earlier(TOKENS), model(TOKENS)
    assert before.abs().max() > 0.1  # a random model whose logits are not all zero
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)


def test_old_blocks_move_up_and_new_blocks_are_silent():
    earlier, model = grown(at=1)
    old, new = earlier.state_dict(), model.state_dict()
    assert torch.equal(new["blocks.0.attn.q.weight"], old["blocks.0.attn.q.weight"])
    assert torch.equal(new["blocks.3.mlp.in.weight"], old["blocks.1.mlp.in.weight"])
    for block in (1, 2):
        assert not new[f"blocks.{block}.attn.o.weight"].any()
        assert not new[f"blocks.{block}.mlp.out.weight"].any()
        assert new[f"blocks.{block}.attn.q.weight"].any()  # the rest keeps its random init


def test_new_blocks_get_gradients():
    _, model = grown(at=1)
    model(TOKENS).logsumexp(-1).sum().backward()
    for name in ("attn.o", "mlp.out"):
        weight = model.get_submodule(f"blocks.1.{name}").weight
        assert weight.grad is not None and weight.grad.abs().max() > 0, name


def test_insert_blocks_rejects_models_that_do_not_fit():
    earlier = make_transformer(SMALL, seed=0)
    with pytest.raises(ValueError, match="n_layers only"):
        insert_blocks(make_transformer(dataclasses.replace(SMALL, d_model=64)), earlier, 1)
    with pytest.raises(ValueError, match="n_layers only"):
        insert_blocks(make_transformer(SMALL), earlier, 1)
    with pytest.raises(ValueError, match="at must be in 0..2"):
        insert_blocks(make_transformer(dataclasses.replace(SMALL, n_layers=3)), earlier, 3)


WIDE = dataclasses.replace(SMALL, d_model=64, n_heads=8, d_mlp=256)


def widened(seed: int = 0):
    earlier = make_transformer(dataclasses.replace(SMALL, d_mlp=64), seed=0)
    with torch.no_grad():  # trained-looking norms and biases, not their 1 / 0 init
        for param in earlier.parameters():
            param.add_(0.3 * torch.randn_like(param))
    model = make_transformer(WIDE, seed=1)
    widen(model, earlier, seed=seed)
    return earlier, model


def test_widening_leaves_the_function_unchanged():
    earlier, model = widened()
    with torch.no_grad():
        before, after = earlier(TOKENS), model(TOKENS)
    assert before.abs().max() > 0.1
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)


def test_widened_copies_are_split_at_random_and_new_units_are_silent():
    _, model = widened()
    _, again = widened(seed=1)
    state = model.state_dict()
    q = state["blocks.0.attn.q.weight"]  # [heads * d_head, d_model]: old heads first
    assert not torch.equal(q[:32, :32], q[:32, 32:])  # the two copies read differently
    assert not torch.equal(q, again.state_dict()["blocks.0.attn.q.weight"])  # seeded split
    assert not state["blocks.0.attn.o.weight"][:, 32:].any()  # the new heads write nothing
    assert not state["blocks.1.mlp.out.weight"][:, 64:].any()  # nor do the new neurons
    embed = state["embed.weight"]
    assert torch.equal(embed[:, :32], embed[:, 32:])  # the residual stream is copied


def test_widened_copies_part_under_training():
    _, model = widened()
    model(TOKENS).logsumexp(-1).sum().backward()
    grad = model.get_submodule("blocks.0.attn.o").weight.grad  # [d_model, heads * d_head]
    assert not torch.allclose(grad[:32], grad[32:])


def test_widen_rejects_models_that_do_not_fit():
    earlier = make_transformer(SMALL, seed=0)
    for bad in (
        dataclasses.replace(SMALL, d_model=48, n_heads=6),  # not a multiple of 32
        dataclasses.replace(SMALL, d_model=64),  # heads grow from 8 to 16 dims
        dataclasses.replace(WIDE, d_mlp=64),  # fewer neurons than the 128 of SMALL
        dataclasses.replace(WIDE, n_layers=3),
    ):
        with pytest.raises(ValueError, match="widen needs"):
            widen(make_transformer(bad), earlier)
