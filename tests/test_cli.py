import json
import subprocess
import sys

import pytest

from keras_video import cli


def keras_video(*args):
    """Runs the installed console entry point's code in a fresh process, like a user would."""
    return subprocess.run([sys.executable, "-m", "keras_video.cli", *args], capture_output=True,
                          text=True, timeout=600)


def test_info_json_is_one_object_with_the_counts():
    result = keras_video("info", "s3d", "--frames", "8", "--size", "112", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["params"] > report["trainable_params"] == 8_320_048
    assert report["gmacs"] == pytest.approx(17.978771456 / 8, rel=1e-2)  # 1/2 frames, 1/4 area


def test_info_table_and_errors():
    table = keras_video("info", "c2d", "--frames", "8", "--size", "64")
    assert table.returncode == 0 and "trainable_params" in table.stdout and "c2d" in table.stdout
    unknown = keras_video("info", "s4d")
    assert unknown.returncode != 0 and "Available models" in unknown.stderr
    missing = keras_video("benchmark")
    assert missing.returncode != 0 and "takes one MODEL" in missing.stderr


def test_benchmark_json():
    result = keras_video("benchmark", "fast_s3d", "--frames", "8", "--size", "64",
                         "--repeats", "1", "--warmup", "1", "--batch", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"model", "frames", "size", "batch", "ms_per_clip", "clips_per_s"} <= set(report)
    assert report["batch"] == 2 and report["ms_per_clip"] > 0
    assert report["clips_per_s"] == pytest.approx(1000 / report["ms_per_clip"])


def test_python_functions_mirror_the_commands():
    assert cli.info("c2d", frames=4, size=32)["trainable_params"] > 0
