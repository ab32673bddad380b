"""Build the course website (`_site/`) from the executed solution notebooks.

    python -m website.build --executed _build/executed --out _site

The notebooks are executed elsewhere, once: `make test` runs every solution under nbval
and the root `conftest.py` saves each one with its outputs when $TOYHELPERS_EXECUTED_DIR
is set (`make site` does the same run on its own). This module only arranges pages and
calls Sphinx (myst-nb renders the notebooks; nothing is executed again):

- `index.md`: what the course is, how to start, the lesson table, how to check answers;
- `lessons/NN_slug.ipynb`: each solution with its outputs, made spoiler-free: an exercise
  cell shows the learner's stub first and keeps the solution code folded, and a written
  answer is folded too (`spoiler_free`).

Figures draw with the site's own copies of plotly.js and circuitsvis (`conf.py`), so the
pages need no network.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from toyhelpers.exercises_build import (
    COURSE_REPO,
    SOLUTION_ONLY_TAG,
    strip_code_solutions,
    untitle_solutions,
)
from toyhelpers.lessons import LESSONS, Lesson

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = Path(__file__).resolve().parent

# The cell tag myst-nb folds the input of; the folded code keeps its outputs in view.
FOLD_INPUT_TAG = "hide-input"
# Progress bars are live widgets: a static page has only their first frame to show.
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_MARKER_LINE = re.compile(r"^\s*#\s*(BEGIN SOLUTION|END SOLUTION|STUB:.*)\s*$")
# Colab's badge image lives on Colab's server; the site shows its own copy (offline).
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "colab-badge.svg"
_MD_ANSWER = re.compile(r"<!--\s*BEGIN SOLUTION\s*-->(.*?)<!--\s*END SOLUTION\s*-->", re.DOTALL)


def colab_url(folder: str, lesson: Lesson) -> str:
    return (
        f"https://colab.research.google.com/github/{COURSE_REPO}/blob/main/"
        f"{folder}/{lesson.stem}.ipynb"
    )


def spoiler_free(nb: NotebookNode) -> NotebookNode:
    """The executed solution `nb` arranged for reading before doing the exercises.

    Each code cell with a solution region is preceded by the exercise's version of it (the
    stub, as the learner gets it) and has its own code folded; its outputs stay visible.
    The marker and STUB lines are dropped from the solution shown. Written answers
    (`<!-- BEGIN SOLUTION -->` in markdown) are folded, and so are solution-only cells.
    Widget outputs (progress bars) and empty displays are dropped, and the Colab badge is
    the site's own copy (for a page one folder down, in `lessons/`).
    """
    nb = copy.deepcopy(nb)
    cells: list[NotebookNode] = []
    for cell in nb.cells:
        tags = list(cell.metadata.get("tags", []))
        if cell.cell_type == "markdown":
            cell.source = _MD_ANSWER.sub(_folded_answer, cell.source)
            cell.source = cell.source.replace(COLAB_BADGE, f"../{LOCAL_BADGE}")
        elif cell.cell_type == "code":
            cell.outputs = [out for out in cell.get("outputs", []) if _shown(out)]
            lines = cell.source.splitlines()
            if any(_MARKER_LINE.match(line) for line in lines):
                cells.append(_stub_cell(strip_code_solutions(cell.source)))
                cell.source = "\n".join(line for line in lines if not _MARKER_LINE.match(line))
                tags.append(FOLD_INPUT_TAG)
            elif SOLUTION_ONLY_TAG in tags:
                tags.append(FOLD_INPUT_TAG)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)
    nb.cells = cells
    return nb


def _shown(output: NotebookNode) -> bool:
    """False for outputs a static page cannot show or that show nothing: progress-bar
    widgets, and the empty displays that carry an exercise check's verdict (metadata read
    by `toyhelpers check`)."""
    data = output.get("data")
    if data is None:
        return True
    if _WIDGET_MIME in data:
        return False
    return any("".join(v) if isinstance(v, (str, list)) else v for v in data.values())


def _stub_cell(stub: str) -> NotebookNode:
    fence = "````"  # longer than any fence inside the code
    return nbformat.v4.new_markdown_cell(
        f"{fence}{{admonition}} Exercise: your starting point\n"
        ":class: tip\n\n"
        "The exercise notebook gives you this cell to complete. The solution below is "
        "folded: open it after you have tried.\n\n"
        f"```python\n{stub.rstrip()}\n```\n"
        f"{fence}"
    )


def _folded_answer(match: re.Match[str]) -> str:
    return (
        '\n<details class="course-answer">\n<summary>Show the answer</summary>\n\n'
        f"{match.group(1).strip()}\n\n</details>\n"
    )


MODES = {
    "fast": "in the notebooks' fast mode: short training runs and the shipped checkpoints",
    "full": "in the notebooks' full mode: every model trained as its recipe says",
}


def index_page(lessons: list[Lesson], mode: str = "fast") -> str:
    """The home page: the course in a paragraph, how to start, the lessons, checking.
    `mode` is the one the notebooks ran in."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    rows = [
        "| # | lesson | seed problem | read | exercises | solution |",
        "|---|---|---|---|---|---|",
    ]
    for lesson in lessons:
        seed = ", ".join(lesson.seed) or "–"
        rows.append(
            f"| {lesson.number:02d} | {lesson.title} | {seed} "
            f"| [solved](lessons/{lesson.stem}.ipynb) "
            f"| [Colab]({colab_url('notebooks', lesson)}) "
            f"| [Colab]({colab_url('solutions', lesson)}) |"
        )
    toctree = "\n".join(f"lessons/{lesson.stem}" for lesson in lessons)
    repo = f"https://github.com/{COURSE_REPO}"
    return _INDEX.format(table="\n".join(rows), toctree=toctree, repo=repo, mode=MODES[mode])


