"""Generate the exercise notebooks from the solution notebooks.

`solutions/NN_slug.ipynb` is the source of truth; `notebooks/NN_slug.ipynb` is generated
from it. Conventions in a solution notebook:

- In a code cell, the lines between `# BEGIN SOLUTION` and `# END SOLUTION` are replaced by
  the region's `# STUB: <line>` lines with the `# STUB: ` prefix removed (each keeps its
  indentation), or, when there are none, by `raise NotImplementedError(...)` at the indentation
  of `# BEGIN SOLUTION`. A top-level region needs STUB lines (a bare raise there would stop
  every later cell), and markers must be balanced and not nested.
- In a markdown cell, `<!-- BEGIN SOLUTION -->...<!-- END SOLUTION -->` becomes
  `*Your answer here.*`.
- Cells tagged `solution-only` are left out of the exercise.
- Colab badges and the Colab install line are pointed at `COURSE_REPO`, and both notebooks
  of a lesson get Colab metadata: a table of contents, and a GPU runtime for the lessons
  the manifest marks `gpu` (`toyhelpers.lessons`).
- README.md's lesson table is rewritten from the lesson manifest (`toyhelpers.lessons`).
- Links to `/solutions/NN_slug.ipynb` (the Colab badge) point to `/notebooks/NN_slug.ipynb`,
  and " (solutions)" is dropped from the title, the first heading of the first markdown cell.

Both notebooks are written normalised (no outputs, only the "tags" cell metadata, minimal
notebook metadata, stable cell ids) so that diffs show only real changes.

    python -m toyhelpers.exercises_build          # normalise solutions/, rewrite notebooks/
    python -m toyhelpers.exercises_build --check  # exit 1 if anything is out of date
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from toyhelpers.lessons import LESSONS, render_readme

SOLUTION_ONLY_TAG = "solution-only"
STUB_RAISE = 'raise NotImplementedError("exercise: write this part")'
ANSWER_PLACEHOLDER = "*Your answer here.*"

# Where the course is hosted: Colab badges and the Colab install line point here.
COURSE_REPO = "toy-models-course/toy-models"
_COLAB_URL = re.compile(r"colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/main/")
_INSTALL_URL = re.compile(r"git\+https://github\.com/[\w.-]+/[\w.-]+?(?=[\s\"'@]|$)")

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

_BEGIN = re.compile(r"^(\s*)#\s*BEGIN SOLUTION\s*$")
_END = re.compile(r"^\s*#\s*END SOLUTION\s*$")
_STUB = re.compile(r"^(\s*)#\s*STUB:(?: ?)(.*)$")
_MD_REGION = re.compile(r"<!--\s*BEGIN SOLUTION\s*-->.*?<!--\s*END SOLUTION\s*-->", re.DOTALL)
_MD_MARKER = re.compile(r"<!--\s*(?:BEGIN|END) SOLUTION\s*-->")
_SOLUTION_LINK = re.compile(r"/solutions/([\w.-]+\.ipynb)")
_HEADING = re.compile(r"^#{1,6}\s")


def normalise(nb: NotebookNode) -> NotebookNode:
    """A copy of `nb` without outputs or volatile metadata, as nbformat 4.5 with stable ids."""
    nb = copy.deepcopy(nb)
    kept = {key: nb.metadata[key] for key in ("accelerator", "colab") if key in nb.metadata}
    nb.metadata = nbformat.from_dict(
        {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}, **kept}
    )
    nb.nbformat, nb.nbformat_minor = 4, 5

    used: set[str] = set()
    for index, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags")
        cell.metadata = nbformat.from_dict({"tags": list(tags)} if tags else {})
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.source = _point_at_repo(cell.source)
        cell.id = _unique_id(cell.get("id"), index, used)
        used.add(cell.id)
    return nb


def with_colab_metadata(nb: NotebookNode, gpu: bool) -> NotebookNode:
    """A copy of `nb` whose metadata asks Colab for a table of contents and, with `gpu`,
    a GPU runtime (Colab reads `accelerator` and `colab.gpuType`)."""
    nb = copy.deepcopy(nb)
    colab: dict[str, object] = {"provenance": [], "toc_visible": True}
    nb.metadata.pop("accelerator", None)
    if gpu:
        colab["gpuType"] = "T4"  # the free tier's GPU
        nb.metadata.accelerator = "GPU"
    nb.metadata.colab = nbformat.from_dict(colab)
    return nb


def _point_at_repo(source: str) -> str:
    source = _COLAB_URL.sub(f"colab.research.google.com/github/{COURSE_REPO}/blob/main/", source)
    return _INSTALL_URL.sub(f"git+https://github.com/{COURSE_REPO}", source)


def _unique_id(current: str | None, index: int, used: set[str]) -> str:
    # Existing ids are kept so diffs stay small; missing or duplicate ones come from the
    # cell's position, which is deterministic, unlike nbformat's random ids.
    if current and current not in used:
        return current
    candidate, n = f"cell-{index}", 0
    while candidate in used:
        n += 1
        candidate = f"cell-{index}-{n}"
    return candidate


def build_exercise(nb: NotebookNode, name: str = "notebook") -> NotebookNode:
    """The exercise notebook made from solution notebook `nb` (normalised).

    `name` only labels errors: a ValueError names it and the cell index at fault.
    """
    exercise = normalise(nb)
    cells = []
    for index, cell in enumerate(exercise.cells):
        if SOLUTION_ONLY_TAG in cell.metadata.get("tags", []):
            continue
        where = f"{name}, cell {index}"
        if cell.cell_type == "code":
            cell.source = strip_code_solutions(cell.source, where)
        elif cell.cell_type == "markdown":
            cell.source = strip_markdown_solutions(cell.source, where)
        cell.source = _SOLUTION_LINK.sub(r"/notebooks/\1", cell.source)
        cells.append(cell)

    markdown = [cell for cell in cells if cell.cell_type == "markdown"]
    if markdown:
        markdown[0].source = untitle_solutions(markdown[0].source)

    exercise.cells = cells
    return exercise


def strip_code_solutions(source: str, where: str = "cell") -> str:
    """`source` with each `# BEGIN SOLUTION` ... `# END SOLUTION` region replaced by its stub."""
    out: list[str] = []
    indent: str | None = None  # the BEGIN marker's indentation while inside a region
    stubs: list[str] = []
    for lineno, line in enumerate(source.splitlines(), start=1):
        if begin := _BEGIN.match(line):
            if indent is not None:
                raise ValueError(f"{where}, line {lineno}: nested '# BEGIN SOLUTION'")
            indent, stubs = begin.group(1), []
        elif _END.match(line):
            if indent is None:
                raise ValueError(f"{where}, line {lineno}: '# END SOLUTION' without a BEGIN")
            if not stubs:
                if not indent:
                    raise ValueError(
                        f"{where}, line {lineno}: a top-level solution region needs "
                        "'# STUB: ' lines (a bare raise would stop every later cell)"
                    )
                stubs = [indent + STUB_RAISE]
            out.extend(stubs)
            indent = None
        elif stub := _STUB.match(line):
            if indent is None:
                raise ValueError(f"{where}, line {lineno}: '# STUB:' outside a solution region")
            stubs.append((stub.group(1) + stub.group(2)).rstrip())
        elif indent is None:
            out.append(line)
    if indent is not None:
        raise ValueError(f"{where}: '# BEGIN SOLUTION' without an '# END SOLUTION'")
    text = "\n".join(out)
    return text + "\n" if source.endswith("\n") and out else text


def strip_markdown_solutions(source: str, where: str = "cell") -> str:
    """`source` with each `<!-- BEGIN SOLUTION -->...<!-- END SOLUTION -->` answer removed."""
    text = _MD_REGION.sub(ANSWER_PLACEHOLDER, source)
    if _MD_MARKER.search(text):
        raise ValueError(f"{where}: unbalanced or nested '<!-- BEGIN/END SOLUTION -->' markers")
    return text


def untitle_solutions(source: str) -> str:
    """`source` with " (solutions)" dropped from its first heading."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if _HEADING.match(line):
            lines[i] = line.replace(" (solutions)", "", 1)
            break
    return "\n".join(lines)


