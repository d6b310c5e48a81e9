"""The `keras-video` command: subcommands, help, exit statuses and one-line errors, quiet
output, and the commands end to end in fresh processes as a user runs them."""
import json
import re
import subprocess
import sys

import pytest

from keras_video import cli

COMMANDS = ["demo", "info", "benchmark", "train", "evaluate", "predict", "detect", "features",
            "export", "convert", "recipes", "presets"]
# A line a framework prints on its own: absl / TensorFlow C++ logs, Python warnings.
FRAMEWORK_LINE = re.compile(r"^([IWEF]\d{4} |WARNING: All log|.*(cuda|cuInit|absl::|"
                            r"UserWarning|DeprecationWarning|tensorflow/))", re.M)


def keras_video(*args):
    """Runs the console command in a fresh process, like a user would."""
    return subprocess.run([sys.executable, "-m", "keras_video_cli", *args],
                          capture_output=True, text=True, timeout=600)


def run(capsys, *args):
    """The command line in this process (fast): (exit status, stdout, stderr)."""
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_help_lists_the_commands_and_exits_0(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", out, re.M), command
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.startswith("keras-video ")
    assert run(capsys)[0] == 0  # no arguments: the help


@pytest.mark.parametrize("command", COMMANDS)
def test_each_commands_help_shows_its_own_arguments(capsys, command):
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0 and out.startswith(f"usage: keras-video {command}")
    flags = set(re.findall(r"(--[a-z][a-z_-]+)", out))
    others = {"--workdir": "demo", "--all": "info", "--repeats": "benchmark",
              "--clips": "evaluate", "--top": ("predict", "detect"), "--layer": "features",
              "--render": "detect", "--quantize": "export", "--to": "convert"}
    for flag, owners in others.items():
        assert (flag in flags) == (command in owners if isinstance(owners, tuple)
                                   else owners == command), (flag, command)
    if command in ("info", "benchmark"):
        assert "(default: 16)" in out  # defaults are shown
    # A help that says its default itself gets no second one ("(default: None)" after it).
    assert not re.search(r"\(default: [^()]*\)\s+\(default:", out), out
    # Nor does a required flag, an unset one or an off switch ("--json (default: False)").
    words = " ".join(out.split())  # as wrapped help lines may split it
    assert "(default: None)" not in words and "(default: False)" not in words, out


# Every command with a misspelt flag: exit 2, one line naming it.
MISSPELT = {
    "demo": ["--wokdir=out"], "info": ["s3d", "--frame", "8"], "benchmark": ["s3d", "--batches=2"],
    "train": ["--config", "x.yaml", "--epoch=1"], "evaluate": ["--config", "x.yaml", "--clip=2"],
    "predict": ["v.mp4", "--model", "s3d", "--tops=3"],
    "detect": ["v.mp4", "--model", "d", "--renders=o.mp4"],
    "features": ["v.mp4", "--model", "s3d", "--out", "o", "--layers=x"],
    "export": ["s3d", "--format", "onnx", "--out", "m.onnx", "--quantise=fp16"],
    "convert": ["x.pth", "--model", "s3d", "--to", "x.weights.h5", "--clases=5"],
    "recipes": ["--long"], "presets": ["--all"]}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_misspelt_flag_exits_2_with_one_line(capsys, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.yaml").write_text("model: {name: c2d}\ndata: {train: {root: .}}\n")
    status, out, err = run(capsys, command, *MISSPELT[command])
    assert status == 2 and out == "", err
    assert len(err.strip().splitlines()) == 1, err
    wrong = [a for a in MISSPELT[command] if a.startswith("--")][-1].split("=")[0]
    assert wrong.lstrip("-") in err and "keras-video" in err


def test_usage_errors_name_what_is_wrong(capsys):
    cases = [(("info", "s4d"), "Available models"), (("benchmark",), "required: MODEL"),
             (("predict", "v.mp4"), "--model"), (("evaluate",), "--config"),
             (("bogus",), "invalid choice: 'bogus'"),
             (("export", "s3d", "--format", "onnx", "--out", "m.onnx", "--quantize", "int8"),
              "--quantize applies to --format tflite"),
             (("train", "--config", "s3dg_ucf101_split1", "--epochs"), "needs a value"),
             (("info", "s3d", "--frames", "0"), "positive integer")]
    for args, message in cases:
        status, out, err = run(capsys, *args)
        assert status == 2 and len(err.strip().splitlines()) == 1 and message in err, (args, err)


def test_a_failure_exits_1_with_one_line_and_debug_shows_the_traceback(capsys, tmp_path):
    args = ("convert", str(tmp_path / "missing.pth"), "--model", "s3d", "--to",
            str(tmp_path / "x.weights.h5"))
    status, out, err = run(capsys, *args)
    assert status == 1 and out == "" and err.strip().count("\n") == 0
    assert err.startswith("keras-video: error:") and "does not exist" in err
    with pytest.raises(FileNotFoundError):
        cli.main([*args, "--debug"])


def test_a_clip_too_small_for_the_model_is_one_line_naming_the_layer_and_the_cause(capsys):
    # Keras' own first line ("Exception encountered when calling MaxPooling3D.call().") says
    # neither what went wrong nor what to change.
    status, _, err = run(capsys, "info", "s3d", "--frames", "2", "--size", "16")
    assert status == 1 and err.count("\n") == 1, err
    assert "Exception encountered" not in err and "\x1b" not in err
    assert re.search(r"Pooling3D: Computed output size would be zero or negative", err), err


def test_a_registered_model_is_built_at_the_window_and_size_asked_for(capsys, tmp_path, rng):
    # S3D's last pool is sized for its clip: built at 16 x 224 x 224, an 8 x 32 x 32 window
    # failed inside the pool.
    from keras_video import data
    video = str(tmp_path / "v.mp4")
    data.write_video(video, rng.integers(0, 256, size=(16, 40, 48, 3)).astype("uint8"), fps=8)
    status, out, err = run(capsys, "predict", video, "--model", "s3d", "--window", "8",
                           "--size", "32", "--json")
    assert status == 0, err
    assert [w["end_sec"] for w in json.loads(out)["timeline"]] == [1.0, 2.0]


@pytest.mark.parametrize("flags, message", [
    (["--weights", "kinetics400"], "--weights is for a registered model name"),
    (["--classes", "3"], "--classes is for a model built here"),
    (["--fps", "0"], "--fps: expected a positive number, got 0"),
])
def test_flags_a_model_file_cannot_take_are_usage_errors(capsys, tmp_path, flags, message):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"not read: the flags are refused first")
    status, _, err = run(capsys, "predict", "v.mp4", "--model", str(model), *flags)
    assert status == 2 and message in err and err.count("\n") == 1, err


def test_recipe_overrides_take_both_forms():
    known = ("--config", "--clips")
    rest, overrides = cli.split_overrides(
        "evaluate", ["--optimizer.learning_rate=0.1", "--epochs", "3", "--config", "r.yaml",
                     "--data.scale_jitter", "[128,160]", "runs/r/best", "--clips=2"], known)
    assert overrides == ["optimizer.learning_rate=0.1", "epochs=3", "data.scale_jitter=[128,160]"]
    assert rest == ["--config", "r.yaml", "runs/r/best", "--clips=2"]
    with pytest.raises(cli.UsageError, match="unrecognized argument '--epochs=3'"):
        cli.split_overrides("predict", ["--epochs=3"])


def test_an_override_value_is_not_read_as_evaluates_model(capsys, tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(cli, "_evaluate", lambda args, overrides: seen.update(
        model=args.model, overrides=overrides) or ({}, lambda: None))
    assert run(capsys, "evaluate", "--config", "r.yaml", "--epochs", "2")[0] == 0
    assert seen == {"model": None, "overrides": ["epochs=2"]}
    assert run(capsys, "evaluate", "--config", "r.yaml", "--model.kwargs.dropout_rate", "0.2",
               "runs/r/best")[0] == 0
    assert seen == {"model": "runs/r/best", "overrides": ["model.kwargs.dropout_rate=0.2"]}


def test_a_misspelt_flag_is_named_before_a_missing_required_one(capsys):
    status, _, err = run(capsys, "predict", "v.mp4", "--mod", "r3d_18")
    assert status == 2 and "unrecognized argument '--mod'" in err


def test_recipes_are_listed_and_run_by_name(capsys, tmp_path):
    status, out, _ = run(capsys, "recipes", "--json")
    listed = json.loads(out)
    assert status == 0 and listed["s3dg_ucf101_split1"]["dataset"] == "UCF-101"
    assert listed["s3dg_ucf101_split1"]["model"] == "s3dg"
    from keras_video import training
    config = training.load_config("s3dg_ucf101_split1", ["epochs=2"])
    assert config["name"] == "s3dg_ucf101_split1" and config["epochs"] == 2


def test_info_json_is_one_object_with_the_counts_and_no_framework_logs():
    result = keras_video("info", "s3d", "--frames", "8", "--size", "112", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["params"] > report["trainable_params"] == 8_320_048
    assert report["gmacs"] == pytest.approx(17.978771456 / 8, rel=1e-2)  # 1/2 frames, 1/4 area
    assert not FRAMEWORK_LINE.search(result.stderr), result.stderr
    verbose = keras_video("presets", "s3d", "--verbose")
    assert verbose.returncode == 0 and "s3d.kinetics400" in verbose.stdout
    assert FRAMEWORK_LINE.search(verbose.stderr)  # --verbose shows them (the test can fail)


def test_presets_json_gives_null_where_the_table_gives_a_dash(capsys):
    status, out, _ = run(capsys, "presets", "s3d", "--json")
    rows = json.loads(out)
    assert status == 0 and rows["s3d.imagenet"]["top1"] is None  # inflated: no figure of its own
    assert isinstance(rows["s3d.kinetics400"]["top1"], float)
    status, out, _ = run(capsys, "presets", "s3d")
    imagenet = next(line for line in out.splitlines() if line.startswith("s3d.imagenet"))
    assert status == 0 and " - " in imagenet and "None" not in out


def test_benchmark_refuses_a_negative_warmup(capsys):
    status, _, err = run(capsys, "benchmark", "s3d", "--warmup", "-1")
    assert status == 2 and "--warmup: expected a non-negative integer, got -1" in err


def test_info_table(capsys):
    status, out, _ = run(capsys, "info", "c2d", "--frames", "8", "--size", "64")
    assert status == 0 and "trainable_params" in out and "c2d" in out


def test_benchmark_json(capsys):
    status, out, _ = run(capsys, "benchmark", "fast_s3d", "--frames", "8", "--size", "64",
                         "--repeats", "1", "--warmup", "1", "--batch", "2", "--nojit", "--json")
    assert status == 0
    report = json.loads(out)
    assert {"model", "frames", "size", "batch", "ms_per_clip", "clips_per_s"} <= set(report)
    assert report["batch"] == 2 and report["ms_per_clip"] > 0 and not report["jit_compile"]
    assert report["clips_per_s"] == pytest.approx(1000 / report["ms_per_clip"])


def test_train_then_evaluate_commands(tmp_path, capsys):
    from keras_video import data

    classes = ("move_left", "move_right", "rotate_clockwise")
    for split, seed in (("train", 0), ("test", 1)):
        data.write_synthetic_videos(tmp_path / split, 2, num_frames=8, size=32, classes=classes,
                                    seed=seed, progress=False)
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(f"""
model: {{name: r3d_18, kwargs: {{width_multiplier: 0.125, min_width: 4}}}}
data: {{train: {{root: {tmp_path / 'train'}}}, validation: {{root: {tmp_path / 'test'}}},
       num_frames: 8, stride: 1, crop_size: 32, scale_jitter: null, flip: false,
       eval_clips: 2, eval_crops: 1}}
batch_size: 3
epochs: 3
output_dir: {tmp_path / 'runs'}
""")
    trained = keras_video("train", "--config", str(recipe), "--epochs", "1",
                          "--optimizer.name=adamw", "--json")
    assert trained.returncode == 0, trained.stderr[-3000:]
    result = json.loads(trained.stdout)
    assert result["epochs_run"] == 1 and result["run"].endswith("tiny")
    assert (tmp_path / "runs" / "tiny" / "best" / "config.json").exists()
    status, out, err = run(capsys, "evaluate", "--config", str(recipe), "--json")  # here: fast
    assert status == 0, err[-3000:]
    report = json.loads(out)
    assert report["videos"] == 6 and report["views_per_video"] == 2  # the recipe's 2 x 1
    assert 0 <= report["video_top1"] <= 1 and report["class_names"] == sorted(classes)
    assert (tmp_path / "runs" / "tiny" / "evaluation" / "confusion.png").exists()
    (tmp_path / "taken").write_text("")
    status, _, err = run(capsys, "evaluate", "--config", str(recipe), "--out",
                         str(tmp_path / "taken"))
    assert status == 1 and "taken is a file: the report goes into a folder" in err
    assert err.count("\n") == 1, err  # refused before the evaluation and its progress bar
    assert not FRAMEWORK_LINE.search(trained.stderr), trained.stderr
    # Progress on stderr: Keras' line per epoch (steps done / total, time, metrics) in a log;
    # it heads epochs with "Epoch i/N" only when there are several.
    assert re.search(r"^2/2 - \d+s .* - loss: ", trained.stderr, re.M), trained.stderr


def test_export_then_predict_videos_with_a_timeline(tmp_path, rng, capsys):
    """A preset (as training writes its best model) exported to ONNX, then two real videos
    classified by the .onnx and by the preset: same scores, the preset's labels. The export
    and the ONNX predictions run as a user runs them, in fresh processes; the rest in this one
    (each fresh process pays about 8 s of imports)."""
    from conftest import TINY

    from keras_video import data, presets, zoo
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    presets.save(zoo.get("r3d_18", input_shape=(8, 32, 32, 3), classes=3, **TINY),
                 run_dir / "best", class_names=["walk", "run", "jump"])
    videos = [str(tmp_path / "a.mp4"), str(tmp_path / "b.mkv")]
    for path in videos:  # 20 frames: windows of 8 every 4 start at 0, 4, 8 and 12
        data.write_video(path, rng.integers(0, 256, size=(20, 40, 48, 3)).astype("uint8"), fps=10)

    exported = keras_video("export", str(run_dir / "best"), "--format", "onnx",
                           "--out", str(tmp_path / "m.onnx"))
    assert exported.returncode == 0, exported.stderr
    assert f"path: {tmp_path / 'm.onnx'}" in exported.stdout.splitlines()
    # Without --json, each stage of the export shows on stderr as it runs, with its time.
    assert re.search(r"\[1/2\] building .*best \.\.\. \d+\.\d s\n"
                     r"\[2/2\] tracing and converting to onnx \.\.\. \d+\.\d s", exported.stderr)
    window = ("--window", "8", "--stride", "4", "--top", "2", "--json")
    ran = keras_video("predict", *videos, "--model", str(tmp_path / "m.onnx"), *window)
    assert ran.returncode == 0, ran.stderr
    onnx_result = json.loads(ran.stdout)
    status, out, err = run(capsys, "predict", *videos, "--model", str(run_dir / "best"), *window)
    assert status == 0, err
    keras_result = json.loads(out)
    assert [r["video"] for r in onnx_result] == videos
    for ours, theirs in zip(onnx_result, keras_result):
        assert [w["start_sec"] for w in ours["timeline"]] == [0.0, 0.4, 0.8, 1.2]
        assert ours["timeline"][-1]["end_sec"] == pytest.approx(2.0)
        assert len(ours["top"]) == 2 and {c["class"] for c in ours["top"]} <= {"walk", "run", "jump"}
        assert [c["class"] for c in ours["top"]] == [c["class"] for c in theirs["top"]]
        for a, b in zip(ours["top"], theirs["top"]):
            assert a["score"] == pytest.approx(b["score"], abs=1e-4)

    status, out, _ = run(capsys, "predict", videos[0], "--model", str(tmp_path / "m.onnx"))
    assert status == 0 and out.startswith(videos[0]) and "0.00-0.80" in out
    status, _, err = run(capsys, "export", str(run_dir / "best"), "--format", "onnx",
                         "--quantize", "int8", "--out", str(tmp_path / "q.onnx"))
    assert status == 2 and "--quantize applies to --format tflite" in err
    status, _, err = run(capsys, "predict", videos[0])
    assert status != 0 and "--model" in err
