"""The exercise generator: solution regions become stubs, and --check catches stale files."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from toyhelpers.exercises_build import (
    build_exercise,
    main,
    normalise,
    notebook_text,
    strip_code_solutions,
    with_colab_metadata,
)

RAISE = 'raise NotImplementedError("exercise: write this part")'


def solution_notebook() -> nbformat.NotebookNode:
    title = v4.new_markdown_cell(
        "# 01 · Sorting fixed-length lists (solutions)\n\n"
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        "(https://colab.research.google.com/github/me/course/blob/main/solutions/01_sort.ipynb)"
    )
    code = v4.new_code_cell(
        "def attention_target(pos: int) -> int:\n"
        "    # BEGIN SOLUTION\n"
        "    return pos - 1\n"
        "    # END SOLUTION\n"
        "\n"
        "# BEGIN SOLUTION\n"
        "answer = attention_target(3)\n"
        "# STUB: answer = None\n"
        "# END SOLUTION\n"
        "check_answer(answer)",
        execution_count=7,
        outputs=[v4.new_output("stream", name="stdout", text="check passed: answer\n")],
        metadata={
            "tags": ["exercise"],
            "collapsed": True,
            "execution": {"iopub.status.busy": "2024-01-01T00:00:00Z"},
        },
    )
    question = v4.new_markdown_cell(
        "Why does the head attend one back?\n\n"
        "<!-- BEGIN SOLUTION -->\nBecause of the MID token.\n<!-- END SOLUTION -->"
    )
    secret = v4.new_code_cell("reference = 42", metadata={"tags": ["solution-only"]})
    nb = v4.new_notebook(cells=[title, code, question, secret])
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)"},
        "language_info": {"name": "python", "version": "3.11.7"},
        "colab": {"provenance": []},
        "widgets": {"state": {}},
    }
    return nb


def test_stub_without_stub_lines_raises_at_the_region_indentation() -> None:
    source = "def f(x):\n    y = x\n    # BEGIN SOLUTION\n    return y + 1\n    # END SOLUTION\n"
    assert strip_code_solutions(source) == f"def f(x):\n    y = x\n    {RAISE}\n"


def test_stub_lines_replace_the_region_and_keep_their_indentation() -> None:
    source = (
        "def f(x):\n"
        "    # BEGIN SOLUTION\n"
        "    if x:\n"
        "        return 1\n"
        "    # STUB: if x:\n"
        "    # STUB:     return ...\n"
        "    # STUB:\n"
        "    # END SOLUTION\n"
        "    return 0"
    )
    assert strip_code_solutions(source) == (
        "def f(x):\n    if x:\n        return ...\n\n    return 0"
    )


def test_top_level_region_needs_stub_lines() -> None:
    nb = v4.new_notebook(
        cells=[
            v4.new_markdown_cell("# t"),
            v4.new_code_cell("# BEGIN SOLUTION\nx = 1\n# END SOLUTION"),
        ]
    )
    with pytest.raises(ValueError, match=r"solutions/01_x\.ipynb, cell 1"):
        build_exercise(nb, name="solutions/01_x.ipynb")


@pytest.mark.parametrize(
    "source",
    [
        "# BEGIN SOLUTION\n# STUB: x = None\nx = 1",
        "x = 1\n# END SOLUTION",
        "def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n",
        "# STUB: x = None",
    ],
)
def test_unbalanced_markers_are_errors(source: str) -> None:
    with pytest.raises(ValueError):
        strip_code_solutions(source)


def test_unbalanced_markdown_markers_are_errors() -> None:
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("<!-- BEGIN SOLUTION -->\nanswer")])
    with pytest.raises(ValueError, match="cell 0"):
        build_exercise(nb)


def test_exercise_from_solution() -> None:
    solution = solution_notebook()
    exercise = build_exercise(solution)
    title, code, question = exercise.cells

    assert title.source.splitlines()[0] == "# 01 · Sorting fixed-length lists"
    assert "/notebooks/01_sort.ipynb" in title.source
    assert "/solutions/" not in title.source
    assert code.source == (
        "def attention_target(pos: int) -> int:\n"
        f"    {RAISE}\n"
        "\n"
        "answer = None\n"
        "check_answer(answer)"
    )
    assert question.source == "Why does the head attend one back?\n\n*Your answer here.*"
    assert "reference" not in notebook_text(exercise)
    # The solution notebook itself is untouched by the build.
    assert solution.cells[1].outputs and len(solution.cells) == 4


def test_normalise_strips_outputs_and_volatile_metadata() -> None:
    nb = normalise(solution_notebook())
    code = nb.cells[1]
    assert code.outputs == [] and code.execution_count is None
    assert code.metadata == {"tags": ["exercise"]}
    assert nb.cells[0].metadata == {}
    assert set(nb.metadata) == {"kernelspec", "language_info", "colab"}
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.language_info == {"name": "python"}
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert notebook_text(nb) == notebook_text(normalise(nb))
    assert notebook_text(nb).endswith("}\n")
    nbformat.validate(nb)


def test_missing_cell_ids_are_deterministic() -> None:
    nb = solution_notebook()
    for cell in nb.cells:
        del cell["id"]
    nb.nbformat_minor = 4
    assert [c.id for c in normalise(nb).cells] == ["cell-0", "cell-1", "cell-2", "cell-3"]


def write(path: Path, nb: nbformat.NotebookNode) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_build_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "solutions" / "01_sort.ipynb", solution_notebook())
    root = ["--root", str(tmp_path)]

    assert main(["--check", *root]) == 1
    assert "solutions/01_sort.ipynb: not normalised" in capsys.readouterr().out
    assert not (tmp_path / "notebooks").exists()  # --check writes nothing

    assert main(root) == 0
    exercise = nbformat.read(tmp_path / "notebooks" / "01_sort.ipynb", as_version=4)
    assert RAISE in exercise.cells[1].source
    assert nbformat.read(tmp_path / "solutions" / "01_sort.ipynb", 4).cells[1].outputs == []
    capsys.readouterr()
    assert main(["--check", *root]) == 0

    # The solution changes but the exercise is not rebuilt: --check must notice.
    solution = nbformat.read(tmp_path / "solutions" / "01_sort.ipynb", as_version=4)
    solution.cells[0].source += "\n\nA new paragraph."
    (tmp_path / "solutions" / "01_sort.ipynb").write_text(notebook_text(solution))
    assert main(["--check", *root]) == 1
    assert "notebooks/01_sort.ipynb: out of date" in capsys.readouterr().out

    assert main(root) == 0
    assert main(["--check", *root]) == 0


def test_check_reports_orphan_exercise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "solutions" / "01_sort.ipynb", solution_notebook())
    assert main(["--root", str(tmp_path)]) == 0
    write(tmp_path / "notebooks" / "02_gone.ipynb", v4.new_notebook())
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert "notebooks/02_gone.ipynb: no solutions/02_gone.ipynb" in capsys.readouterr().err


def test_colab_metadata_asks_for_a_gpu_only_where_told() -> None:
    gpu = normalise(with_colab_metadata(solution_notebook(), gpu=True))
    assert gpu.metadata.accelerator == "GPU" and gpu.metadata.colab.gpuType == "T4"
    assert gpu.metadata.colab.toc_visible
    assert build_exercise(gpu).metadata.accelerator == "GPU"  # the exercise keeps it
    cpu = normalise(with_colab_metadata(gpu, gpu=False))
    assert "accelerator" not in cpu.metadata and "gpuType" not in cpu.metadata.colab
