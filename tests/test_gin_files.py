"""Every gin/*.gin parses and builds its method (Model Garden's config tests): a broken config cannot land."""

import glob
import os
import re

import pytest

from tests.conftest import REPO
from tfssl.core import experiment
from tfssl.methods.base import Method

GIN_FILES = sorted(glob.glob(os.path.join(REPO, "gin", "*.gin")))


def _is_study(path: str) -> bool:
    """A study file (run by `python -m tfssl.evaluate`, not trained) binds tfssl.study.run or includes one that does."""
    text = open(path).read()
    included = [os.path.join(REPO, name) for name in re.findall(r"^include '([^']+)'", text, re.M)]
    return "tfssl.study.run" in text or any(_is_study(f) for f in included if os.path.exists(f))


STUDIES = [f for f in GIN_FILES if _is_study(f)]
EXPERIMENTS = [f for f in GIN_FILES if os.path.basename(f) != "smoke.gin" and f not in STUDIES]


def test_there_are_experiments():
    assert any(f.endswith("rotation.gin") for f in EXPERIMENTS)


@pytest.mark.parametrize("gin_file", EXPERIMENTS, ids=os.path.basename)
def test_experiment_builds(gin_file, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    session = experiment.setup(str(tmp_path), [gin_file])
    assert isinstance(session.method, Method)
    assert session.trainer.train_steps > 0 and session.trainer.step == 0
    assert callable(session.experiment.train_input)
    assert session.experiment.evaluations, "every experiment should measure something"


@pytest.mark.parametrize("gin_file", EXPERIMENTS, ids=os.path.basename)
def test_experiment_builds_with_smoke(gin_file, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    session = experiment.setup(str(tmp_path), [gin_file, os.path.join(REPO, "gin", "smoke.gin")])
    assert session.trainer.train_steps <= 20


@pytest.mark.parametrize("gin_file", STUDIES, ids=os.path.basename)
def test_study_parses_and_binds_its_entry_point(gin_file, monkeypatch):
    from tfssl.core import config

    monkeypatch.chdir(REPO)
    config.parse([gin_file])
    assert callable(experiment.study())