def notebook_text(nb: NotebookNode) -> str:
    """The exact file contents for `nb`: nbformat's JSON (indent 1) and a final newline."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def plan(root: Path) -> tuple[dict[Path, str], list[str]]:
    """Every file under `root` the build should hold, with its text, and the errors found.

    Errors are solution notebooks that cannot be built and exercise notebooks whose
    solution is gone.
    """
    wanted: dict[Path, str] = {}
    errors: list[str] = []
    solutions = sorted((root / "solutions").glob("*.ipynb"))
    lessons_by_stem = {lesson.stem: lesson for lesson in LESSONS}
    for path in solutions:
        rel = path.relative_to(root).as_posix()
        try:
            nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
            lesson = lessons_by_stem.get(path.stem)
            if lesson is not None:
                nb = with_colab_metadata(nb, lesson.gpu)
            exercise = build_exercise(nb, name=rel)
        except Exception as err:  # a broken notebook is reported, the others still build
            errors.append(f"{rel}: {err}")
            continue
        wanted[path] = notebook_text(normalise(nb))
        wanted[root / "notebooks" / path.name] = notebook_text(exercise)

    readme = root / "README.md"
    if readme.exists():
        try:
            wanted[readme] = render_readme(readme.read_text(encoding="utf-8"), COURSE_REPO)
        except ValueError as err:
            errors.append(f"README.md: {err}")

    names = {path.name for path in solutions}
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        if path.name not in names:
            errors.append(
                f"{path.relative_to(root).as_posix()}: no solutions/{path.name} to build it "
                "from (delete it or add the solution)"
            )
    return wanted, errors


def _current(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    """Command line: normalise solutions and rewrite exercises, or `--check` they are current."""
    parser = argparse.ArgumentParser(
        prog="python -m toyhelpers.exercises_build",
        description="Build notebooks/*.ipynb (exercises) from solutions/*.ipynb.",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file is out of date"
    )
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="repository root (default: current folder)"
    )
    args = parser.parse_args(argv)
    root: Path = args.root

    wanted, errors = plan(root)
    stale = [path for path, text in wanted.items() if _current(path) != text]
    for message in errors:
        print(f"error: {message}", file=sys.stderr)

    if args.check:
        for path in stale:
            rel = path.relative_to(root).as_posix()
            why = "missing" if not path.exists() else "out of date"
            if path.parent.name == "solutions":
                why = "not normalised"
            if path.name == "README.md":
                why = "lesson table out of date (toyhelpers/lessons.py)"
            print(f"{rel}: {why}")
        if stale:
            print("run `python -m toyhelpers.exercises_build` to update", file=sys.stderr)
        return 1 if stale or errors else 0

    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {path.relative_to(root).as_posix()}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
