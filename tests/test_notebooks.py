"""The notebooks in colab/ run top to bottom on smoke settings (each asserts what it shows)."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO

NOTEBOOKS = sorted(f for f in os.listdir(os.path.join(REPO, "colab")) if f.endswith(".ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, tmp_path, monkeypatch):
    monkeypatch.setenv("TFSSL_REPO", REPO)
    monkeypatch.setenv("TFSSL_NOTEBOOK_DIR", str(tmp_path))
    notebook = nbformat.read(os.path.join(REPO, "colab", name), as_version=4)
    sources = "\n".join(cell.source for cell in notebook.cells)
    assert "SMOKE = True" in sources, "notebooks must default to smoke settings so the suite can run them"
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": REPO}}).execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
