"""Every family leaves Keras and computes the same function in each runtime: SavedModel (TF
Serving layout), TFLite through ai-edge-litert, ONNX through onnxruntime."""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_video import data, export, presets, zoo
from keras_video.export import savedmodel

from conftest import CLIP, TINY

# One member per family: I3D, S3D, S3D-G, a heavy variant, ip-CSN, ir-CSN, R(2+1)D.
FAMILIES = ["i3d", "s3d", "s3dg", "top_heavy_s3d", "ip_csn_26", "ir_csn_26", "r2plus1d_18"]
# S3D and the top-heavy S3D are built from a subset of S3D-G's layers (no gating; temporal
# kernels switched off), and each takes 75 s: the default run leaves them to -m slow.
SUBSETS_OF_S3DG = {"s3d", "top_heavy_s3d"}
NAMES = ["alpha", "beta", "gamma", "delta", "epsilon"]
pytest.importorskip("ai_edge_litert")
pytest.importorskip("onnxruntime")


def tiny(name, **kwargs):
    return zoo.get(name, **{"input_shape": CLIP, "classes": 5, **TINY, **kwargs})


def no_flex_or_custom_ops(ops):
    return not any("FLEX" in op.upper() or "CUSTOM" in op.upper() for op in ops)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)
                                  if n in SUBSETS_OF_S3DG else n for n in FAMILIES])
def test_every_format_computes_what_keras_computes(name, tmp_path, rng):
    model = tiny(name)
    clips = rng.integers(0, 256, size=(2,) + CLIP).astype("uint8")
    expected = export.load(model).run(clips)
    lite = export.export_tflite(model, tmp_path / "m.tflite", class_names=NAMES)
    assert no_flex_or_custom_ops(lite["ops"]) and lite["bytes"] == os.path.getsize(lite["path"])
    paths = [export.export_savedmodel(model, tmp_path / "serving", class_names=NAMES,
                                      warmup=False),
             lite["path"], export.export_onnx(model, tmp_path / "m.onnx", class_names=NAMES)["path"]]
    for path in paths:
        predictor = export.load(path)
        result = predictor.run(clips)
        for key in ("logits", "probabilities"):
            np.testing.assert_allclose(result[key], expected[key], atol=1e-4,
                                       err_msg=f"{predictor.format} {key}")
        assert predictor.class_names == NAMES and predictor.clip_shape == CLIP[:3]


def relative_error(result, expected):
    return float(np.linalg.norm(result - expected) / np.linalg.norm(expected))


@pytest.mark.parametrize("name", [n if n in ("s3dg", "ir_csn_26") else
                                  pytest.param(n, marks=pytest.mark.slow) for n in FAMILIES])
def test_quantized_tflite_stays_close_to_keras(name, tmp_path):
    """The logits of fp16 / dynamic-range int8 / int8 (calibrated on synthetic motion clips)
    files against Keras', as a relative error, and their top-1 agreement, printed (pytest -s).
    Agreement is checked for fp16 only: a random-weight network gives nearly every clip the
    same top-1 by a hair, so int8's agreement here says little (benchmarks/quantization.py
    measures it on a trained model)."""
    model = tiny(name, classes=len(data.MOTION_CLASSES))
    clips, _ = data.make_clips(3, CLIP[0], CLIP[1], seed=1)  # not the calibration clips
    expected = export.load(model).run(clips)
    measured = {}
    for quantize in ("fp16", "dynamic_int8", "int8"):
        report = export.export_tflite(model, tmp_path / f"{quantize}.tflite", quantize=quantize)
        assert no_flex_or_custom_ops(report["ops"])
        result = export.load(report["path"]).run(clips)
        measured[quantize] = {
            "logits_relative_error": relative_error(result["logits"], expected["logits"]),
            "top1_agreement": float(np.mean(result["probabilities"].argmax(-1) ==
                                            expected["probabilities"].argmax(-1)))}
    print(f"\n{name} on {len(clips)} synthetic clips: {measured}")
    assert measured["fp16"]["top1_agreement"] == 1.0
    # Bounds a few times above the errors measured on these models (docs/benchmarks.md,
    # "Quantization"), so that a conversion that loses precision fails.
    assert measured["fp16"]["logits_relative_error"] < 5e-3
    assert measured["dynamic_int8"]["logits_relative_error"] < 0.05
    assert measured["int8"]["logits_relative_error"] < 0.2


