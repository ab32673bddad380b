"""A toy indirect-object task and the tools that take its circuit apart (seed problems
3.18, 3.19, 3.22). Used in lesson 16 (toy_ioi).

`BOS X Y Z MID answer`. In the IOI form two names are introduced (X != Y) and one of them
comes back as Z; the answer is the other one, the *indirect object*. In the distractor
form three different names appear and nothing says which one is meant: the answer is any
of them, so a calibrated model gives each about a third.

Importing this module needs torch only; the analysis functions take a TransformerLens
model but never import TransformerLens themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import einops
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from toyhelpers.tasks import Batch, Task, float_setting, int_setting, register

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge

NAMES = (
    "Alice", "Bob", "Carol", "Dan", "Eve", "Frank", "Grace", "Hank", "Ivy", "John",
    "Kate", "Liam", "Mary", "Nick", "Olga", "Paul", "Quinn", "Rose", "Sam", "Tom",
    "Uma", "Vic", "Wendy", "Xena", "Yuri", "Zoe",
)  # fmt: skip

# Positions of the format: BOS X Y Z MID answer.
POS_X, POS_Y, POS_Z, POS_END = 1, 2, 3, 4


@register("toy_ioi")
@dataclass(frozen=True)
class ToyIOI(Task):
    """`BOS X Y Z MID answer`, names from `task.names` (ids 0..n_names-1).

    IOI form: X != Y and Z is X or Y (half each); the answer is the one Z is not.
    Distractor form (`distractor_fraction` of the rows): X, Y, Z distinct, the answer drawn
    uniformly from them. Only the answer is scored. `accuracy` counts the IOI prompts only
    (a distractor prompt has no answer to get right); the `distractor_*` metrics say how
    the probability is spread on the others.
    """

    description = "indirect object: BOS X Y Z MID answer, answer = the name of X, Y that Z is not"

    n_names: int = int_setting(16, 3, len(NAMES))
    distractor_fraction: float = float_setting(0.5, 0.0, 1.0)

    @property
    def names(self) -> list[str]:
        return list(NAMES[: self.n_names])

    @property
    def vocab(self) -> list[str]:
        return self.names + ["BOS", "MID"]

    @property
    def seq_len(self) -> int:
        return 6

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        # Three distinct names per row: the first three of a random permutation.
        names = torch.rand(n, self.n_names, generator=gen, device=device).argsort(dim=-1)[:, :3]
        distractor = torch.rand(n, generator=gen, device=device) < self.distractor_fraction
        coin = torch.randint(0, 2, (n,), generator=gen, device=device)  # IOI: Z is X or Y
        pick = torch.randint(0, 3, (n,), generator=gen, device=device)  # distractor answer
        rows = torch.arange(n, device=device)
        x, y = names[:, 0], names[:, 1]
        z = torch.where(distractor, names[:, 2], torch.where(coin == 0, x, y))
        answer = torch.where(distractor, names[rows, pick], torch.where(coin == 0, y, x))
        bos = torch.full((n,), self.n_names, device=device)
        mid = torch.full((n,), self.n_names + 1, device=device)
        tokens = torch.stack([bos, x, y, z, mid, answer], dim=1).long()
        scored = torch.zeros_like(tokens, dtype=torch.bool)
        scored[:, -1] = True
        return Batch(tokens, scored)

    @staticmethod
    def is_ioi(tokens: Int[Tensor, "batch seq"]) -> Bool[Tensor, " batch"]:
        """True for the IOI rows (Z repeats X or Y), False for the distractor rows."""
        return (tokens[:, POS_Z] == tokens[:, POS_X]) | (tokens[:, POS_Z] == tokens[:, POS_Y])

    @staticmethod
    def io_and_s(
        tokens: Int[Tensor, "batch seq"],
    ) -> tuple[Int[Tensor, " batch"], Int[Tensor, " batch"]]:
        """The indirect object and the subject (the repeated name) of IOI rows."""
        s = tokens[:, POS_Z]
        io = torch.where(tokens[:, POS_X] == s, tokens[:, POS_Y], tokens[:, POS_X])
        return io, s

    @torch.no_grad()
    def metrics(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> dict[str, float]:
        end = logits[:, POS_END].float()
        tokens = batch.tokens
        ioi = self.is_ioi(tokens)
        io, s = self.io_and_s(tokens)
        rows = torch.arange(len(tokens), device=tokens.device)
        result = {
            "loss": torch.nn.functional.cross_entropy(end, tokens[:, -1]).item(),
            "accuracy": (end[ioi].argmax(-1) == io[ioi]).float().mean().item(),
            "logit_diff": (end[rows, io] - end[rows, s])[ioi].mean().item(),
        }
        if (~ioi).any():
            probs = end[~ioi].softmax(-1)
            three = probs.gather(1, tokens[~ioi][:, [POS_X, POS_Y, POS_Z]])  # batch slot
            share = three.mean(0)
            result |= {
                # The mass on the three names, and the smallest slot's average share of it:
                # a calibrated model has about 1 and 1/3.
                "distractor_on_names": three.sum(-1).mean().item(),
                "distractor_min_share": share.min().item(),
                "distractor_max_share": share.max().item(),
                # Per prompt: the least likely of the three names (1/3 when calibrated, 0
                # when the model bets on one of them).
                "distractor_min_prob": three.min(-1).values.mean().item(),
            }
        return result


# -- analysis: lesson 16's measurements ----------------------------------------------------


def logit_diff(
    logits: Float[Tensor, "batch seq d_vocab"], tokens: Int[Tensor, "batch seq"]
) -> Float[Tensor, " batch"]:
    """logit(IO) - logit(S) at the MID position, per IOI prompt."""
    io, s = ToyIOI.io_and_s(tokens)
    end = logits[:, POS_END]
    return end.gather(-1, io[:, None]).squeeze(-1) - end.gather(-1, s[:, None]).squeeze(-1)


def abc_corruption(
    tokens: Int[Tensor, "batch seq"], n_names: int, seed: int = 0
) -> Int[Tensor, "batch seq"]:
    """The same prompts with Z replaced by a third name, C, different from X and Y: the
    IOI paper's "ABC" corruption. The corrupted prompt is a distractor prompt, so it keeps
    every name of the clean one in place but says nothing about which one is repeated."""
    gen = torch.Generator().manual_seed(seed)
    n = len(tokens)
    # A random offset from X's id that avoids X and Y: draw among the n_names - 2 others.
    draw = torch.randint(0, n_names - 2, (n,), generator=gen).to(tokens.device)
    lo = torch.minimum(tokens[:, POS_X], tokens[:, POS_Y])
    hi = torch.maximum(tokens[:, POS_X], tokens[:, POS_Y])
    c = draw + (draw >= lo).long()
    c = c + (c >= hi).long()
    out = tokens.clone()
    out[:, POS_Z] = c
    return out


def flip_subject(tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, "batch seq"]:
    """IOI prompts with Z switched to the other name: the same names, the answer swapped.

    The corrupted prompt differs from the clean one in one token, so a patch from it
    carries exactly "which name is repeated" and nothing else."""
    io, s = ToyIOI.io_and_s(tokens)
    out = tokens.clone()
    out[:, POS_Z] = io
    if out.shape[1] > POS_END + 1:
        out[:, POS_END + 1] = s
    return out


def patching_metric(
    logit_diffs: Float[Tensor, " batch"], clean: float, corrupt: float
) -> Float[Tensor, ""]:
    """Mean logit difference, rescaled so the clean run scores 1 and the corrupted run 0."""
    return (logit_diffs.mean() - corrupt) / (clean - corrupt)


def head_output_patching(
    model: TransformerBridge,
    clean: Int[Tensor, "batch seq"],
    corrupt: Int[Tensor, "batch seq"],
    position: int | None = None,
) -> Float[Tensor, "layer head"]:
    """Activation patching of each head's output (`hook_z`), corrupt -> clean: each head in
    turn takes its corrupted value (at `position`, or everywhere) in the clean run; the
    clean logit difference's loss, as a fraction of the whole clean-corrupt gap (1: patching
    this head alone undoes the answer; 0: it changes nothing)."""
    with torch.no_grad():
        clean_ld = logit_diff(model(clean), clean).mean().item()
        _, cache = model.run_with_cache(corrupt, names_filter=lambda n: n.endswith("hook_z"))
        corrupt_ld = logit_diff(model(corrupt), clean).mean().item()
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    result = torch.zeros(n_layers, n_heads)
    for layer in range(n_layers):
        for head in range(n_heads):
            hook = patch_head_hook(cache[f"blocks.{layer}.attn.hook_z"], head, position)
            with torch.no_grad():
                logits = model.run_with_hooks(
                    clean, fwd_hooks=[(f"blocks.{layer}.attn.hook_z", hook)]
                )
            ld = logit_diff(logits, clean).mean().item()
            result[layer, head] = (clean_ld - ld) / (clean_ld - corrupt_ld)
    return result


def patch_head_hook(
    source: Float[Tensor, "batch pos head d_head"], head: int, position: int | None = None
) -> Callable[[Tensor, Any], Tensor]:
    """A hook on `blocks.{l}.attn.hook_z` that gives head `head` its value from `source`
    (the same hook point, cached on other prompts) at `position`, or at every position
    when it is None; every other head and position keeps its own value."""

    def hook(z: Float[Tensor, "batch pos head d_head"], hook: Any) -> Tensor:
        z = z.clone()
        where = slice(None) if position is None else position
        z[:, where, head] = source[:, where, head].to(z.device, z.dtype)
        return z

    return hook


def path_patching_to_logits(
    model: TransformerBridge,
    clean: Int[Tensor, "batch seq"],
    corrupt: Int[Tensor, "batch seq"],
) -> Float[Tensor, "layer head"]:
    """Path patching sender -> logits: each head's *direct* contribution to the residual
    stream at MID is swapped for its corrupted one, every other path left clean. The drop
    in logit difference as a fraction of the clean-corrupt gap. Because the unembedding is
    linear (no final LayerNorm here), this is the difference of the head's direct logit
    attributions on the two prompts."""
    with torch.no_grad():
        clean_logits, clean_cache = model.run_with_cache(clean)
        corrupt_logits, corrupt_cache = model.run_with_cache(corrupt)
    gap = (logit_diff(clean_logits, clean) - logit_diff(corrupt_logits, clean)).mean()
    io, s = ToyIOI.io_and_s(clean)
    direction = (model.W_U[:, io] - model.W_U[:, s]).T  # batch d_model
    result = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)
    for layer in range(model.cfg.n_layers):
        per_head = []
        for cache in (clean_cache, corrupt_cache):
            z = cache[f"blocks.{layer}.attn.hook_z"][:, POS_END]  # batch head d_head
            out = einops.einsum(
                z, model.W_O[layer], "batch head d_head, head d_head d_model -> batch head d_model"
            )
            per_head.append(einops.einsum(out, direction, "batch head d, batch d -> batch head"))
        result[layer] = ((per_head[0] - per_head[1]).mean(0) / gap).detach().cpu()
    return result


def path_patching_to_heads(
    model: TransformerBridge,
    clean: Int[Tensor, "batch seq"],
    corrupt: Int[Tensor, "batch seq"],
    receivers: Sequence[tuple[int, int]],
    receiver_input: str = "q",
    position: int = POS_END,
) -> Float[Tensor, "layer head"]:
    """Path patching sender -> receivers: for each earlier head (the sender), the clean run
    in which the receivers' `receiver_input` ("q", "k" or "v") at `position` reads the
    sender's corrupted output instead of its clean one (all else clean, the receivers'
    outputs then flow on freely). The drop in logit difference as a fraction of the
    clean-corrupt gap."""
    if receiver_input not in ("q", "k", "v"):
        raise ValueError(f"receiver_input must be 'q', 'k' or 'v', got {receiver_input!r}")
    with torch.no_grad():
        clean_logits, clean_cache = model.run_with_cache(clean)
        corrupt_logits, corrupt_cache = model.run_with_cache(corrupt)
    clean_ld = logit_diff(clean_logits, clean).mean().item()
    gap = clean_ld - logit_diff(corrupt_logits, clean).mean().item()
    first = min(layer for layer, _ in receivers)
    result = torch.full((model.cfg.n_layers, model.cfg.n_heads), float("nan"))
    for layer in range(first):
        for head in range(model.cfg.n_heads):
            name = f"blocks.{layer}.attn.hook_z"
            delta = einops.einsum(
                corrupt_cache[name][:, :, head] - clean_cache[name][:, :, head],
                model.W_O[layer, head],
                "batch pos d_head, d_head d_model -> batch pos d_model",
            )
            hooks = [
                (f"blocks.{r_layer}.attn.hook_{receiver_input}", _add_to_input(
                    delta, model, r_layer, r_head, receiver_input, position))
                for r_layer, r_head in receivers
            ]  # fmt: skip
            with torch.no_grad():
                logits = model.run_with_hooks(clean, fwd_hooks=hooks)
            result[layer, head] = (clean_ld - logit_diff(logits, clean).mean().item()) / gap
    return result


def _add_to_input(
    delta: Float[Tensor, "batch pos d_model"],
    model: TransformerBridge,
    layer: int,
    head: int,
    which: str,
    position: int,
) -> Callable[[Tensor, Any], Tensor]:
    weight = {"q": model.W_Q, "k": model.W_K, "v": model.W_V}[which][layer, head].detach()
    return add_to_input_hook(delta, weight, head, position)


def add_to_input_hook(
    delta: Float[Tensor, "batch pos d_model"],
    weight: Float[Tensor, "d_model d_head"],
    head: int,
    position: int,
) -> Callable[[Tensor, Any], Tensor]:
    """A hook on `hook_q`, `hook_k` or `hook_v` of a receiver head: adds what a change
    `delta` of the residual stream would add to that head's input at `position` only.
    Queries, keys and values are linear in the residual stream (no LayerNorm), so that is
    `delta @ weight`; the bias is already in the clean value."""
    change = (delta[:, position] @ weight).detach()  # batch d_head

    def hook(x: Float[Tensor, "batch pos head d_head"], hook: Any) -> Tensor:
        x = x.clone()
        x[:, position, head] += change.to(x.device, x.dtype)
        return x

    return hook


def attention_to(
    pattern: Float[Tensor, "batch head query key"],
    tokens: Int[Tensor, "batch seq"],
    role: str,
    query: int = POS_END,
) -> Float[Tensor, " head"]:
    """Mean attention from `query` to the position of `role` on IOI prompts: "io", "s1" (the
    first mention of the repeated name), "s2" (its repeat, Z) or "bos"."""
    ioi = ToyIOI.is_ioi(tokens)
    pattern, tokens = pattern[ioi], tokens[ioi]
    s_at_x = tokens[:, POS_X] == tokens[:, POS_Z]
    keys = {
        "io": torch.where(s_at_x, POS_Y, POS_X),
        "s1": torch.where(s_at_x, POS_X, POS_Y),
        "s2": torch.full_like(s_at_x, POS_Z, dtype=torch.long),
        "bos": torch.zeros_like(s_at_x, dtype=torch.long),
    }
    if role not in keys:
        raise ValueError(f"role must be one of {', '.join(keys)}, got {role!r}")
    key = einops.repeat(keys[role], "batch -> batch head 1", head=pattern.shape[1])
    return pattern[:, :, query].gather(-1, key).squeeze(-1).mean(0)


def duplicate_token_score(
    pattern: Float[Tensor, "batch head query key"], tokens: Int[Tensor, "batch seq"]
) -> Float[Tensor, " head"]:
    """Mean attention from Z to the earlier mention of the same name (S1), over the IOI
    prompts: the score of a duplicate-token head."""
    return attention_to(pattern, tokens, "s1", query=POS_Z)


def name_copy_score(
    model: TransformerBridge, layer: int, head: int, n_names: int
) -> Float[Tensor, ""]:
    """How much a head, attending to a name, raises that name's logit above the other
    names': the full OV circuit W_E W_V W_O W_U on the names block, its diagonal minus the
    mean of the rest of each row, averaged over names. Positive for a name mover, negative
    for a negative name mover, near 0 for a head that moves no name."""
    from toyhelpers.analysis import full_ov_circuit  # imports TransformerLens

    ov = full_ov_circuit(model, layer, head)[:n_names, :n_names]
    own = ov.diagonal()
    others = (ov.sum(-1) - own) / (n_names - 1)
    return (own - others).mean()


def previous_token_score(pattern: Float[Tensor, "batch head query key"]) -> Float[Tensor, " head"]:
    """Mean attention from Y and Z to the token just before them (X and Y)."""
    return pattern.diagonal(offset=-1, dim1=-2, dim2=-1)[:, :, POS_X:POS_Z].mean(dim=(0, 2))


def head_scores(
    model: TransformerBridge, task: ToyIOI, tokens: Int[Tensor, "batch seq"], seed: int = 0
) -> dict[str, Float[Tensor, "layer head"]]:
    """Every per-head number lesson 16 classifies heads by, on the IOI rows of `tokens`
    with the ABC corruption: attention from MID to IO, S1 and S2, the duplicate-token and
    previous-token scores, the name-copy score, activation patching of each head's output
    (everywhere) and its direct effect on the logits (path patching head -> logits)."""
    n_names = task.n_names
    clean = tokens[ToyIOI.is_ioi(tokens)]
    corrupt = abc_corruption(clean, n_names, seed=seed)
    with torch.no_grad():
        _, cache = model.run_with_cache(clean, names_filter=lambda n: n.endswith("hook_pattern"))
    patterns = [cache[f"blocks.{layer}.attn.hook_pattern"] for layer in range(model.cfg.n_layers)]
    per_layer = {
        "end_to_io": [attention_to(p, clean, "io") for p in patterns],
        "end_to_s1": [attention_to(p, clean, "s1") for p in patterns],
        "end_to_s2": [attention_to(p, clean, "s2") for p in patterns],
        "duplicate_token": [duplicate_token_score(p, clean) for p in patterns],
        "previous_token": [previous_token_score(p) for p in patterns],
    }
    scores = {name: torch.stack(rows).cpu() for name, rows in per_layer.items()}
    heads = range(model.cfg.n_heads)
    scores["copy"] = torch.tensor(
        [
            [name_copy_score(model, layer, head, n_names).item() for head in heads]
            for layer in range(model.cfg.n_layers)
        ]
    )
    scores["patching"] = head_output_patching(model, clean, corrupt)
    scores["direct"] = path_patching_to_logits(model, clean, corrupt)
    return scores


def toy_ioi_variants() -> dict[str, Any]:
    """Lesson 16's sweep: the recipe's training (shortened) for other seeds, fewer layers,
    fewer heads and MLPs, each model then measured and its heads scored (`head_scores`)."""
    from toyhelpers.evaluation import evaluate
    from toyhelpers.models import n_params
    from toyhelpers.recipes import get_recipe
    from toyhelpers.training import train

    recipe = get_recipe("toy_ioi")
    base = dict(recipe.model)
    variants = [
        ("3L attn-only", base, seed) for seed in (1, 2)
    ] + [
        ("2L attn-only", dict(base, n_layers=2), 0),
        ("1L attn-only", dict(base, n_layers=1), 0),
        ("1L 2 heads", dict(base, n_layers=1, n_heads=2), 0),
        ("1L with MLP", dict(base, n_layers=1, attn_only=False), 0),
        ("3L with MLPs", dict(base, attn_only=False), 0),
    ]  # fmt: skip
    rows = []
    for name, arch, seed in variants:
        run = recipe.build(seed=seed, arch=arch, steps=VARIANT_STEPS, eval_every=500)
        result = train(run.model, run.task, run.config, progress=False)
        run.model.eval()
        metrics = evaluate(run.model, run.task, n=4_000, seed=123)
        tokens = run.task.generate(2_000, seed=321).tokens
        dis = tokens[~ToyIOI.is_ioi(tokens)]
        with torch.no_grad():
            probs = run.model(dis)[:, POS_END].softmax(-1)
        slots = probs.gather(1, dis[:, [POS_X, POS_Y, POS_Z]]).mean(0)
        scores = head_scores(run.model, run.task, tokens)
        row = {
            "variant": name,
            "seed": seed,
            **{k: v for k, v in arch.items() if k in ("n_layers", "n_heads", "attn_only")},
            "n_params": n_params(run.model),
            "seconds": round(result.seconds, 1),
            **{k: round(v, 4) for k, v in metrics.items()},
            "distractor_share_xyz": [round(v, 4) for v in slots.tolist()],
            "heads": {k: [[round(x, 3) for x in r] for r in v.tolist()] for k, v in scores.items()},
        }
        rows.append(row)
        print({k: v for k, v in row.items() if k != "heads"}, flush=True)
    return {"recipe": "toy_ioi", "steps": VARIANT_STEPS, "rows": rows}


# Each variant trains this many steps (the recipe: 8,000): 1,751 s for all seven
# on one busy CPU thread; enough to show which architectures reach the IOI target.
VARIANT_STEPS = 3_000
