"""Lesson 18's tools for taking a code-tracing model apart: programs whose root value is
changed, and activation patching of the residual stream and of each head's output.

Used in lesson 18 (code_tracing). The analysis functions take a TransformerLens model but
never import TransformerLens themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from jaxtyping import Float, Int
from torch import Tensor

from toyhelpers.analysis import patch_positions_hook
from toyhelpers.families.attention.ioi import patch_head_hook
from toyhelpers.families.programs.tasks import CodeTrace, chains

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge

# Where each part of a depth-2 chain sits, as a function of its two lines (root r, copy s)
# and the program length: the positions residual patching is measured at.
ROLES = (
    "root value",  # the digit of `x = 7`
    "root ;",
    "copy target",  # y in `y = x`
    "copy =",
    "copy value",  # x in `y = x`
    "copy ;",
    "?",
    "query",  # the queried variable: its logits give the answer
)


def role_positions(task: CodeTrace, tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, "batch role"]:
    """The position of each of `ROLES` in each program; the programs must have depth 2."""
    _, lines = chains(tokens)
    if any(len(chain) != 2 for chain in lines):
        raise ValueError("role_positions takes programs whose chain has depth 2")
    root, copy = (torch.tensor([chain[k] for chain in lines]) for k in (0, 1))
    q = torch.full_like(root, task.query_pos)
    base = 4 * root, 4 * copy
    return torch.stack(
        [base[0] + 3, base[0] + 4, base[1] + 1, base[1] + 2, base[1] + 3, base[1] + 4, q - 1, q],
        dim=1,
    ).to(tokens.device)


def change_root(
    task: CodeTrace, tokens: Int[Tensor, "batch seq"], seed: int = 0
) -> Int[Tensor, "batch seq"]:
    """The same programs with the root's digit replaced by another digit (drawn uniformly
    from the nine others), and the answer with it: a corruption that changes the value
    flowing down the chain and nothing else."""
    _, lines = chains(tokens.cpu())
    pos = torch.tensor([CodeTrace.value_pos(chain[0]) for chain in lines], device=tokens.device)
    rows = torch.arange(len(tokens), device=tokens.device)
    gen = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, 10, (len(tokens),), generator=gen).to(tokens.device)
    out = tokens.clone()
    out[rows, pos] = (tokens[rows, pos] + shift) % 10
    out[:, -1] = out[rows, pos]
    return out


def answers(model: TransformerBridge, tokens: Int[Tensor, "batch seq"], hooks=()) -> Tensor:
    """The digit the model answers for each program (argmax at the query position)."""
    with torch.no_grad():
        logits = model.run_with_hooks(tokens, fwd_hooks=list(hooks))
    return logits[:, model.task.query_pos].argmax(-1)


def resid_patching(
    model: TransformerBridge,
    clean: Int[Tensor, "batch seq"],
    corrupt: Int[Tensor, "batch seq"],
    positions: Int[Tensor, "batch role"],
) -> Float[Tensor, "layer role"]:
    """For each layer's input (`hook_resid_pre`, and the last layer's output as one more
    row) and each role, the fraction of programs whose answer becomes the corrupted one
    when the residual stream there, at that role's position, comes from the corrupted
    run."""
    n_layers = model.cfg.n_layers
    names = [f"blocks.{layer}.hook_resid_pre" for layer in range(n_layers)]
    names.append(f"blocks.{n_layers - 1}.hook_resid_post")
    with torch.no_grad():
        _, cache = model.run_with_cache(corrupt, names_filter=lambda n: n in names)
    result = torch.zeros(len(names), positions.shape[1])
    for i, name in enumerate(names):
        for role in range(positions.shape[1]):
            hook = patch_positions_hook(cache[name], positions[:, role])
            got = answers(model, clean, [(name, hook)])
            result[i, role] = (got == corrupt[:, -1]).float().mean()
    return result


def head_patching(
    model: TransformerBridge, clean: Int[Tensor, "batch seq"], corrupt: Int[Tensor, "batch seq"]
) -> Float[Tensor, "layer head"]:
    """The fraction of programs whose answer becomes the corrupted one when one head's
    output (`hook_z`, every position) comes from the corrupted run, each head in turn."""
    with torch.no_grad():
        _, cache = model.run_with_cache(corrupt, names_filter=lambda n: n.endswith("hook_z"))
    result = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)
    for layer in range(model.cfg.n_layers):
        name = f"blocks.{layer}.attn.hook_z"
        for head in range(model.cfg.n_heads):
            got = answers(model, clean, [(name, patch_head_hook(cache[name], head))])
            result[layer, head] = (got == corrupt[:, -1]).float().mean()
    return result
