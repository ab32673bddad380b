"""The project's own files agree with each other."""

import re

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_matches_pyproject():
    project = pyproject()["project"]
    extras = project["optional-dependencies"]
    wanted = set(project["dependencies"])
    for req in extras["dev"]:
        # "toyhelpers[site]": dev includes another extra of the project's own
        own = re.fullmatch(r"toyhelpers\[(\w+)\]", req)
        wanted |= set(extras[own.group(1)]) if own else {req}
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


def test_saved_sweeps_load_and_unknown_names_fail():
    from toyhelpers.sweeps import all_sweeps, load_results

    for name, sweep in all_sweeps().items():
        assert sweep.path.exists(), f"{name}: run `python -m toyhelpers.sweeps {name}`"
        assert load_results(name)["rows"], name
    with pytest.raises(ValueError, match="known sweeps"):
        load_results("nope")


def test_nothing_family_specific_sits_at_the_top_level():
    """The core is flat and family-free: no family's name or module outside families/."""
    from toyhelpers import families

    top = ROOT / "toyhelpers"
    assert {p.name for p in top.iterdir() if p.is_dir() and p.name != "__pycache__"} == {"families"}
    for path in top.glob("*.py"):
        text = path.read_text()
        for family in families.names():
            assert f"families.{family}" not in text, f"{path.name} imports family {family}"


def test_every_family_file_ships_as_package_data():
    """pyproject's package-data globs cover every checkpoint, series and saved sweep."""
    import fnmatch

    patterns = pyproject()["tool"]["setuptools"]["package-data"]["toyhelpers"]
    data = [
        p.relative_to(ROOT / "toyhelpers").as_posix()
        for p in (ROOT / "toyhelpers" / "families").rglob("*")
        if p.is_file() and p.suffix in (".json", ".safetensors")
    ]

    def matches(path: str, pattern: str) -> bool:  # as setuptools globs: * stays in a folder
        parts, want = path.split("/"), pattern.split("/")
        return len(parts) == len(want) and all(map(fnmatch.fnmatch, parts, want))

    missed = [d for d in data if not any(matches(d, pat) for pat in patterns)]
    assert data and not missed, missed
