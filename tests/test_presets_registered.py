"""Registered presets (weights="NAME"): the registry, download (file:// URLs stand in for the
network), mirror, hash checks, the conversion cache and the errors. Checkpoints are written here
in the upstream formats; nothing is downloaded."""
import dataclasses
import hashlib
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_video import presets, zoo
from keras_video.training import trainer
from keras_video.weights import fetching
from keras_video.zoo.inception3d import deepmind_i3d

from conftest import TINY, fixtures_or_skip


def _write_i3d_checkpoint(prefix, model, rng, name_prefix="RGB/inception_i3d/"):
    tensors = {name_prefix + n: rng.normal(size=v.shape).astype("float32")
               for n, v in deepmind_i3d.variable_map(model).items()}
    names = list(tensors)
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[n]) for n in names])
    return {n[len(name_prefix):]: t for n, t in tensors.items()}


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _register(monkeypatch, preset):
    monkeypatch.setitem(presets._REGISTRY, preset.name, preset)


def _with_files(preset, files):
    return dataclasses.replace(preset, weights=dataclasses.replace(preset.weights, files=files))


@pytest.fixture
def tiny_i3d_entry(request, tmp_path, rng, monkeypatch):
    """A tiny-width copy of a registered I3D entry whose upstream files are local (file://
    URLs), in DeepMind's format with its class count."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv(fetching.MIRROR_ENV, raising=False)
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    registered = presets.get("i3d." + getattr(request, "param", "kinetics400"))
    tensors = _write_i3d_checkpoint(upstream / "model.ckpt",
                                    zoo.I3D(classes=registered.classes, **TINY), rng)
    files = tuple(presets.SourceFile(f"file://{upstream}/model.ckpt.{suffix}",
                                     f"tiny_i3d.ckpt.{suffix}",
                                     sha256=_sha256(upstream / f"model.ckpt.{suffix}"))
                  for suffix in ("data-00000-of-00001", "index"))
    entry = dataclasses.replace(
        _with_files(registered, files), name="i3d.tiny_test",
        model=presets.model_config("i3d", classes=registered.classes, **TINY))
    _register(monkeypatch, entry)
    return entry, tensors, upstream


def _assert_holds(model, tensors, head=True):
    for name, variable in deepmind_i3d.variable_map(model).items():
        if name.startswith("Logits") and not head:
            continue
        np.testing.assert_array_equal(variable.numpy(), tensors[name].reshape(variable.shape))


@pytest.mark.parametrize("tiny_i3d_entry", ["kinetics400", "kinetics600"], indirect=True)
def test_download_convert_cache_and_backbone(tiny_i3d_entry):
    entry, tensors, upstream = tiny_i3d_entry
    classes = entry.classes
    _assert_holds(zoo.I3D(weights="tiny_test", classes=classes, **TINY), tensors)
    cached = pathlib.Path(fetching.converted_path(entry.name, entry.weights.files))
    assert cached.suffix == ".npz" and cached.exists()
    downloads = cached.parent.parent / "downloads"
    for f in list(upstream.iterdir()) + list(downloads.iterdir()):
        f.unlink()  # the cache alone serves later loads
    _assert_holds(zoo.I3D(weights="tiny_test", classes=classes, **TINY), tensors)
    backbone = zoo.I3D(weights="tiny_test", include_top=False, pooling="avg",
                       input_shape=(8, 32, 32, 3), **TINY)
    assert "Logits_Conv3d_0c_1x1" not in {layer.name for layer in backbone.layers}
    _assert_holds(backbone, tensors)


def test_tensorflow_checks_the_unhashed_data_file_against_the_index(tiny_i3d_entry):
    """DeepMind's .data files have no published digest: a corrupted one must still fail,
    through the CRC32C of each tensor in the (pinned) .index."""
    entry, _, upstream = tiny_i3d_entry
    files = entry.weights.files
    unhashed = (dataclasses.replace(files[0], sha256=None),) + files[1:]
    presets._REGISTRY[entry.name] = _with_files(entry, unhashed)
    # The conversion cache is named after the pinned .index, not the unhashed .data.
    tag = fetching.converted_path(entry.name, unhashed).rsplit("_", 1)[1]
    assert tag == files[1].sha256[:8] + ".npz"
    data = upstream / "model.ckpt.data-00000-of-00001"
    corrupted = bytearray(data.read_bytes())
    corrupted[len(corrupted) // 2] ^= 0xFF
    data.write_bytes(bytes(corrupted))
    with pytest.raises(tf.errors.OpError, match="Checksum does not match"):
        zoo.I3D(weights="tiny_test", classes=entry.classes, **TINY)


def test_mirror_directory_replaces_the_network(tiny_i3d_entry, tmp_path, monkeypatch):
    entry, tensors, upstream = tiny_i3d_entry
    classes = entry.classes
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    offline = tuple(dataclasses.replace(f, url="https://unreachable.invalid/" + f.filename)
                    for f in entry.weights.files)
    _register(monkeypatch, _with_files(entry, offline))
    monkeypatch.setenv(fetching.MIRROR_ENV, str(mirror))
    with pytest.raises(FileNotFoundError, match="tiny_i3d.ckpt.data.*unreachable.invalid"):
        zoo.I3D(weights="tiny_test", classes=classes, **TINY)
    for f in entry.weights.files:
        (mirror / f.filename).write_bytes((upstream / f.url.rsplit("/", 1)[1]).read_bytes())
    _assert_holds(zoo.I3D(weights="tiny_test", classes=classes, **TINY), tensors)


def test_hash_mismatch_names_the_file_and_both_hashes(tiny_i3d_entry, tmp_path, monkeypatch):
    entry, _, upstream = tiny_i3d_entry
    wrong = "0" * 64
    files = entry.weights.files
    bad = (dataclasses.replace(files[0], sha256=wrong),) + files[1:]
    _register(monkeypatch, _with_files(entry, bad))
    actual = _sha256(upstream / "model.ckpt.data-00000-of-00001")
    with pytest.raises(ValueError, match=f"tiny_i3d.ckpt.data.*expected {wrong}.*got {actual}"):
        zoo.I3D(weights="tiny_test", classes=entry.classes, **TINY)
    # A prefix (torchvision's file-name convention) is checked the same way, here on a mirror.
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "tiny_i3d.ckpt.data-00000-of-00001").write_bytes(b"truncated")
    monkeypatch.setenv(fetching.MIRROR_ENV, str(mirror))
    source = dataclasses.replace(files[0], sha256=None, sha256_prefix=actual[:8])
    with pytest.raises(ValueError, match=f"mirror.*expected {actual[:8]}.*got "
                                         f"{hashlib.sha256(b'truncated').hexdigest()}"):
        fetching.fetch(source)


def test_unknown_names_and_wrong_classes_say_what_to_do():
    with pytest.raises(ValueError, match="Registered weights for 's3d': imagenet, kinetics400"):
        zoo.S3D(weights="kinetics700", **TINY)
    with pytest.raises(ValueError, match="400 classes.*classes=101.*include_top=False"):
        zoo.I3D(weights="kinetics400", classes=101, **TINY)
    with pytest.raises(ValueError, match="none"):
        zoo.get("ir_csn_26", weights="kinetics400", **TINY)


def test_every_preset_is_complete_and_matches_its_builder():
    """Each registered preset's clip spec has the mean / std its builder's input layer applies,
    its class list one name per output, its files hash-pinned where a digest is published."""
    assert {"i3d.kinetics400", "i3d.kinetics600", "s3d.kinetics400", "s3dg.kinetics400",
            "r3d_18.kinetics400", "mc3_18.kinetics400", "r2plus1d_18.kinetics400",
            "ir_csn_152.kinetics400", "ip_csn_152.kinetics400"} <= set(presets.list_presets())
    models = {}
    for name in presets.list_presets():
        preset = presets.get(name)
        if preset.builder not in models:  # one tiny build per builder
            models[preset.builder] = presets.build(preset.model, input_shape=(8, 32, 32, 3),
                                                   include_top=True, classes=400, **TINY)
        model = models[preset.builder]
        assert model.builder == preset.builder and name.startswith(preset.builder + ".")
        clip = presets.model_clip(model)
        np.testing.assert_allclose(clip.mean, preset.clip.mean, rtol=1e-6, err_msg=name)
        np.testing.assert_allclose(clip.std, preset.clip.std, rtol=1e-6, err_msg=name)
        if isinstance(preset.weights, presets.InflatedWeights):
            assert preset.class_names is None and preset.weights_name == "imagenet"
            continue
        assert len(preset.class_names) == preset.classes
        assert preset.model["config"]["arguments"]["classes"] == preset.classes
        assert preset.weights.files[0].url.startswith(("https://", "http://"))
        for f in preset.weights.files:
            if f.sha256 and f.sha256_prefix:
                assert f.sha256.startswith(f.sha256_prefix)
        assert preset.metrics_level in ("clip", "video") and preset.source and preset.license


def test_the_kinetics_label_lists_are_deepminds():
    """The Kinetics-400 / -600 names every Kinetics preset carries are DeepMind's label maps,
    line for line (torchvision and VMZ order Kinetics-400 the same way)."""
    for classes, fixture in ((400, "label_map.txt"), (600, "label_map_600.txt")):
        path = fixtures_or_skip("kinetics-i3d", "data", fixture)
        expected = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        assert len(expected) == classes
        kinetics = [presets.get(n) for n in presets.list_presets()
                    if presets.get(n).classes == classes]
        assert kinetics and all(list(p.class_names) == expected for p in kinetics)
    # kylemin/S3D's list, whose weights torchvision ported, is the same.
    s3d_sample = fixtures_or_skip("s3d-sample", "label_map.txt")
    names = [line.strip() for line in s3d_sample.read_text().splitlines() if line.strip()]
    assert names == list(presets.get("s3d.kinetics400").class_names)


def test_cli_convert_writes_loadable_weights(tmp_path, rng):
    """`keras-video convert` on a full-size DeepMind-format checkpoint."""
    tensors = _write_i3d_checkpoint(tmp_path / "model.ckpt", zoo.I3D(), rng)
    out = tmp_path / "i3d.weights.h5"
    result = subprocess.run([sys.executable, "-m", "keras_video_cli", "convert",
                             str(tmp_path / "model.ckpt.index"), "--model", "i3d", "--to",
                             str(out), "--json"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["weights"] == str(out)
    _assert_holds(zoo.I3D(weights=str(out)), tensors)
    bad = subprocess.run([sys.executable, "-m", "keras_video_cli", "convert", str(tmp_path /
                          "missing.pth"), "--model", "s3d", "--to", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "does not exist" in bad.stderr


def test_available_lists_registered_and_inflatable_names():
    assert presets.available("i3d") == ["imagenet", "kinetics400", "kinetics600"]
    assert presets.available("ir_csn_50") == ["imagenet"]
    assert presets.available("r3d_18") == ["kinetics400"]


def test_trainer_keeps_the_head_only_for_the_same_classes(tiny_i3d_entry):
    """A recipe naming registered weights fine-tunes from them: with the entry's classes the
    classifier comes too, with other classes the trainer builds a new one."""
    entry, tensors, _ = tiny_i3d_entry
    config = {"model": {"name": "i3d", "weights": "tiny_test", "kwargs": TINY},
              "data": {"num_frames": 8, "crop_size": 32}, "freeze_bn": False}
    same = trainer.build_model(config, entry.classes)
    _assert_holds(same, tensors)
    other = trainer.build_model(config, 7)
    assert other.get_layer("Logits_Conv3d_0c_1x1").kernel.shape[-1] == 7
    _assert_holds(other, tensors, head=False)
