"""The lesson manifest: one entry per lesson, and the README table made from it.

Three names predict each other. A lesson's **slug** names its notebooks
(`notebooks/NN_slug.ipynb`, `solutions/NN_slug.ipynb`). Its **family** is the package
holding everything it needs (`toyhelpers/families/<family>/`: tasks, recipes, checks,
checkpoints, saved sweeps); a family with one lesson is named after that lesson's slug.
A **recipe** is named after the task it trains (`sort_fixed`), with a suffix for a
variant (`mod_add_half`, `othello_stage1`), and every shipped checkpoint is named after
the recipe that made it.

README's lesson table is made from this file: `make exercises` rewrites it, and CI fails
when it is out of date (`python -m toyhelpers.exercises_build --check`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["done", "planned"]


@dataclass(frozen=True)
class Lesson:
    """One lesson: a pair of notebooks, the family they draw on and what they load.

    `checkpoints` are the shipped models the notebooks load, `recipes` the ones they train
    or point to without a shipped checkpoint (e.g. a board size for a GPU), `sweeps` the
    saved experiments they plot. The exercise checks are `checks_module`.
    """

    number: int
    slug: str
    title: str
    seed: tuple[str, ...]
    family: str
    status: Status = "done"
    checkpoints: tuple[str, ...] = ()
    recipes: tuple[str, ...] = ()
    sweeps: tuple[str, ...] = ()
    gpu: bool = False

    @property
    def stem(self) -> str:
        return f"{self.number:02d}_{self.slug}"

    @property
    def checks_module(self) -> str:
        return f"toyhelpers.families.{self.family}.checks"


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        0,
        "getting_started",
        "Getting started: tasks, models, hooks, training, plots",
        (),
        "sorting",
        checkpoints=("sort_fixed",),
    ),
    Lesson(
        1,
        "sort_fixed",
        "Sorting fixed-length lists",
        ("3.1",),
        "sorting",
        checkpoints=("sort_fixed",),
        sweeps=("sort_fixed_architectures", "sort_fixed_lengths"),
    ),
    Lesson(
        2,
        "sort_variable",
        "Sorting variable-length lists",
        ("3.2",),
        "sorting",
        checkpoints=("sort_variable",),
        sweeps=("sort_variable_architectures",),
    ),
    Lesson(
        3,
        "min_max",
        "Minimum and maximum of two ints",
        ("3.5",),
        "min_max",
        checkpoints=("min_max",),
        sweeps=("min_max_architectures",),
    ),
    Lesson(
        4,
        "permute",
        "Permuting lists",
        ("3.6",),
        "permute",
        checkpoints=("permute",),
        sweeps=("permute_architectures",),
    ),
    Lesson(
        5,
        "recurrence",
        "Fibonacci-style recurrences",
        ("3.7",),
        "recurrence",
        checkpoints=("fibonacci",),
        sweeps=("fibonacci_architectures",),
    ),
    Lesson(
        6,
        "mod_add_mlp",
        "Modular addition in a one-hidden-layer MLP",
        ("3.3",),
        "modular",
        checkpoints=("mod_add_mlp",),
    ),
    Lesson(
        7,
        "mod_sub_transformer",
        "Modular subtraction in a 1-layer transformer",
        ("3.4",),
        "modular",
        checkpoints=("mod_add", "mod_sub"),
    ),
    Lesson(
        8,
        "gelu_vs_relu",
        "GELU vs ReLU on modular addition",
        ("3.23",),
        "modular",
        checkpoints=("mod_add_half", "mod_add_gelu"),
        sweeps=("gelu_vs_relu_seeds",),
    ),
    Lesson(
        9,
        "weights_and_neurons",
        "Which weights and neurons matter",
        ("3.26",),
        "modular",
        checkpoints=("mod_add",),
    ),
    Lesson(
        10,
        "dimensionality_reduction",
        "Dimensionality reduction compared",
        ("3.25",),
        "modular",
        checkpoints=("mod_add",),
    ),
    Lesson(
        11,
        "multitask",
        "One model, two tasks",
        ("3.11",),
        "modular",
        checkpoints=("mod_add", "mod_sub", "mod_add_sub"),
    ),
    Lesson(
        12,
        "digit_addition",
        "Five-digit addition and subtraction",
        ("3.8",),
        "arithmetic",
        checkpoints=("add5", "add5_rev", "sub5", "add5_1layer"),
        sweeps=("add5_order_and_size",),
        gpu=True,
    ),
    Lesson(
        13,
        "multiplication",
        "Multiplication",
        ("3.15",),
        "arithmetic",
        checkpoints=("mul",),
        sweeps=("mul_digits_and_order", "mul_running_sum"),
        gpu=True,
    ),
    Lesson(
        14,
        "previous_token",
        "A previous-token head with rotary",
        ("3.21",),
        "attention",
        checkpoints=("prev_token",),
    ),
    Lesson(
        15,
        "induction",
        "Induction heads on repeated tokens",
        ("3.16",),
        "attention",
        checkpoints=("repeat_tokens",),
        recipes=("repeat_tokens_fixed",),
        sweeps=("repeat_tokens_offsets", "repeat_tokens_phase_change"),
    ),
    Lesson(
        16,
        "toy_ioi",
        "A toy indirect-object task",
        ("3.18", "3.19", "3.22"),
        "attention",
        checkpoints=("toy_ioi",),
        sweeps=("toy_ioi_variants",),
    ),
    Lesson(
        17,
        "misleading_dla",
        "When direct logit attribution misleads",
        ("3.27",),
        "attention",
        checkpoints=("toy_ioi", "add5"),
    ),
    Lesson(
        18,
        "code_tracing",
        "Tracing tiny programs",
        ("3.9",),
        "programs",
        checkpoints=("code_trace",),
    ),
    Lesson(19, "graphs", "Graph problems", ("3.10",), "graphs", checkpoints=("graph",), gpu=True),
    Lesson(
        20,
        "automata",
        "Automata",
        ("3.12",),
        "automata",
        checkpoints=("automata_parity", "automata_flipflop", "automata_cyclic"),
        sweeps=("automata_depth_vs_length",),
    ),
    Lesson(
        21,
        "icl_regression",
        "In-context linear regression",
        ("3.13",),
        "icl",
        checkpoints=("icl_linear",),
        recipes=("icl_linear_attention",),
        gpu=True,
    ),
    Lesson(
        22,
        "icl_function_classes",
        "Other in-context function classes",
        ("3.14",),
        "icl",
        checkpoints=("icl_sparse", "icl_tree", "icl_mlp"),
        gpu=True,
    ),
    Lesson(
        23,
        "memorization",
        "How memorisation works",
        ("3.24",),
        "memorization",
        checkpoints=("memorize_mlp", "memorize_transformer"),
        sweeps=("memorize_capacity",),
    ),
    Lesson(
        24,
        "othello_world_model",
        "Othello-GPT's world model",
        ("3.20", "3.30"),
        "othello",
        checkpoints=("othello",),
        recipes=("othello_4x4", "othello_8x8"),
        gpu=True,
    ),
    Lesson(
        25,
        "othello_circuits",
        "Othello circuits",
        ("3.31",),
        "othello",
        checkpoints=("othello",),
        gpu=True,
    ),
    Lesson(
        26,
        "othello_neurons",
        "Othello neurons",
        ("3.32",),
        "othello",
        checkpoints=("othello",),
        gpu=True,
    ),
    Lesson(
        27,
        "circuit_lab",
        "A residual-stream laboratory",
        ("3.33",),
        "othello",
        checkpoints=("othello",),
        gpu=True,
    ),
)


def get_lesson(key: int | str) -> Lesson:
    """A lesson by number (`4`) or slug (`"permute"`)."""
    for lesson in LESSONS:
        if key in (lesson.number, lesson.slug):
            return lesson
    known = ", ".join(f"{lesson.number} {lesson.slug}" for lesson in LESSONS)
    raise ValueError(f"no lesson {key!r}; lessons: {known}")


def lessons_using(recipe: str) -> list[Lesson]:
    """The lessons that load or train `recipe`."""
    return [lesson for lesson in LESSONS if recipe in lesson.checkpoints + lesson.recipes]


# -- the README table -------------------------------------------------------------------

BEGIN, END = "<!-- lessons: begin -->", "<!-- lessons: end -->"


def readme_table(colab_repo: str) -> str:
    """The README's lesson table, one row per lesson."""
    rows = [
        "| # | problem (seed list) | exercises | solutions | Colab | status |",
        "|---|---|---|---|---|---|",
    ]
    for lesson in LESSONS:
        problem = " ".join(filter(None, [", ".join(lesson.seed), lesson.title]))
        if lesson.status == "done":
            notebook = f"notebooks/{lesson.stem}.ipynb"
            colab = f"https://colab.research.google.com/github/{colab_repo}/blob/main/{notebook}"
            links = f"[{notebook}]({notebook}) | [solutions](solutions/{lesson.stem}.ipynb)"
            links += f" | [open]({colab})"
        else:
            links = "| |"
        rows.append(f"| {lesson.number:02d} | {problem} | {links} | {lesson.status} |")
    return "\n".join(rows)


def render_readme(text: str, colab_repo: str) -> str:
    """`text` (README.md) with the table between the markers rewritten."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"README.md needs the markers {BEGIN} and {END} around the lesson table")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{readme_table(colab_repo)}\n{END}{tail}"
