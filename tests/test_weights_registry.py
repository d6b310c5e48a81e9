"""weights="NAME": the registry, download (file:// URLs stand in for the network), mirror,
hash checks, the conversion cache and the errors. Checkpoints are written here in the upstream
formats; nothing is downloaded."""
import dataclasses
import hashlib
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_video import weights, zoo
from keras_video.training import trainer
from keras_video.weights import deepmind_i3d, fetching, registry

from conftest import TINY


def _write_i3d_checkpoint(prefix, model, rng, name_prefix="RGB/inception_i3d/"):
    tensors = {name_prefix + n: rng.normal(size=v.shape).astype("float32")
               for n, v in deepmind_i3d.variable_map(model).items()}
    names = list(tensors)
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[n]) for n in names])
    return {n[len(name_prefix):]: t for n, t in tensors.items()}


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tiny_i3d_entry(request, tmp_path, rng, monkeypatch):
    """A tiny-width copy of a registered I3D entry whose upstream files are local (file://
    URLs), in DeepMind's format with its class count."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv(fetching.MIRROR_ENV, raising=False)
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    registered = registry.get("i3d", getattr(request, "param", "kinetics400"))
    tensors = _write_i3d_checkpoint(upstream / "model.ckpt",
                                    zoo.I3D(classes=registered.classes, **TINY), rng)
    files = tuple(registry.SourceFile(f"file://{upstream}/model.ckpt.{suffix}",
                                      f"tiny_i3d.ckpt.{suffix}",
                                      sha256=_sha256(upstream / f"model.ckpt.{suffix}"))
                  for suffix in ("data-00000-of-00001", "index"))
    entry = dataclasses.replace(registered, name="tiny_test", files=files,
                                model_kwargs={**registered.model_kwargs, **TINY})
    monkeypatch.setitem(registry.REGISTRY["i3d"], "tiny_test", entry)
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
    cached = pathlib.Path(fetching.converted_path(entry))
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
    unhashed = (dataclasses.replace(entry.files[0], sha256=None),) + entry.files[1:]
    registry.REGISTRY["i3d"]["tiny_test"] = dataclasses.replace(entry, files=unhashed)
    # The conversion cache is named after the pinned .index, not the unhashed .data.
    tag = fetching.converted_path(registry.REGISTRY["i3d"]["tiny_test"]).rsplit("_", 1)[1]
    assert tag == entry.files[1].sha256[:8] + ".npz"
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
                    for f in entry.files)
    monkeypatch.setitem(registry.REGISTRY["i3d"], "tiny_test",
                        dataclasses.replace(entry, files=offline))
    monkeypatch.setenv(fetching.MIRROR_ENV, str(mirror))
    with pytest.raises(FileNotFoundError, match="tiny_i3d.ckpt.data.*unreachable.invalid"):
        zoo.I3D(weights="tiny_test", classes=classes, **TINY)
    for f in entry.files:
        (mirror / f.filename).write_bytes((upstream / f.url.rsplit("/", 1)[1]).read_bytes())
    _assert_holds(zoo.I3D(weights="tiny_test", classes=classes, **TINY), tensors)


def test_hash_mismatch_names_the_file_and_both_hashes(tiny_i3d_entry, tmp_path, monkeypatch):
    entry, _, upstream = tiny_i3d_entry
    wrong = "0" * 64
    bad = (dataclasses.replace(entry.files[0], sha256=wrong),) + entry.files[1:]
    monkeypatch.setitem(registry.REGISTRY["i3d"], "tiny_test", dataclasses.replace(entry,
                                                                                files=bad))
    actual = _sha256(upstream / "model.ckpt.data-00000-of-00001")
    with pytest.raises(ValueError, match=f"tiny_i3d.ckpt.data.*expected {wrong}.*got {actual}"):
        zoo.I3D(weights="tiny_test", classes=entry.classes, **TINY)
    # A prefix (torchvision's file-name convention) is checked the same way, here on a mirror.
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "tiny_i3d.ckpt.data-00000-of-00001").write_bytes(b"truncated")
    monkeypatch.setenv(fetching.MIRROR_ENV, str(mirror))
    source = dataclasses.replace(entry.files[0], sha256=None, sha256_prefix=actual[:8])
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


def test_every_entry_is_complete_and_matches_its_builder():
    """Each entry's preprocessing is what its builder's input layer applies, its class list has
    `classes` names, and its files are hash-pinned where a digest is published."""
    assert {(e.model, e.name) for e in registry.ENTRIES} >= {
        ("i3d", "kinetics400"), ("i3d", "kinetics600"), ("s3d", "kinetics400"),
        ("s3dg", "kinetics400"), ("r3d_18", "kinetics400"), ("mc3_18", "kinetics400"),
        ("r2plus1d_18", "kinetics400"), ("ir_csn_152", "kinetics400"),
        ("ip_csn_152", "kinetics400")}
    for entry in registry.ENTRIES:
        assert len(entry.class_names_list()) == entry.classes
        assert entry.files[0].url.startswith(("https://", "http://"))
        for f in entry.files:
            if f.sha256 and f.sha256_prefix:
                assert f.sha256.startswith(f.sha256_prefix)
        assert entry.metrics_level in ("clip", "video") and entry.source and entry.license
        model = zoo.get(entry.model, input_shape=(8, 32, 32, 3), **TINY, **entry.model_kwargs)
        rescaling = model.get_layer("preprocessing")
        mean, std = entry.mean_std
        np.testing.assert_allclose(rescaling.scale, [1 / (255 * s) for s in std], rtol=1e-6)
        np.testing.assert_allclose(rescaling.offset, [-m / s for m, s in zip(mean, std)],
                                   rtol=1e-6)


def test_cli_convert_writes_loadable_weights(tmp_path, rng):
    """`keras-video convert` on a full-size DeepMind-format checkpoint."""
    tensors = _write_i3d_checkpoint(tmp_path / "model.ckpt", zoo.I3D(), rng)
    out = tmp_path / "i3d.weights.h5"
    result = subprocess.run([sys.executable, "-m", "keras_video.cli", "convert",
                             str(tmp_path / "model.ckpt.index"), "--model", "i3d", "--to",
                             str(out), "--json"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["weights"] == str(out)
    _assert_holds(zoo.I3D(weights=str(out)), tensors)
    bad = subprocess.run([sys.executable, "-m", "keras_video.cli", "convert", str(tmp_path /
                          "missing.pth"), "--model", "s3d", "--to", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "does not exist" in bad.stderr


def test_available_lists_registered_and_inflatable_names():
    assert weights.available("i3d") == ["imagenet", "kinetics400", "kinetics600"]
    assert weights.available("ir_csn_50") == ["imagenet"]
    assert weights.available("r3d_18") == ["kinetics400"]


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