def test_int8_takes_uint8_pixels_and_reports_smaller_file(tmp_path):
    model = tiny("ir_csn_26")
    int8 = export.export_tflite(model, tmp_path / "q.tflite", quantize="int8",
                                representative_data=data.make_clips(1, 8, 32)[0][:4])
    predictor = export.load(int8["path"])
    float32_bytes = 4 * model.count_params()
    assert predictor.input["dtype"] == np.uint8 and int8["bytes"] < float32_bytes / 2
    with pytest.raises(ValueError, match="calibration clips are"):
        export.export_tflite(model, tmp_path / "bad.tflite", quantize="int8",
                             representative_data=[np.zeros((1, 8, 16, 16, 3))])
    with pytest.raises(ValueError, match="holds no clips"):
        export.export_tflite(model, tmp_path / "bad.tflite", quantize="int8",
                             representative_data=[])
    with pytest.raises(ValueError, match="quantize must be one of"):
        export.export_tflite(model, tmp_path / "bad.tflite", quantize="int4")
    assert not os.path.exists(tmp_path / "bad.tflite")


def test_tflite_falls_back_to_reference_kernels_when_xnnpack_refuses(tmp_path, monkeypatch):
    from ai_edge_litert import interpreter as litert

    class XNNPACKRefuses(litert.Interpreter):
        """As XNNPACK does with some int8 graphs: allocation fails with the default delegate."""
        def __init__(self, *args, experimental_op_resolver_type=litert.OpResolverType.AUTO,
                     **kwargs):
            self.refuses = experimental_op_resolver_type == litert.OpResolverType.AUTO
            super().__init__(*args, experimental_op_resolver_type=experimental_op_resolver_type,
                             **kwargs)

        def allocate_tensors(self):
            if self.refuses:
                raise RuntimeError("Failed to apply XNNPACK delegate")
            return super().allocate_tensors()

    model = tiny("ir_csn_26")
    path = export.export_tflite(model, tmp_path / "m.tflite")["path"]
    clips = np.random.default_rng(0).integers(0, 256, size=(2,) + CLIP).astype("uint8")
    with_xnnpack = export.load(path)
    monkeypatch.setattr(litert, "Interpreter", XNNPACKRefuses)
    fallback = export.load(path)
    assert (with_xnnpack.delegate, fallback.delegate) == ("xnnpack", "none")
    np.testing.assert_allclose(fallback(clips), with_xnnpack(clips), atol=1e-5)


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


def test_serving_layout_versions_and_signature(serving, rng):
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
    for shape in [(3, 8, 32, 32, 3), (1, 12, 40, 36, 3)]:  # any batch, frames and size
        clips = rng.integers(0, 256, size=shape).astype("uint8")
        out = serve(video=tf.constant(clips))
        expected = np.asarray(model(clips.astype("float32")))
        np.testing.assert_allclose(out["probabilities"], expected, atol=1e-5)
        top = np.argsort(-expected, axis=-1, kind="stable")[:, :3]
        np.testing.assert_array_equal(out["classes"].numpy().astype(str), np.array(NAMES)[top])
        np.testing.assert_allclose(out["scores"], np.take_along_axis(expected, top, -1),
                                   atol=1e-5)
    normalized = loaded.signatures["normalized"]  # fixed 16 x 224 x 224, preprocessing skipped
    assert normalized.structured_input_signature[1]["video"].shape.as_list() == \
        [None, 16, 224, 224, 3]
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


def test_loader_errors_and_labels(tmp_path, rng):
    model = tiny("r2plus1d_18")
    predictor = export.load(model, class_names=NAMES)
    with pytest.raises(ValueError, match=r"takes clips of \(8, 32, 32\)"):
        predictor(np.zeros((1, 8, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="5 classes"):
        export.load(model, class_names=NAMES[:3])
    with pytest.raises(FileNotFoundError):
        export.load(tmp_path / "absent.onnx")
    (tmp_path / "m.pt").write_bytes(b"")
    with pytest.raises(ValueError, match="expected a preset directory"):
        export.load(tmp_path / "m.pt")
    presets.save(model, tmp_path / "preset", class_names=NAMES)
    assert export.load(tmp_path / "preset").class_names == NAMES
    presets.load(tmp_path / "preset").save(tmp_path / "m.keras")  # .keras keeps the preset
    assert export.load(tmp_path / "m.keras").class_names == NAMES
    with pytest.raises(ValueError, match="has no 'predictions' layer"):
        export.export_onnx(zoo.get("r2plus1d_18", include_top=False, **TINY),
                           tmp_path / "backbone.onnx")
