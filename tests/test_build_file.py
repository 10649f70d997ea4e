"""BUILD mirrors the package: every module in exactly one library, a py_test per test file, no missing files."""

import ast
import glob
import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO


def _targets():
    """(rule, name, srcs, data) of every call in BUILD, read with Python's parser (Starlark is a subset)."""
    tree = ast.parse(open(os.path.join(REPO, "BUILD")).read())
    targets = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            kwargs = {k.arg: k.value for k in node.keywords}
            if "name" not in kwargs:
                continue

            def strings(key):
                value = kwargs.get(key)
                assert value is None or isinstance(value, ast.List), f"{key} of a target must be an explicit list"
                return [] if value is None else [ast.literal_eval(e) for e in value.elts]

            targets.append((node.func.id, ast.literal_eval(kwargs["name"]), strings("srcs"), strings("data")))
    return targets


def _repo_files(pattern):
    return sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, pattern), recursive=True))


def test_every_listed_file_exists():
    for rule, name, srcs, data in _targets():
        for path in srcs + data:
            if not path.startswith(":"):
                assert os.path.exists(os.path.join(REPO, path)), f"{rule} {name} lists missing {path}"


def test_target_names_are_unique():
    names = [name for _, name, _, _ in _targets()]
    assert len(names) == len(set(names))


def test_every_module_is_in_exactly_one_target():
    listed = [p for _, _, srcs, _ in _targets() for p in srcs]
    for module in _repo_files("tfssl/**/*.py") + _repo_files("export/*.py") + _repo_files("benchmarks/*.py"):
        assert listed.count(module) == 1, f"{module} is in {listed.count(module)} BUILD targets (want 1)"


def test_every_test_file_has_a_py_test():
    tested = {srcs[0] for rule, _, srcs, _ in _targets() if rule == "py_test"}
    missing = set(_repo_files("tests/**/test_*.py")) - tested
    assert not missing, f"test files without a py_test in BUILD: {sorted(missing)}"


def test_every_gin_file_and_notebook_is_declared():
    data = {p for _, _, srcs, d in _targets() for p in srcs + d}
    for path in _repo_files("gin/**/*.gin") + _repo_files("colab/*.ipynb"):
        assert path in data, f"{path} is not in a BUILD filegroup"


@pytest.mark.skipif(shutil.which("bazel") is None, reason="Bazel is not installed (Debian: apt install bazel-bootstrap)")
def test_bazel_parses_the_build_file():
    """Where Bazel exists, it loads BUILD offline and sees exactly the targets this file's parser sees."""
    done = subprocess.run(["bazel", "--batch", "query", "//..."], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    listed = {line.strip() for line in done.stdout.splitlines() if line.startswith("//")}
    assert listed == {f"//:{name}" for _, name, _, _ in _targets()}
