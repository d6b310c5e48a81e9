"""The SavedModel for TF Serving: versioned layout, its signatures (the uint8 serving one at any
clip size, top-k labels included, and the normalized one), `saved_model_cli`, warm-up requests,
and a failed export leaving the versions before it."""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_video import export, presets, zoo
from keras_video.export import savedmodel

from conftest import TINY
from export_helpers import assert_matches_keras, motion_clips

NAMES = ["alpha", "beta", "gamma", "delta", "epsilon"]


def test_a_failed_savedmodel_export_leaves_the_versions_before_it(serving, monkeypatch):
    model, root, _, _ = serving

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(savedmodel, "write_warmup", crash)  # fails after the graphs are written
    with pytest.raises(OSError, match="disk full"):
        export.export_savedmodel(model, root, frames=8, size=32)
    assert sorted(os.listdir(root)) == ["1", "2"]


@pytest.fixture(scope="module")
def serving(tmp_path_factory):
    """A TF Serving model folder holding two versions of a tiny ir-CSN that takes any clip size."""
    root = tmp_path_factory.mktemp("serving") / "csn"
    model = zoo.get("ir_csn_26", classes=5, **TINY)  # input (None, None, None, 3)
    first = export.export_savedmodel(model, root, class_names=NAMES, top_k=3,
                                     frames=8, size=32)
    second = export.export_savedmodel(model, root, class_names=NAMES, top_k=3)
    return model, root, first, second


def test_serving_layout_versions_and_signatures(serving):
    model, root, first, second = serving
    assert (first, second) == (str(root / "1"), str(root / "2"))
    assert sorted(os.listdir(root)) == ["1", "2"]  # no partial folder left behind
    with pytest.raises(FileExistsError):
        export.export_savedmodel(model, root, version=2)
    assert sorted(os.listdir(root)) == ["1", "2"]
    loaded = tf.saved_model.load(second)
    serve = loaded.signatures["serving_default"]
    spec = serve.structured_input_signature[1]["video"]
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, None, None, None, 3]
    # Any batch, frames and size, non-square included.
    for clips in [motion_clips(3, 8, 32), motion_clips(2, 12, 40)[:, :, :, :36]]:
        out = serve(video=tf.constant(clips))
        expected = np.asarray(model(clips.astype("float32")))
        assert_matches_keras(out["probabilities"].numpy(), expected, 1e-3, "probabilities")
        top = np.argsort(-expected, axis=-1, kind="stable")[:, :3]
        np.testing.assert_array_equal(out["classes"].numpy().astype(str), np.array(NAMES)[top])
        np.testing.assert_allclose(out["scores"], np.take_along_axis(expected, top, -1),
                                   atol=1e-5)
    # The normalized signature: a fixed 16 x 224 x 224 (the model leaves the size open), the
    # clips normalised by the caller as the model's preprocessing layer would.
    normalized = loaded.signatures["normalized"]
    assert normalized.structured_input_signature[1]["video"].shape.as_list() == \
        [None, 16, 224, 224, 3]
    clips = motion_clips(2, 16, 224)
    clip = presets.model_clip(model)
    video = ((clips / 255.0 - np.asarray(clip.mean)) / np.asarray(clip.std)).astype("float32")
    assert_matches_keras(normalized(video=tf.constant(video))["probabilities"].numpy(),
                         np.asarray(model(clips.astype("float32"))), 1e-3,
                         "normalized probabilities")
    assert export.load(root).clip_shape == (None, None, None)  # the newest version


def test_saved_model_cli_shows_and_runs_it(serving, tmp_path, rng):
    _, _, first, _ = serving
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--dir", first, "--all"], capture_output=True,
                           text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert "serving_default" in shown.stdout and "DT_UINT8" in shown.stdout
    assert "(-1, 8, 32, 32, 3)" in shown.stdout and "classes" in shown.stdout
    clip = rng.integers(0, 256, size=(1, 8, 32, 32, 3)).astype("uint8")
    np.save(tmp_path / "clip.npy", clip)
    ran = subprocess.run([cli, "run", "--dir", first, "--tag_set", "serve", "--signature_def",
                          "serving_default", "--inputs", f"video={tmp_path / 'clip.npy'}",
                          "--outdir", str(tmp_path / "out")], capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 0, ran.stderr
    probabilities = np.load(tmp_path / "out" / "probabilities.npy")
    np.testing.assert_allclose(probabilities, export.load(first)(clip), atol=1e-6)


def test_warmup_requests_parse_back(serving):
    _, root, first, _ = serving
    logs = savedmodel.read_warmup(os.path.join(first, savedmodel.WARMUP_FILE))
    assert len(logs) == 1
    request = logs[0].predict_log.request
    assert request.model_spec.name == "csn"
    assert request.model_spec.signature_name == "serving_default"
    video = tf.make_ndarray(request.inputs["video"])
    assert video.dtype == np.uint8 and video.shape == (1, 8, 32, 32, 3)
    export.load(first)(video)  # the request the server replays is one it accepts