_INDEX = """\
# Toy models, reverse-engineered

A hands-on course in mechanistic interpretability. Each lesson trains a small transformer
on an algorithmic task whose answer we know (sorting a list, adding numbers, predicting
Othello moves) and then takes it apart until we can say, and check in code, how it
computes that answer. The problems come from the "Interpreting Algorithmic Problems"
list of open problems in mechanistic interpretability.

These pages show every lesson solved, with its figures and numbers, as the solution
notebook printed them when this site was built ({mode}). Exercise code is folded: each
exercise shows the stub you start from, and the solution opens on a click.

## Start

- **In Colab**: open a lesson's exercises from the table. The first cell installs the
  course package; lessons with larger models ask for a GPU runtime.
- **On your machine**: clone [the repository]({repo}) and run `make lab` (it makes a
  virtual environment, installs the course and opens JupyterLab on `notebooks/`).

## Lessons

{table}

## Check your answers

1. Work an exercise notebook (`notebooks/NN_slug.ipynb`). Each exercise has a stub, a
   hint, and a check cell right after it that prints `check passed: <exercise>` or says
   what is wrong.
2. To check a whole notebook at once, run
   `TOYHELPERS_FAST=1 .venv/bin/toyhelpers check notebooks/NN_slug.ipynb`: every exercise
   is reported as passed, failed or not attempted.
3. Then compare with the lesson's page here, or run its solution notebook yourself.

```{{toctree}}
:hidden:
:maxdepth: 1

{toctree}
```
"""


def prepare(executed: Path, source: Path, lessons: list[Lesson], mode: str = "fast") -> None:
    """Write the Sphinx source tree into `source` from the notebooks in `executed`."""
    missing = [
        lesson.stem for lesson in lessons if not (executed / f"{lesson.stem}.ipynb").exists()
    ]
    if missing:
        raise FileNotFoundError(
            f"no executed notebook in {executed} for {', '.join(missing)}: run `make site` "
            "(or `make test`), which executes the solutions and saves them there"
        )
    if source.exists():
        shutil.rmtree(source)
    (source / "lessons").mkdir(parents=True)
    (source / "index.md").write_text(index_page(lessons, mode), encoding="utf-8")
    shutil.copyfile(CONF_DIR / LOCAL_BADGE, source / LOCAL_BADGE)
    for lesson in lessons:
        nb = nbformat.read(executed / f"{lesson.stem}.ipynb", as_version=4)
        nbformat.write(lesson_page(nb, lesson), source / "lessons" / f"{lesson.stem}.ipynb")


def lesson_page(nb: NotebookNode, lesson: Lesson) -> NotebookNode:
    """The lesson's page: its solution made spoiler-free, titled without "(solutions)" (the
    site is the solved course), with a line under the title that leads to the exercises
    (the title cell's own badge opens the solution)."""
    page = spoiler_free(nb)
    pointer = nbformat.v4.new_markdown_cell(
        f"**Doing the exercises?** Open [the exercise notebook in Colab]"
        f"({colab_url('notebooks', lesson)}), or `notebooks/{lesson.stem}.ipynb` after "
        "`make lab`. This page is the solved version."
    )
    first_markdown = next(
        (i for i, cell in enumerate(page.cells) if cell.cell_type == "markdown"), -1
    )
    if first_markdown >= 0:
        page.cells[first_markdown].source = untitle_solutions(page.cells[first_markdown].source)
    page.cells.insert(first_markdown + 1, pointer)
    return page


def build(
    executed: Path,
    out: Path,
    source: Path,
    lessons: list[Lesson] | None = None,
    mode: str = "fast",
) -> float:
    """Prepare the pages and run Sphinx into `out`; returns the seconds it took. `mode`
    is the one the notebooks in `executed` ran in (the index says which)."""
    start = time.perf_counter()
    lessons = [lesson for lesson in (lessons or LESSONS) if lesson.status == "done"]
    prepare(executed, source, lessons, mode)
    # Sphinx writes into a folder beside the source, because myst-nb puts its
    # `jupyter_execute` scratch folder next to the output: `out` gets only the site.
    html = source.parent / "html"
    for folder in (html, out):
        if folder.exists():
            shutil.rmtree(folder)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going"]
    command += ["-c", str(CONF_DIR), "-d", str(source.parent / "doctrees"), str(source), str(html)]
    subprocess.run(command, check=True)
    shutil.move(html, out)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m website.build", description=__doc__)
    parser.add_argument("--executed", type=Path, default=ROOT / "_build" / "executed")
    parser.add_argument("--out", type=Path, default=ROOT / "_site")
    parser.add_argument("--source", type=Path, default=ROOT / "_build" / "site-source")
    parser.add_argument("--mode", choices=sorted(MODES), default="fast")
    args = parser.parse_args(argv)
    seconds = build(args.executed, args.out, args.source, mode=args.mode)
    # The theme copies template files ending in .html into _static: not pages.
    pages = sum(1 for page in args.out.rglob("*.html") if "_static" not in page.parts)
    print(f"site: {pages} pages in {args.out} ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
