"""Test set-up shared by the whole suite.

- Two logical CPU devices, so MirroredStrategy runs with 2 replicas without a GPU. This must happen before
  TensorFlow initialises its devices, hence at import time of this conftest.
- One TFDS data_dir per test session (small synthetic configs are prepared once and reused, also by the CLI
  subprocesses, which inherit TFDS_DATA_DIR).
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TFDS_DATA_DIR", tempfile.mkdtemp(prefix="tfssl_test_tfds_"))

import gin  # noqa: E402
import pytest  # noqa: E402

from tfssl.core import distribute  # noqa: E402

distribute.use_logical_cpus(2)

import tfssl.registry  # noqa: E402,F401  (every configurable a test's gin bindings may name; after the devices)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: heavier end-to-end tests (still in the default suite)")


@pytest.fixture(autouse=True)
def _clean_gin():
    """Every test starts from an empty, unlocked gin config."""
    gin.clear_config()
    yield
    gin.clear_config()


@pytest.fixture
def repo_dir():
    return REPO
