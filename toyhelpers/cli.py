"""The `toyhelpers` command: list tasks, train and evaluate models, check a notebook."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

USAGE_EXAMPLES = """examples:
  toyhelpers list
  toyhelpers train sort_fixed --fast
  toyhelpers train sort_fixed --out runs/sort_fixed --resume
  toyhelpers eval sort_fixed --json
  toyhelpers check notebooks/01_sort_fixed.ipynb
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toyhelpers",
        description=__doc__,
        epilog=USAGE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("list", help="list the tasks, their recipes and shipped checkpoints")

    train = sub.add_parser("train", help="train the documented model for a task")
    train.add_argument("name", help="task name (see `toyhelpers list`)")
    train.add_argument("--fast", action="store_true", help="a short run, for trying things out")
    train.add_argument("--device", default=None, help="auto (default), cpu, cuda or mps")
    train.add_argument("--out", default=None, help="output folder (default: runs/NAME)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    train.add_argument("--steps", type=int, default=None, help="override the number of steps")
    train.add_argument("--seed", type=int, default=None, help="override the seed")
    train.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch (default: torch's own choice)",
    )

    ev = sub.add_parser("eval", help="measure a model on fresh data")
    ev.add_argument("name", help="task name")
    ev.add_argument(
        "--checkpoint", default=None, help="checkpoint folder (default: the shipped one)"
    )
    ev.add_argument("--n", type=int, default=2000, help="number of fresh sequences")
    ev.add_argument("--seed", type=int, default=123, help="seed of the fresh data")
    ev.add_argument("--json", action="store_true", help="print the metrics as JSON")

    check = sub.add_parser("check", help="run an exercise notebook and report each exercise")
    check.add_argument("notebook", help="path to the .ipynb file")
    check.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    return parser


def _cmd_list() -> int:
    from toyhelpers.checkpoints import pretrained_dir
    from toyhelpers.recipes import all_recipes
    from toyhelpers.tasks.base import _REGISTRY, list_tasks

    names = list_tasks()
    recipes = all_recipes()
    width = max(len(n) for n in names)
    print(f"{'task':<{width}}  recipe  pretrained  description")
    for name in names:
        try:
            pretrained_dir(name)
            shipped = "yes"
        except ValueError:
            shipped = "no"
        recipe = "yes" if name in recipes else "no"
        print(f"{name:<{width}}  {recipe:<6}  {shipped:<10}  {_REGISTRY[name].description}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from toyhelpers.device import pick_device, set_cpu_threads
    from toyhelpers.models import build_model, n_params
    from toyhelpers.recipes import get_recipe
    from toyhelpers.training import train

    recipe = get_recipe(args.name)
    overrides = {k: v for k, v in (("steps", args.steps), ("seed", args.seed)) if v is not None}
    config = recipe.train_config(fast=args.fast, **overrides)
    task = recipe.make_task()
    out = Path(args.out or Path("runs") / args.name)
    model = build_model(recipe.model_config(task), seed=config.seed)
    if recipe.init_from is not None:
        _load_stage(model, task, recipe.init_from, recipe.insert_blocks_at, recipe.widen)
    print(f"training {task} | {n_params(model):,} parameters | {recipe.notes}")
    device = pick_device(args.device)
    set_cpu_threads(device, args.threads)
    result = train(model, task, config, out_dir=out, resume=args.resume, device=device)
    print(
        f"done: {result.steps} steps in {result.seconds:.0f}s | "
        + " | ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
    )
    print(f"checkpoint written to {out}")
    return 0


def _load_stage(model, task, name: str, insert_at: int | None = None, wider: bool = False) -> None:
    """Start `model` from the weights of the earlier stage `runs/<name>` (same task).

    With `insert_at`, the earlier model may be shallower: its blocks go around new ones.
    With `wider`, it may be narrower: `models.widen` copies its function into `model`.
    """
    from toyhelpers.checkpoints import load_checkpoint
    from toyhelpers.models import insert_blocks, model_config_of, widen

    stage = Path("runs") / name
    if not (stage / "model.safetensors").exists():
        raise FileNotFoundError(
            f"this recipe continues the run of recipe {name!r}, but {stage} holds no model: "
            f"run `toyhelpers train {name}` first"
        )
    earlier = load_checkpoint(stage, task=task)
    if insert_at is not None:
        insert_blocks(model, earlier, insert_at)
        print(
            f"starting from the weights in {stage} (step {earlier.meta['steps']}), "
            f"new blocks from index {insert_at} on"
        )
        return
    if wider:
        widen(model, earlier)
        print(f"starting from the weights in {stage} (step {earlier.meta['steps']}), widened")
        return
    if model_config_of(earlier) != model_config_of(model):
        raise ValueError(
            f"{stage} holds a model of another shape than this recipe's: "
            f"{model_config_of(earlier)} vs {model_config_of(model)}"
        )
    model.load_state_dict(earlier.state_dict())
    print(f"starting from the weights in {stage} (step {earlier.meta['steps']})")


def _cmd_eval(args: argparse.Namespace) -> int:
    from toyhelpers.checkpoints import load_checkpoint, load_pretrained
    from toyhelpers.device import pick_device
    from toyhelpers.evaluation import evaluate
    from toyhelpers.tasks.base import get_task

    get_task(args.name)  # an unknown name fails here, with the list of tasks
    device = pick_device()
    if args.checkpoint:
        model = load_checkpoint(args.checkpoint, device=device)
        if model.task.name != args.name:
            raise ValueError(f"{args.checkpoint} holds a {model.task.name} model, not {args.name}")
    else:
        model = load_pretrained(args.name, device=device)
    metrics = evaluate(model, model.task, n=args.n, seed=args.seed)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        for key, value in metrics.items():
            print(f"{key:>15}: {value:.4f}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from toyhelpers.notebook_check import format_report, run_checks

    path = Path(args.notebook)
    if not path.is_file() or path.suffix != ".ipynb":
        raise ValueError(f"{path} is not a notebook file (.ipynb)")
    reports = run_checks(path, timeout=args.timeout)
    print(format_report(reports))
    return 0 if reports and all(r.status == "passed" for r in reports) else 1


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    commands = {
        "list": lambda: _cmd_list(),
        "train": lambda: _cmd_train(args),
        "eval": lambda: _cmd_eval(args),
        "check": lambda: _cmd_check(args),
    }
    try:
        return commands[args.command]()
    except (ValueError, FileNotFoundError) as err:
        parser.exit(2, f"toyhelpers {args.command}: error: {err}\n")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
