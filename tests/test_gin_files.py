"""Every gin/*.gin parses and builds its method (Model Garden's config tests): a broken config cannot land."""

import glob
import os

import pytest

from tests.conftest import REPO
from tfssl.core import experiment
from tfssl.methods.base import Method

GIN_FILES = sorted(glob.glob(os.path.join(REPO, "gin", "*.gin")))
EXPERIMENTS = [f for f in GIN_FILES if os.path.basename(f) != "smoke.gin"]


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
