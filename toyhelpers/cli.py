"""The `toyhelpers` command: list recipes and tasks, train and evaluate models, check a notebook."""

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

    sub.add_parser("list", help="list the recipes (with their checkpoints and lessons) and tasks")

    train = sub.add_parser("train", help="train a recipe's model")
    train.add_argument("name", help="recipe name (see `toyhelpers list`)")
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
    ev.add_argument("name", help="shipped checkpoint (the recipe that made it)")
    ev.add_argument("--checkpoint", default=None, help="a checkpoint folder to measure instead")
    ev.add_argument("--n", type=int, default=2000, help="number of fresh sequences")
    ev.add_argument("--seed", type=int, default=123, help="seed of the fresh data")
    ev.add_argument("--json", action="store_true", help="print the metrics as JSON")

    check = sub.add_parser("check", help="run an exercise notebook and report each exercise")
    check.add_argument("notebook", help="path to the .ipynb file")
    check.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    return parser


def _cmd_list() -> int:
    from toyhelpers.checkpoints import shipped
    from toyhelpers.lessons import lessons_using
    from toyhelpers.recipes import all_recipes
    from toyhelpers.tasks import list_tasks, task_class

    recipes, checkpoints = all_recipes(), shipped()
    rows = [("recipe", "task", "checkpoint", "lessons", "family", "starts from")]
    for name, recipe in sorted(recipes.items()):
        lessons = ", ".join(f"{lesson.number:02d}" for lesson in lessons_using(name)) or "-"
        has = "shipped" if name in checkpoints else "-"
        rows.append((name, recipe.task, has, lessons, recipe.family, recipe.init_from or "-"))
    _print_table(rows)
    print()
    _print_table(
        [("task", "description")] + [(name, task_class(name).description) for name in list_tasks()]
    )
    return 0


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("".join(f"{cell:<{w}}  " for cell, w in zip(row, widths, strict=False)) + row[-1])


def _cmd_train(args: argparse.Namespace) -> int:
    from toyhelpers.device import pick_device, set_cpu_threads
    from toyhelpers.models import n_params
    from toyhelpers.recipes import get_recipe
    from toyhelpers.training import train

    recipe = get_recipe(args.name)
    overrides = {"steps": args.steps} if args.steps is not None else {}
    run = recipe.build(seed=args.seed, fast=args.fast, **overrides)
    out = Path(args.out or Path("runs") / args.name)
    if run.started_from:
        print(f"starting from {run.started_from}")
    print(f"training {run.task} | {n_params(run.model):,} parameters | {recipe.notes}")
    device = pick_device(args.device)
    set_cpu_threads(device, args.threads)
    result = train(run.model, run.task, run.config, out_dir=out, resume=args.resume, device=device)
    print(
        f"done: {result.steps} steps in {result.seconds:.0f}s | "
        + " | ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
    )
    print(f"checkpoint written to {out}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from toyhelpers.checkpoints import load_checkpoint, load_pretrained
    from toyhelpers.device import pick_device
    from toyhelpers.evaluation import evaluate
    from toyhelpers.recipes import get_recipe

    device = pick_device()
    if args.checkpoint:
        model = load_checkpoint(args.checkpoint, device=device)
        if args.name != model.task.name and get_recipe(args.name).task != model.task.name:
            raise ValueError(
                f"{args.checkpoint} holds a {model.task.name} model; recipe {args.name} "
                f"trains {get_recipe(args.name).task}"
            )
    else:
        model = load_pretrained(args.name, device=device)  # an unknown name lists them all
    metrics = evaluate(model, model.task, n=args.n, seed=args.seed)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(f"{args.checkpoint or args.name}: {model.task}, {args.n} fresh sequences")
        for key, value in metrics.items():
            print(f"{key:>15}: {value:.4f}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from toyhelpers.notebook_check import format_report, run_checks

    path = Path(args.notebook)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
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
