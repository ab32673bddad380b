"""Linear probes for the board state of an Othello model, and interventions with them.

Conventions used throughout:

- **Positions.** Token `p` (1-based) of a sequence is move `p`, so the residual stream at
  position `p` has seen moves 1..p and is probed for the board *after* move `p`, which is
  `games.boards[:, p - 1]`. The logits there predict move `p + 1`, whose legal squares
  are `games.legal[:, p]`. Probing data therefore has one row per move actually played,
  in the order of `games.mover != 0` (row-major over games, then moves).
- **Layers.** Layer `0` is the residual stream entering block 0 (token plus positional
  embedding, `blocks.0.hook_resid_pre`); layer `l >= 1` is the stream after `l` blocks
  (`blocks.{l-1}.hook_resid_post`). So layers run from 0 to `n_layers`.
- **Frames.** A probe predicts one class per square. `"mine_theirs"`: 0 empty, 1 a stone of
  the player who just moved (`games.mover`), 2 a stone of the other player. Without a
  pass, the player who just moved is the one *not* about to move, so classes 1 and 2 are
  swapped relative to Nanda et al.'s "mine = the player to move". `"black_white"`: 0 empty,
  1 black, 2 white. `"flipped"`: 1 if the stone on the square changed colour with this
  move, else 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from toyhelpers.families.othello.engine import Games, initial_board, legal_moves

if TYPE_CHECKING:  # the task module imports this package's engine: no runtime import here
    from toyhelpers.families.othello.tasks import Othello

Frame = Literal["mine_theirs", "black_white", "flipped"]
CLASSES: dict[str, tuple[str, ...]] = {
    "mine_theirs": ("empty", "mine", "theirs"),
    "black_white": ("empty", "black", "white"),
    "flipped": ("not flipped", "flipped"),
}
IGNORE = -1  # the label of positions after a game's end
EditFn = Callable[[Float[Tensor, "batch d_model"], int], Float[Tensor, "batch d_model"]]


# -- labels ------------------------------------------------------------------------------


def board_labels(games: Games, frame: Frame = "mine_theirs") -> Int[Tensor, "n T square"]:
    """The class of every square after every move, in `frame` (see the module docstring).

    Entries after a game's end are `IGNORE` (-1); `labels[games.mover != 0]` gives one row
    per move played, aligned with `collect_residuals`.
    """
    if games.boards is None:
        raise ValueError("board_labels needs the boards: simulate(..., record=True)")
    n, T, size, _ = games.boards.shape
    boards = games.boards.flatten(2).long()  # [n, T, square], 1 black / -1 white / 0 empty
    played = games.mover != 0
    if frame == "black_white":
        labels = torch.where(boards == 1, 1, torch.where(boards == -1, 2, 0))
    elif frame == "mine_theirs":
        mover = games.mover.long()[..., None]
        labels = torch.where(boards == 0, 0, torch.where(boards == mover, 1, 2))
    elif frame == "flipped":
        start = initial_board(size).to(boards.device).flatten().long().expand(n, 1, -1)
        before = torch.cat([start, boards[:, :-1]], dim=1)
        labels = ((before != 0) & (before != boards)).long()
    else:
        raise ValueError(f"frame must be one of {', '.join(CLASSES)}, got {frame!r}")
    return labels.masked_fill(~played[..., None], IGNORE)


# -- activations -------------------------------------------------------------------------


def hook_name(layer: int) -> str:
    """The hook holding the residual stream at `layer` (0 = embeddings, l = after l blocks)."""
    if layer < 0:
        raise ValueError(f"layer must be >= 0, got {layer}")
    return "blocks.0.hook_resid_pre" if layer == 0 else f"blocks.{layer - 1}.hook_resid_post"


@torch.no_grad()
def collect_residuals(
    model: TransformerBridge,
    task: Othello,
    games: Games,
    layers: Sequence[int],
    batch_size: int = 500,
) -> Float[Tensor, "layer rows d_model"]:
    """The residual stream at `layers` for every move played, one row per `games.mover != 0`.

    Row order matches `board_labels(games, ...)[games.mover != 0]`: the stream at token
    position `p` sits next to the board after move `p`. START and PAD positions are left out.
    """
    names = [hook_name(layer) for layer in layers]
    played = games.mover != 0
    tokens = task.from_moves(games.moves, games.legal).tokens
    device = next(model.parameters()).device
    out = []
    for i in range(0, tokens.shape[0], batch_size):
        _, cache = model.run_with_cache(
            tokens[i : i + batch_size].to(device), names_filter=lambda name: name in names
        )
        mask = played[i : i + batch_size].to(device)
        out.append(torch.stack([cache[name][:, 1:][mask] for name in names]).cpu())
    return torch.cat(out, dim=1)


# -- probes ------------------------------------------------------------------------------


@dataclass
class Probe:
    """One multinomial linear probe per square: `logits = x @ weight[:, square] + bias[square]`.

    Works on raw residual vectors (no normalisation is needed at use time).
    """

    weight: Float[Tensor, "d_model square cls"]
    bias: Float[Tensor, "square cls"]
    layer: int | None = None
    frame: str = ""

    def logits(self, X: Float[Tensor, "... d_model"]) -> Float[Tensor, "... square cls"]:
        return torch.einsum("...d,dsc->...sc", X, self.weight) + self.bias

    def predict(self, X: Float[Tensor, "... d_model"]) -> Int[Tensor, "... square"]:
        return self.logits(X).argmax(-1)

    def accuracy(
        self,
        X: Float[Tensor, "rows d_model"],
        y: Int[Tensor, "rows square"],
        where: Bool[Tensor, "rows square"] | None = None,
    ) -> tuple[float, Float[Tensor, " square"]]:
        """(mean accuracy, accuracy per square) over labelled entries, restricted to `where`.

        Squares with nothing to score get NaN in the per-square result.
        """
        keep = y != IGNORE if where is None else (y != IGNORE) & where
        right = (self.predict(X) == y) & keep
        per_square = right.sum(0) / keep.sum(0)  # NaN where a square has no scored entry
        return (right.sum() / keep.sum()).item(), per_square

    def direction(
        self, square: int, cls: int, versus: int | None = None
    ) -> Float[Tensor, " d_model"]:
        """Unit vector raising class `cls` at `square`; against class `versus` if given.

        `direction(sq, 1, versus=2)` is the mine-minus-theirs (or black-minus-white)
        direction: the direction along which the probe's 1-vs-2 margin grows fastest.
        """
        w = self.weight[:, square, cls]
        if versus is not None:
            w = w - self.weight[:, square, versus]
        return w / w.norm()

    def to(self, device: torch.device | str) -> Probe:
        return Probe(self.weight.to(device), self.bias.to(device), self.layer, self.frame)


def fit_probe(
    X: Float[Tensor, "rows d_model"],
    y: Int[Tensor, "rows square"],
    n_classes: int,
    *,
    weight_decay: float = 1e-3,
    max_iter: int = 200,
    layer: int | None = None,
    frame: str = "",
) -> Probe:
    """Fit every square's probe at once, full batch with L-BFGS (deterministic: zero init).

    Minimises the mean cross-entropy over labelled entries (`y == -1` is ignored) plus
    `weight_decay * |W|^2 / squares`, i.e. an L2 penalty of `weight_decay` for each square's
    own problem. X is centred and divided by one overall scale while fitting (so
    `weight_decay` means the same at every layer); the returned probe applies to raw X.
    """
    X = X.float()
    mean = X.mean(0)
    scale = (X - mean).pow(2).mean().sqrt().clamp(min=1e-8)
    Xs = (X - mean) / scale
    n_squares = y.shape[1]
    W = torch.zeros(X.shape[1], n_squares, n_classes, requires_grad=True)
    b = torch.zeros(n_squares, n_classes, requires_grad=True)
    keep = y != IGNORE
    target = y.clamp(min=0)
    opt = torch.optim.LBFGS(
        [W, b], lr=1, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        opt.zero_grad()
        logits = torch.einsum("nd,dsc->nsc", Xs, W) + b
        ce = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), target.flatten(), reduction="none"
        )
        loss = (ce * keep.flatten()).sum() / keep.sum() + weight_decay * W.pow(2).sum() / n_squares
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        weight = W / scale
        bias = b - torch.einsum("d,dsc->sc", mean, weight)
    return Probe(weight.detach(), bias.detach(), layer, frame)


# -- interventions -----------------------------------------------------------------------


def edit_residual(
    resid: Float[Tensor, "batch d_model"],
    probe: Probe,
    square: int | Int[Tensor, " batch"],
    target: int | Int[Tensor, " batch"],
    scale: float = 1.0,
    source: int | Int[Tensor, " batch"] | None = None,
) -> Float[Tensor, "batch d_model"]:
    """Move `resid` along the probe's target-minus-source direction until the probe's
    target-vs-source logit margin `m` becomes `scale * |m|` (the target wins by that much).

    With `d = w_target - w_source` and margin `m = d . x + b_target - b_source` (negative while
    the probe prefers the source), the edit is `x + (scale * |m| - m) / |d|^2 * d`. With
    `scale=1` this reflects `x` through the probe's source/target boundary: for a
    mine<->theirs flip it is a reflection along the mine-minus-theirs direction, leaving
    every orthogonal component untouched. `source` defaults to the class the probe reads
    now; rows where it already reads `target` are left alone. A third class (say empty)
    may still outscore the target afterwards: check with `probe.predict`.
    """
    n = resid.shape[0]
    square = torch.as_tensor(square, device=resid.device).expand(n)
    target = torch.as_tensor(target, device=resid.device).expand(n)
    rows = torch.arange(n, device=resid.device)
    logits = probe.logits(resid)[rows, square]  # [batch, cls]
    if source is None:
        source = logits.argmax(-1)
    source = torch.as_tensor(source, device=resid.device).expand(n)
    d = probe.weight[:, square, target].T - probe.weight[:, square, source].T  # [batch, d_model]
    m = logits[rows, target] - logits[rows, source]
    step = (scale * m.abs() - m) / d.pow(2).sum(-1).clamp(min=1e-12)
    step = torch.where(target == source, 0.0, step)
    return resid + step[:, None] * d


@torch.no_grad()
def intervene(
    model: TransformerBridge,
    tokens: Int[Tensor, "batch seq"],
    layers: int | Sequence[int],
    position: int | Int[Tensor, " batch"],
    edit: EditFn,
) -> Float[Tensor, "batch seq d_vocab"]:
    """Logits with the residual stream edited at one position (per row) at each of `layers`.

    `edit(resid, layer)` gets the `[batch, d_model]` vectors at `position` and returns their
    replacements; every other position is left as it is at that hook (later positions still
    change through attention to the edited one, earlier ones cannot). Layers are indexed as
    in `hook_name`; each edit sees the stream as already changed by edits at earlier layers.
    """
    layers = [layers] if isinstance(layers, int) else list(layers)
    rows = torch.arange(tokens.shape[0], device=tokens.device)
    position = torch.as_tensor(position, device=tokens.device).expand(tokens.shape[0])

    def hook_for(layer: int) -> Callable[[Tensor, object], Tensor]:
        def hook(resid: Float[Tensor, "batch seq d_model"], hook: object) -> Tensor:
            resid = resid.clone()
            resid[rows, position] = edit(resid[rows, position], layer)
            return resid

        return hook

    hooks = [(hook_name(layer), hook_for(layer)) for layer in layers]
    return model.run_with_hooks(tokens, fwd_hooks=hooks)


@dataclass
class InterventionResult:
    """How a set of board edits moved the model's predicted legal moves (see
    `intervention_success` for the criterion). Per-case tensors are indexed by case."""

    success_rate: float
    null_success_rate: float
    exact_rate: float
    errors_edited: float
    errors_unedited: float
    baseline_exact_rate: float
    game: Int[Tensor, " case"]
    position: Int[Tensor, " case"]
    square: Int[Tensor, " case"]
    success: Bool[Tensor, " case"]
    predicted: Bool[Tensor, "case square"]  # the edited model's top-k squares
    legal_edited: Bool[Tensor, "case square"]
    legal_original: Bool[Tensor, "case square"]


def flip_cases(
    games: Games, n_cases: int, seed: int = 0
) -> tuple[
    Int[Tensor, " case"], Int[Tensor, " case"], Int[Tensor, " case"], Bool[Tensor, "case square"]
]:
    """Random (game, position, square) cases where flipping that stone's colour changes the
    legal moves of the player about to move (who must still have a move after the flip).

    Returns up to `n_cases` cases (fewer if fewer exist): game indices, token positions `p`
    (board after move `p`; a move `p + 1` exists), squares, and the legal squares on each
    edited board.
    """
    if games.boards is None or games.legal is None:
        raise ValueError("flip_cases needs boards and legal sets: simulate(..., record=True)")
    n, T = games.mover.shape
    # Position p = t + 1 is probed on boards[:, t]; the next mover is mover[:, t + 1].
    boards = games.boards[:, :-1].flatten(0, 1).flatten(1)  # [n*(T-1), square]
    nxt = games.mover[:, 1:].flatten()
    original = games.legal[:, 1:].flatten(0, 1)
    size = games.boards.shape[-1]
    found: list[Tensor] = []
    for sq in range(size * size):
        edited = boards.clone()
        edited[:, sq] = -edited[:, sq]
        legal = legal_moves(edited.view(-1, size, size), nxt)
        ok = (nxt != 0) & (boards[:, sq] != 0) & (legal != original).any(-1) & legal.any(-1)
        idx = ok.nonzero().squeeze(-1)
        found.append(torch.stack([idx, torch.full_like(idx, sq)], dim=-1))
    cands = torch.cat(found)
    gen = torch.Generator().manual_seed(seed)
    pick = cands[torch.randperm(len(cands), generator=gen)[:n_cases]]
    flat, square = pick[:, 0], pick[:, 1]
    edited = boards[flat].clone()
    edited[torch.arange(len(flat)), square] *= -1
    legal = legal_moves(edited.view(-1, size, size), nxt[flat])
    return flat // (T - 1), flat % (T - 1) + 1, square, legal


def intervention_success(
    model: TransformerBridge,
    task: Othello,
    games: Games,
    probes: Probe | Sequence[Probe],
    n_cases: int = 500,
    scale: float = 1.0,
    seed: int = 0,
) -> InterventionResult:
    """Flip one stone's colour in the model's head and test whether its moves follow.

    For each case from `flip_cases`, every probe in `probes` (each at its own `layer`, all
    in the same frame, "mine_theirs" or "black_white") edits the stream at position `p` with
    `edit_residual(..., source=true class, target=the other colour, scale)`. The model's
    predicted legal set is its top-k squares at `p`, with k the number of legal moves on
    the edited board. A case succeeds when that set is closer (smaller symmetric
    difference) to the edited board's legal set than to the original board's.

    The criterion can pass with no effect at all (when the flip only removes legal moves,
    the unedited model passes if it happens to rank the removed ones last), so
    `null_success_rate` applies it to the unedited logits: compare against that. Also:
    `exact_rate`, how often the top-k set equals the edited legal set; `errors_edited` and
    `errors_unedited`, the mean symmetric difference to the edited legal set with and
    without the edit (Nanda et al.'s comparison); `baseline_exact_rate`, how
    often the unedited model's top-|original| set is exactly the original legal set.
    """
    probes = [probes] if isinstance(probes, Probe) else list(probes)
    frames = {p.frame for p in probes}
    if len(frames) != 1 or frames.pop() not in ("mine_theirs", "black_white"):
        raise ValueError("probes must share one frame, 'mine_theirs' or 'black_white'")
    if any(p.layer is None for p in probes):
        raise ValueError("every probe needs its `layer` to say where it edits")
    game, position, square, legal_new = flip_cases(games, n_cases, seed)
    legal_old = games.legal[game, position]
    source = board_labels(games, probes[0].frame)[game, position - 1, square]
    target = 3 - source
    device = next(model.parameters()).device
    tokens = task.from_moves(games.moves[game], games.legal[game]).tokens.to(device)
    square, target, source = square.to(device), target.to(device), source.to(device)
    by_layer = {p.layer: p.to(device) for p in probes}

    def edit(resid: Tensor, layer: int) -> Tensor:
        return edit_residual(resid, by_layer[layer], square, target, scale, source=source)

    rows, at, sq = torch.arange(len(game), device=device), position.to(device), task.n_squares
    with torch.no_grad():
        clean = model(tokens)[rows, at, :sq].cpu()
    edited = intervene(model, tokens, list(by_layer), at, edit)[rows, at, :sq].cpu()

    def top(logits: Tensor, k: Tensor) -> Tensor:
        ranks = logits.argsort(-1, descending=True).argsort(-1)
        return ranks < k[:, None]

    k_new, k_old = legal_new.sum(-1), legal_old.sum(-1)
    pred = top(edited, k_new)
    errors_new = (pred != legal_new).sum(-1)
    errors_old = (pred != legal_old).sum(-1)
    success = errors_new < errors_old
    null = top(clean, k_new)
    null_success = (null != legal_new).sum(-1) < (null != legal_old).sum(-1)
    return InterventionResult(
        success_rate=success.float().mean().item(),
        null_success_rate=null_success.float().mean().item(),
        exact_rate=(errors_new == 0).float().mean().item(),
        errors_edited=errors_new.float().mean().item(),
        errors_unedited=(null != legal_new).sum(-1).float().mean().item(),
        baseline_exact_rate=(top(clean, k_old) == legal_old).all(-1).float().mean().item(),
        game=game,
        position=position,
        square=square.cpu(),
        success=success,
        predicted=pred,
        legal_edited=legal_new,
        legal_original=legal_old,
    )
