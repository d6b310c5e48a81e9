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
    typo = keras_video("convert", "x.pth", "--model", "s3d", "--to", "x.weights.h5", "--clases=5")
    assert typo.returncode != 0 and "unknown flag(s) ['clases=5']" in typo.stderr


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


def test_recipe_overrides_are_taken_out_before_absl_parses_flags(monkeypatch):
    monkeypatch.setattr(cli, "OVERRIDES", [])
    kept = cli._take_overrides(["keras-video", "train", "--config=r.yaml", "--json", "--nojit",
                                "--optimizer.learning_rate=0.1", "--epochs=3", "--frames=8"])
    assert kept == ["keras-video", "train", "--config=r.yaml", "--json", "--nojit", "--frames=8"]
    assert cli.OVERRIDES == ["optimizer.learning_rate=0.1", "epochs=3"]


def test_train_then_evaluate_commands(tmp_path):
    from keras_video import data

    classes = ("move_left", "move_right", "rotate_clockwise")
    for split, seed in (("train", 0), ("test", 1)):
        data.write_synthetic_videos(tmp_path / split, 2, num_frames=8, size=32, classes=classes,
                                    seed=seed, progress=False)
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(f"""
model: {{name: c2d, kwargs: {{width_multiplier: 0.125, min_width: 4}}}}
data: {{train: {{root: {tmp_path / 'train'}}}, validation: {{root: {tmp_path / 'test'}}},
       num_frames: 8, stride: 1, crop_size: 32, scale_jitter: null, flip: false,
       eval_clips: 2, eval_crops: 1}}
batch_size: 3
epochs: 3
output_dir: {tmp_path / 'runs'}
""")
    trained = keras_video("train", "--config", str(recipe), "--epochs=1", "--optimizer.name=adamw",
                          "--json")
    assert trained.returncode == 0, trained.stderr[-3000:]
    result = json.loads(trained.stdout)
    assert result["epochs_run"] == 1 and result["run"].endswith("tiny")
    assert (tmp_path / "runs" / "tiny" / "best.keras").exists()
    evaluated = keras_video("evaluate", "--config", str(recipe), "--json")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    report = json.loads(evaluated.stdout)
    assert report["videos"] == 6 and report["views_per_video"] == 2  # the recipe's 2 x 1
    assert 0 <= report["video_top1"] <= 1 and report["class_names"] == sorted(classes)
    assert (tmp_path / "runs" / "tiny" / "evaluation" / "confusion.png").exists()
    no_config = keras_video("train")
    assert no_config.returncode != 0 and "needs --config" in no_config.stderr


def test_export_then_predict_videos_with_a_timeline(tmp_path, rng):
    """A trained model's folder (its .keras and class_names.txt) exported to ONNX, then two
    real videos classified by the .onnx and by the .keras: same scores, the run's labels."""
    from conftest import TINY

    from keras_video import data, zoo
    run = tmp_path / "run"
    run.mkdir()
    zoo.get("ir_csn_26", input_shape=(8, 32, 32, 3), classes=3, **TINY).save(run / "best.keras")
    (run / "class_names.txt").write_text("walk\nrun\njump\n")
    videos = [str(tmp_path / "a.mp4"), str(tmp_path / "b.mkv")]
    for path in videos:  # 20 frames: windows of 8 every 4 start at 0, 4, 8 and 12
        data.write_video(path, rng.integers(0, 256, size=(20, 40, 48, 3)).astype("uint8"), fps=10)

    exported = keras_video("export", str(run / "best.keras"), "--format", "onnx",
                           "--out", str(tmp_path / "m.onnx"), "--json")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["path"] == str(tmp_path / "m.onnx")
    results = {}
    for model in ("m.onnx", "run/best.keras"):
        ran = keras_video("predict", *videos, "--model", str(tmp_path / model), "--window", "8",
                          "--stride", "4", "--top", "2", "--json")
        assert ran.returncode == 0, ran.stderr
        results[model] = json.loads(ran.stdout)
    onnx_result, keras_result = results["m.onnx"], results["run/best.keras"]
    assert [r["video"] for r in onnx_result] == videos
    for ours, theirs in zip(onnx_result, keras_result):
        assert [w["start_sec"] for w in ours["timeline"]] == [0.0, 0.4, 0.8, 1.2]
        assert ours["timeline"][-1]["end_sec"] == pytest.approx(2.0)
        assert len(ours["top"]) == 2 and {c["class"] for c in ours["top"]} <= {"walk", "run", "jump"}
        assert [c["class"] for c in ours["top"]] == [c["class"] for c in theirs["top"]]
        for a, b in zip(ours["top"], theirs["top"]):
            assert a["score"] == pytest.approx(b["score"], abs=1e-4)

    text = keras_video("predict", videos[0], "--model", str(tmp_path / "m.onnx"))
    assert text.returncode == 0 and text.stdout.startswith(videos[0]) and "0.00-0.80" in text.stdout
    wrong = keras_video("export", str(run / "best.keras"), "--format", "onnx", "--quantize",
                        "int8", "--out", str(tmp_path / "q.onnx"))
    assert wrong.returncode != 0 and "--quantize applies to --format tflite" in wrong.stderr
    no_model = keras_video("predict", videos[0])
    assert no_model.returncode != 0 and "--model" in no_model.stderr
