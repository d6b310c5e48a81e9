"""Presets saved as directories: what they hold, loading them with builder overrides, their
facts travelling into every exported file, and the errors of bad presets and files."""
import json
import os
import shutil

import keras
import numpy as np
import pytest

from keras_video import export, inference, presets, zoo

from conftest import CLIP, TINY

NAMES = ["walk", "run", "jump"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny R3D-18 (the zoo network quickest to trace: every test here loads or exports it)
    saved as a preset with three named classes and a clip spec."""
    root = tmp_path_factory.mktemp("presets")
    model = zoo.R3D18(input_shape=CLIP, classes=3, **TINY)
    preset = presets.save(model, root / "tiny_r3d", class_names=NAMES, fps=12, frame_stride=2,
                          short_side=40, source="a test", license="MIT")
    return root, model, preset


def clips(n=2, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n,) + CLIP).astype("float32")


def test_a_saved_preset_holds_the_model_its_names_and_clip_spec(saved):
    root, model, preset = saved
    folder = root / "tiny_r3d"
    assert sorted(os.listdir(folder)) == ["config.json", "metadata.json", "model.weights.h5"]
    assert not [name for name in os.listdir(root) if "partial" in name]
    config = json.loads((folder / "config.json").read_text())
    assert config["registered_name"] == "keras_video>VideoModel"
    assert config["config"]["builder"] == "r3d_18"
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["class_names"] == NAMES and metadata["source"] == "a test"
    assert metadata["parameter_count"] == model.count_params()
    # What the model fixes comes from it: frames and crop from the input, mean / std from its
    # preprocessing layer; the rest from the caller.
    assert metadata["clip"]["frames"] == 8 and metadata["clip"]["crop"] == [32, 32]
    assert (metadata["clip"]["fps"], metadata["clip"]["frame_stride"]) == (12, 2)
    np.testing.assert_allclose(metadata["clip"]["std"], zoo.base.KINETICS_MEAN_STD[1])
    loaded = presets.load(folder)
    assert isinstance(loaded, zoo.VideoModel) and loaded.preset.class_names == tuple(NAMES)
    assert loaded.preset.clip == preset.clip and loaded.preset.name == "tiny_r3d"
    np.testing.assert_array_equal(loaded(clips()), model(clips()))


def test_builders_and_zoo_get_take_a_preset_directory(saved):
    root, model, _ = saved
    built = zoo.get("r3d_18", input_shape=CLIP, classes=3, weights=str(root / "tiny_r3d"), **TINY)
    np.testing.assert_array_equal(built(clips()), model(clips()))
    assert built.preset.class_names == tuple(NAMES)
    with pytest.raises(ValueError, match="holds 'r3d_18' weights; the model is 'mc3_18'"):
        zoo.MC3_18(input_shape=CLIP, classes=3, weights=str(root / "tiny_r3d"), **TINY)


def test_loading_with_builder_overrides(saved):
    root, model, _ = saved
    backbone = presets.load(root / "tiny_r3d", include_top=False, pooling="avg",
                            input_shape=(16, 48, 48, 3))
    assert backbone.output.shape[-1] > 0 and backbone.preset.class_names is None
    full = keras.Model(model.inputs, model.get_layer("res5_block1").output)
    expected = np.asarray(full(clips())).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(presets.load(root / "tiny_r3d", include_top=False,
                                            pooling="avg")(clips()), expected, atol=1e-5)
    # Other classes: a new head, everything else from the preset.
    other = presets.load(root / "tiny_r3d", classes=5)
    assert other.output.shape[-1] == 5 and other.preset.class_names is None
    assert other.preset.metrics == {} and "initialised from tiny_r3d" in other.preset.source
    np.testing.assert_array_equal(other.get_layer("res5_block1").weights[0],
                                  model.get_layer("res5_block1").weights[0])


def test_a_keras_file_keeps_the_preset(saved, tmp_path):
    root, model, _ = saved
    presets.load(root / "tiny_r3d").save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    assert reloaded.preset.class_names == tuple(NAMES) and reloaded.preset.clip.fps == 12
    np.testing.assert_array_equal(reloaded(clips()), model(clips()))
    assert inference.load(tmp_path / "m.keras").class_names == NAMES


@pytest.fixture(scope="module")
def exported_alone(saved, tmp_path_factory):
    """`exported_alone(fmt)`: the preset exported to `fmt` ("savedmodel", "tflite", "onnx"),
    then moved alone into an empty folder; written once per module (each export of even a
    tiny model takes seconds). Tests that damage a file damage a copy."""
    root, _, _ = saved
    done = {}

    def get(fmt):
        if fmt not in done:
            out = tmp_path_factory.mktemp(f"export_{fmt}") / {
                "savedmodel": "serving", "tflite": "m.tflite", "onnx": "m.onnx"}[fmt]
            written = export.export(str(root / "tiny_r3d"), fmt, out)["path"]
            alone = tmp_path_factory.mktemp(f"{fmt}_alone")
            done[fmt] = shutil.move(written, alone / os.path.basename(written))
            assert os.listdir(alone) == [os.path.basename(written)]
        return done[fmt]

    return get


def copy_of(path, folder):
    """A copy of an exported file or SavedModel directory in `folder`."""
    target = os.path.join(folder, os.path.basename(path))
    if os.path.isdir(path):
        return shutil.copytree(path, target)
    return shutil.copy(path, target)


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite", "onnx"])
def test_every_exported_file_carries_the_names_and_clip_spec_alone(saved, exported_alone, fmt):
    """Exported from the preset, moved alone into an empty folder: the file itself still gives
    the class names and the clip spec, and computes the preset's model."""
    root, model, preset = saved
    predictor = inference.load(exported_alone(fmt))
    assert predictor.class_names == NAMES
    assert predictor.clip == preset.clip
    assert predictor.metadata["source"] == "a test" and predictor.metadata["builder"] == "r3d_18"
    np.testing.assert_allclose(predictor(clips()), model(clips()), atol=1e-4)


def test_decode_predictions(saved):
    root, model, _ = saved
    loaded = presets.load(root / "tiny_r3d")
    probabilities = np.asarray(loaded(clips()))
    decoded = inference.decode_predictions(probabilities, top=2, class_names=loaded)
    assert len(decoded) == 2 and all(len(row) == 2 for row in decoded)
    for row, scores in zip(decoded, probabilities):
        best = int(np.argmax(scores))
        assert row[0] == (best, NAMES[best], pytest.approx(float(scores[best])))
        assert row[0][2] >= row[1][2]
    kinetics = inference.decode_predictions(np.eye(400)[[8]], top=1)
    assert kinetics == [[(8, "assembling computer", 1.0)]]
    with pytest.raises(ValueError, match="no class names for 3 classes"):
        inference.decode_predictions(probabilities)


def test_features_are_the_backbones_pooled_output_per_window(saved, tmp_path):
    from keras_video import data
    root, model, _ = saved
    frames = np.random.default_rng(1).integers(0, 256, (20, 36, 44, 3)).astype("uint8")
    video = str(tmp_path / "v.mp4")
    data.write_video(video, frames, fps=10)
    loaded = presets.load(root / "tiny_r3d", input_shape=(None, None, None, 3))
    result = inference.extract_features(loaded, video, window=8, stride=4, frame_stride=1,
                                        fps=10, size=32)
    # Windows of 8 frames every 4 frames of 20: starts 0, 4, 8, 12.
    assert result["features"].shape[0] == 4
    np.testing.assert_allclose(result["start_sec"], [0.0, 0.4, 0.8, 1.2], atol=1e-6)
    backbone = zoo.R3D18(include_top=False, pooling="avg", input_shape=CLIP, **TINY,
                        weights=str(root / "tiny_r3d"))
    spec = presets.ClipSpec(frames=8, crop=32, fps=10, short_side=40)  # as the preset resizes
    with inference.VideoWindows(video, spec, step=4) as windows:
        batch = next(windows.batches(8))
    np.testing.assert_allclose(result["features"], backbone(batch.astype("float32")),
                               atol=1e-5)
    paths = inference.write_features(result, tmp_path / "features")
    assert np.load(paths[0]).shape == result["features"].shape
    assert np.load(paths[1]).shape == (4, 2)


def test_a_misspelt_feature_layer_is_one_error_before_any_video(saved, tmp_path):
    _, model, _ = saved
    results = inference.features_of_videos(["a.mp4", "b.mp4"], model, tmp_path, layer="res5_blok1")
    with pytest.raises(ValueError, match=r"no layer 'res5_blok1' \(did you mean 'res5_block1'"):
        next(results)
    # So is a format it cannot write (a.mp4 does not exist: it was a per-video error before).
    with pytest.raises(ValueError, match="format must be one of npy, npz, got 'csv'"):
        next(inference.features_of_videos(["a.mp4"], model, tmp_path, fmt="csv"))


# ------------------------------------------------------------------------------- bad input
def test_a_preset_missing_a_file_names_it(saved, tmp_path):
    root, _, _ = saved
    broken = tmp_path / "broken"
    shutil.copytree(root / "tiny_r3d", broken)
    os.remove(broken / "model.weights.h5")
    with pytest.raises(presets.PresetError, match="model.weights.h5 is missing"):
        presets.load(broken)
    shutil.copy(root / "tiny_r3d" / "model.weights.h5", broken)
    (broken / "metadata.json").write_text('{"class_names": ["a"')  # truncated
    with pytest.raises(presets.PresetError, match="metadata.json is corrupt"):
        presets.load(broken)
    shutil.copy(root / "tiny_r3d" / "metadata.json", broken)
    with open(broken / "model.weights.h5", "r+b") as f:  # a flipped byte in the weights
        f.seek(4000)
        byte = f.read(1)
        f.seek(4000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(presets.PresetError, match="does not match the sha256"):
        presets.load(broken)


def test_save_refuses_wrong_class_names_and_leaves_nothing_behind(tmp_path, monkeypatch):
    model = zoo.S3D(input_shape=CLIP, classes=3, **TINY)
    with pytest.raises(ValueError, match="2 class names for a model with 3 outputs"):
        presets.save(model, tmp_path / "p", class_names=["a", "b"])
    with pytest.raises(ValueError, match="clip frames=16 contradicts the model"):
        presets.save(model, tmp_path / "p", class_names=NAMES, frames=16)
    assert os.listdir(tmp_path) == []
    presets.save(model, tmp_path / "p", class_names=NAMES)
    with pytest.raises(FileExistsError):
        presets.save(model, tmp_path / "p", class_names=NAMES)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save_weights", disk_full)
    with pytest.raises(OSError, match="No space left"):
        presets.save(model, tmp_path / "p", class_names=["x", "y", "z"], overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["p"]  # the earlier preset, whole
    assert presets.read_directory(tmp_path / "p").class_names == tuple(NAMES)


@pytest.mark.parametrize("fmt", ["tflite", "onnx", "savedmodel"])
def test_damaged_exported_files_are_refused_with_their_name(exported_alone, tmp_path, fmt):
    path = copy_of(exported_alone(fmt), tmp_path)
    target = os.path.join(path, "variables", "variables.data-00000-of-00001") \
        if fmt == "savedmodel" else path
    content = bytearray(open(target, "rb").read())
    content[len(content) // 2] ^= 0x01  # one flipped bit, in the weights
    open(target, "wb").write(bytes(content))
    with pytest.raises(inference.CorruptModelError, match=f"{os.path.basename(path)}.*damaged"):
        inference.load(path)


def test_corrupt_metadata_in_an_exported_file_names_the_file(exported_alone, tmp_path):
    import onnx
    proto = onnx.load(exported_alone("onnx"))
    onnx.helper.set_model_props(proto, {"keras_video": '{"format_version": 1, "class_na'})
    onnx.save(proto, tmp_path / "bad.onnx")
    with pytest.raises(inference.CorruptModelError, match="bad.onnx.*not valid JSON"):
        inference.load(tmp_path / "bad.onnx")


def test_unknown_presets_and_weights_say_what_exists(tmp_path):
    with pytest.raises(ValueError, match="Registered presets: .*s3d.kinetics400"):
        presets.load("s3d.kinetics700")
    with pytest.raises(ValueError, match=r"'s3dg.kinetic400' \(did you mean 's3dg.kinetics400'"):
        presets.load("s3dg.kinetic400")
    with pytest.raises(ValueError, match=r"'kinetics40' for model 's3d' \(did you mean "
                                         r"'kinetics400'\?\)"):
        zoo.S3D(weights="kinetics40", **TINY)
    with pytest.raises(ValueError, match="Registered weights for 's3d': imagenet, kinetics400"):
        zoo.S3D(weights="kinetics700", **TINY)
    (tmp_path / "empty").mkdir()
    with pytest.raises(presets.PresetError, match="config.json is missing"):
        presets.load(tmp_path / "empty")


def test_weights_for_a_model_that_holds_its_own_are_refused_not_ignored(saved, exported_alone,
                                                                       tmp_path, monkeypatch):
    root, model, _ = saved
    keras_file = tmp_path / "m.keras"
    model.save(keras_file)
    for target in (model, root / "tiny_r3d", keras_file, exported_alone("onnx"),
                   exported_alone("tflite"), exported_alone("savedmodel")):
        with pytest.raises(ValueError, match="holds its own weights: weights='kinetics400'"):
            inference.load(target, weights="kinetics400")
    with pytest.raises(ValueError, match="s3d.kinetics400 holds its own weights"):
        inference.keras_model("s3d.kinetics400", weights="imagenet")
    with pytest.raises(ValueError, match="m.keras holds its own weights"):
        next(inference.features_of_videos([], keras_file, tmp_path / "f", weights="kinetics400"))
    # A folder named like a registered model is read first: the error says so.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s3d").mkdir()
    with pytest.raises(ValueError, match="s3d here is a file or folder, which is read before "
                                         "the registered model 's3d'"):
        inference.load("s3d", weights="kinetics400")
    with pytest.raises(ValueError, match=r"'r3d18' \(did you mean 'r3d_18'\?\) is not a file"):
        inference.keras_model("r3d18")


def test_a_top_k_below_one_is_refused_before_decoding(saved):
    _, model, _ = saved
    predictor = inference.load(model)
    for k in (0, -1, 2.5):
        # The path does not exist: the check comes before the video is opened.
        with pytest.raises(ValueError, match=f"a positive integer or None, got {k}"):
            inference.classify_video(predictor, "missing.mp4", top_k=k)
        with pytest.raises(ValueError, match="top_k must be a positive integer"):
            next(inference.classify_videos(["missing.mp4"], model, top_k=k))
        with pytest.raises(ValueError, match="top_k must be a positive integer"):
            inference.decode_predictions(np.full((1, 3), 1 / 3), top=k, class_names=NAMES)
    # None is every class, as before.
    every = inference.decode_predictions(np.full((1, 3), 1 / 3), top=None, class_names=NAMES)
    assert len(every[0]) == 3


# ------------------------------------------------------------------ the command line reads them
@pytest.fixture(scope="module")
def video(tmp_path_factory):
    from keras_video import data
    path = tmp_path_factory.mktemp("video") / "v.mp4"
    data.write_video(str(path), np.random.default_rng(2).integers(0, 256, (30, 40, 48, 3))
                     .astype("uint8"), fps=12)
    return str(path)


def predict_json(capsys, *args):
    from keras_video import cli
    status = cli.main(["predict", *args, "--json"])
    out, err = capsys.readouterr()
    return status, (json.loads(out) if out else None), err


def test_predict_reads_names_and_clip_from_the_preset_and_each_file_alone(saved, exported_alone,
                                                                         video, capsys):
    root, model, preset = saved
    status, result, err = predict_json(capsys, video, "--model", str(root / "tiny_r3d"))
    assert status == 0, err
    assert {c["class"] for c in result["top"]} == set(NAMES)
    # The preset's clip: 8 frames every 2nd frame at 12 fps, short side 40, crop 32.
    assert (result["window"], result["frame_stride"], result["size"]) == (8, 2, [32, 32])
    assert result["fps"] == 12
    for fmt in ("savedmodel", "tflite", "onnx"):
        status, exported, err = predict_json(capsys, video, "--model", str(exported_alone(fmt)))
        assert status == 0, err
        assert [c["class"] for c in exported["top"]] == [c["class"] for c in result["top"]]
        assert exported["window"] == preset.clip.frames == 8
        for ours, theirs in zip(exported["top"], result["top"]):
            assert ours["score"] == pytest.approx(theirs["score"], abs=1e-4)


def test_predict_with_a_registered_weights_entry_from_a_mirror(tmp_path, video, capsys,
                                                               monkeypatch):
    """A weights entry whose upstream file the test writes into a local mirror (its real
    sha256): `predict --model NAME --weights ENTRY` prints the entry's class names, through
    the same code path as preset directories."""
    import dataclasses
    import hashlib
    from keras_video.weights import fetching
    source = zoo.S3D(input_shape=CLIP, classes=3, **TINY)
    mirror = tmp_path / "mirror"
    presets.save(source, tmp_path / "upstream", class_names=["x"] * 3)
    mirror.mkdir()
    shutil.copy(tmp_path / "upstream" / "model.weights.h5", mirror / "tiny_s3d.weights.h5")
    digest = hashlib.sha256((mirror / "tiny_s3d.weights.h5").read_bytes()).hexdigest()

    def convert(model, path):
        model.load_weights(path)
        return model

    registered = presets.get("s3d.kinetics400")
    entry = dataclasses.replace(
        registered, name="s3d.tiny_entry", class_names=("left", "right", "still"),
        model=presets.model_config("s3d", classes=3, input_shape=list(CLIP), **TINY),
        weights=presets.UpstreamWeights((presets.SourceFile(
            "https://unreachable.invalid/tiny_s3d.weights.h5", "tiny_s3d.weights.h5",
            sha256=digest),), convert, "keras"),
        clip=dataclasses.replace(registered.clip, frames=8, crop=(32, 32), short_side=None))
    monkeypatch.setitem(presets._REGISTRY, entry.name, entry)
    monkeypatch.setenv(fetching.MIRROR_ENV, str(mirror))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    status, result, err = predict_json(capsys, video, "--model", "s3d", "--weights",
                                       "tiny_entry")
    assert status == 0, err
    assert {c["class"] for c in result["top"]} == {"left", "right", "still"}
    status, by_name, err = predict_json(capsys, video, "--model", "s3d.tiny_entry")
    assert status == 0 and by_name["top"] == result["top"], err
    # Built here at the clip asked for, the weights loaded once (not refused the second time).
    status, sized, err = predict_json(capsys, video, "--model", "s3d", "--weights", "tiny_entry",
                                      "--window", "8", "--size", "32")
    assert status == 0 and sized["top"] == result["top"], err
    from keras_video import cli
    assert cli.main(["features", video, "--model", "s3d", "--weights", "tiny_entry", "--size",
                     "32", "--out", str(tmp_path / "features")]) == 0, capsys.readouterr().err
    expected = np.asarray(source(next(inference.VideoWindows(
        video, presets.ClipSpec(frames=8, crop=32, fps=15)).batches(1)).astype("float32")))
    assert result["timeline"][0]["top"][0]["class"] == ("left", "right", "still")[
        int(np.argmax(expected))]


def test_one_bad_video_costs_only_its_own_result(saved, video, tmp_path, capsys):
    root, _, _ = saved
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    status, results, err = predict_json(capsys, video, str(bad), video, "--model",
                                        str(root / "tiny_r3d"))
    assert status == 1  # some video failed
    assert [("error" in r) for r in results] == [False, True, False]
    assert str(bad) in results[1]["video"] and "\n" not in results[1]["error"]
    assert results[0]["top"] == results[2]["top"]


def test_a_bad_videos_line_goes_to_stderr_and_debug_raises_it(saved, video, tmp_path, capsys):
    from keras_video import cli, data
    root, _, _ = saved
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    status = cli.main(["predict", str(bad), video, "--model", str(root / "tiny_r3d")])
    out, err = capsys.readouterr()
    assert status == 1 and out.startswith(video) and f"{bad}: error:" in err
    with pytest.raises(data.VideoDecodeError):
        cli.main(["predict", str(bad), video, "--model", str(root / "tiny_r3d"), "--debug"])
    # One path is one video (a string is not iterated as its characters).
    results = list(inference.classify_videos(video, str(root / "tiny_r3d")))
    assert [r["video"] for r in results] == [video] and "top" in results[0]


def test_features_command_writes_one_row_per_window(saved, video, tmp_path, capsys):
    from keras_video import cli
    root, _, _ = saved
    status = cli.main(["features", video, "--model", str(root / "tiny_r3d"), "--out",
                       str(tmp_path / "f"), "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    row = json.loads(out)["videos"][0]
    features = np.load(tmp_path / "f" / "v.npy")
    times = np.load(tmp_path / "f" / "v.timestamps.npy")
    assert features.shape == (row["windows"], row["channels"]) and times.shape == (row["windows"], 2)
    assert np.all(np.diff(times[:, 0]) > 0)


def test_videos_of_one_file_name_do_not_overwrite_each_others_features(saved, video, tmp_path,
                                                                       capsys):
    from keras_video import cli
    root, _, _ = saved
    other = tmp_path / "b" / os.path.basename(video)  # b/v.mp4 beside a/v.mp4
    other.parent.mkdir()
    shutil.copy(video, other)
    status = cli.main(["features", video, str(other), "--model", str(root / "tiny_r3d"),
                       "--out", str(tmp_path / "f"), "--json"])
    out, err = capsys.readouterr()
    first, second = json.loads(out)["videos"]
    assert status == 1 and first["paths"] and "error" not in first
    assert "would replace those of" in second["error"] and video in second["error"]
    assert sorted(os.listdir(tmp_path / "f")) == ["v.npy", "v.timestamps.npy"]
