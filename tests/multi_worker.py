"""Runs a script as two MultiWorkerMirroredStrategy workers on 127.0.0.1 (TF_CONFIG set per worker)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Callable

import numpy as np

from tests.conftest import REPO


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_two_workers(script: str, args: Callable[[int], list[str]], timeout: float, env: dict | None = None) -> None:
    """Starts `python -c script *args(task)` for tasks 0 and 1 as one cluster; asserts both exit cleanly."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    processes = []
    for task in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": task}})
        processes.append(subprocess.Popen(
            [sys.executable, "-c", script, *args(task)], cwd=REPO,
            env={**os.environ, **(env or {}), "TF_CONFIG": tf_config},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=timeout)[0] for p in processes]
    for p, out in zip(processes, outputs):
        assert p.returncode == 0, out[-3000:]


def assert_identical(path0, path1) -> None:
    """Two workers' saved arrays (np.savez files) are bit-identical."""
    w0, w1 = np.load(path0), np.load(path1)
    assert len(w0.files) > 10
    for key in w0.files:
        np.testing.assert_array_equal(w0[key], w1[key], err_msg=key)
