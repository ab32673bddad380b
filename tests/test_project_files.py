"""The project's own files agree with each other."""

import re

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_matches_pyproject():
    project = pyproject()["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {req for req in pip_section if not req.startswith("-e")}
    assert listed == wanted, (
        f"only in environment.yml: {listed - wanted}; only in pyproject: {wanted - listed}"
    )
    assert "-e ." in pip_section
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    minimum = project["requires-python"].removeprefix(">=")
    assert tuple(map(int, python.split("=")[1].split("."))) >= tuple(map(int, minimum.split(".")))


def test_torch_is_not_pinned():
    # Colab's preinstalled torch must satisfy the requirement: a lower bound only.
    torch_req = next(r for r in pyproject()["project"]["dependencies"] if r.startswith("torch"))
    assert re.fullmatch(r"torch>=[\d.]+", torch_req), torch_req


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make lab" in first_block and "make test" in first_block


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_table_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        assert f"notebooks/{path.name}" in readme, f"{path.name} is missing from README's table"
        assert (ROOT / "notebooks" / path.name).exists()


def test_saved_sweeps_load_and_unknown_names_fail():
    from toyhelpers.recipes import all_sweeps
    from toyhelpers.sweeps import load_results

    for name in all_sweeps():
        assert load_results(name)["rows"], name
    with pytest.raises(ValueError, match="known sweeps"):
        load_results("nope")
