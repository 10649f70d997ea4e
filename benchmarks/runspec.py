"""What compare.py and train_eval.py share: the `--run NAME=GIN_FILE` / `--param NAME=BINDING` syntax and running
one logged tool process."""

from __future__ import annotations

import shlex
import subprocess

from absl import app


def parse_runs(runs: list[str], params: list[str]) -> dict[str, dict]:
    """'--run NAME=FILE' and '--param NAME=BINDING' -> {name: {"gin_file": FILE, "params": [BINDING, ...]}}."""
    parsed = {}
    for spec in runs:
        name, sep, gin_file = spec.partition("=")
        if not sep or not name or not gin_file:
            raise app.UsageError(f"--run={spec!r}: expected NAME=GIN_FILE, e.g. --run=rotation=gin/rotation.gin")
        parsed[name] = {"gin_file": gin_file, "params": []}
    for spec in params:
        name, sep, binding = spec.partition("=")
        if not sep or name not in parsed:
            raise app.UsageError(f"--param={spec!r}: expected NAME=BINDING with NAME one of {sorted(parsed)}")
        parsed[name]["params"].append(binding)
    return parsed


def run_logged(command: list[str], log_path: str) -> None:
    """Runs one tool process with its output in log_path; a failure raises with the log's last 15 lines."""
    print("$ " + " ".join(shlex.quote(c) for c in command), flush=True)
    with open(log_path, "w") as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        with open(log_path) as log:
            tail = "".join(log.readlines()[-15:])
        raise RuntimeError(f"run failed with exit code {code} (log: {log_path}):\n{tail}")
