"""The `--run NAME=GIN_FILE` / `--param NAME=BINDING` syntax shared by compare.py and train_eval.py."""

from __future__ import annotations

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
