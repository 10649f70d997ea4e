"""benchmarks/speed.py: one method's full and bare step on smoke-sized settings, and the JSON it writes."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCHEMA = {"full_step_s_median": float, "bare_step_s_median": float, "overhead": float, "images_per_s": float,
          "global_batch": int, "steps": int, "what_an_image_is": str}


@pytest.mark.slow
def test_speed_json_has_the_schema_and_consistent_numbers(tmp_path):
    out = tmp_path / "speed.json"
    command = [sys.executable, os.path.join("benchmarks", "speed.py"), "--methods=rotation", "--gin_file=gin/smoke.gin",
               "--steps=2", "--warmup=1", f"--out={out}"]
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    report = json.loads(out.read_text())
    assert report["command"].startswith("python benchmarks/speed.py --methods=rotation")
    assert isinstance(report["device"], str) and report["device"]
    assert report["environment"]["tensorflow"] and report["environment"]["keras"]
    assert list(report["methods"]) == ["rotation"]
    result = report["methods"]["rotation"]
    for key, kind in SCHEMA.items():
        assert isinstance(result[key], kind), (key, result[key])
    assert result["what_an_image_is"]
    assert result["global_batch"] == 16  # gin/smoke.gin's GLOBAL_BATCH
    assert result["steps"] >= 2
    assert result["full_step_s_median"] > 0 and result["bare_step_s_median"] > 0
    assert result["images_per_s"] == pytest.approx(result["global_batch"] / result["full_step_s_median"], rel=1e-9)
    assert result["overhead"] == pytest.approx(result["full_step_s_median"] / result["bare_step_s_median"], rel=1e-9)
    assert 0 < result["full_loop_call_s_median"] <= result["full_step_s_median"]
    assert result["full_step_cpu_s_median"] > 0 and result["bare_step_cpu_s_median"] > 0
    assert result["overhead_cpu"] == pytest.approx(result["full_step_cpu_s_median"] / result["bare_step_cpu_s_median"],
                                                   rel=1e-9)
    assert result["periodic"]["per_step_s"] > 0
