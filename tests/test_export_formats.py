"""Every registered model leaves Keras and computes the same function in each runtime:
SavedModel (its uint8 serving signature and its normalized one), TFLite through
ai-edge-litert, ONNX through onnxruntime. Outputs are compared with the Keras model's own, to a
fraction of how much they vary between clips (`export_helpers`). Each model's files are written
once per module and shared by the tests that read them."""
import os

import numpy as np
import pytest

from keras_video import export, presets, zoo

from conftest import CLIP, TINY
from export_helpers import assert_matches_keras, keras_outputs, motion_clips

pytest.importorskip("ai_edge_litert")
pytest.importorskip("onnxruntime")

NAMES = ["alpha", "beta", "gamma", "delta", "epsilon"]
# Float32 files differ from Keras by rounding alone: measured at most 2e-5 of the clip-to-clip
# spread; a file that ignores its input is off by about 1.
FLOAT_TOLERANCE = 1e-3
# The default run exports one member of each set of layers: S3D-G (separable convs, gating,
# 3D max pools, the Inception blocks), ir-CSN-26 (depthwise 3D convs, a full 3x7x7 stem conv,
# residual units) and R(2+1)D. The other Inception members combine S3D-G's layers with full 3D
# convs (I3D, as in ir-CSN's stem) or with none in time (C2D, S3D-G's spatial convs); ip-CSN
# adds only a 1x1x1 conv to ir-CSN's depthwise blocks, and the deeper CSNs stack more of them
# (each costs 1-2.5 minutes); R3D's full 3x3x3 units are I3D's, MC3 mixes R3D's and R(2+1)D's
# blocks. They run under -m slow.
SLOW = {"i3d", "c2d", "s3d", "top_heavy_s3d", "bottom_heavy_s3d", "fast_s3d",
        "bottom_heavy_i3d", "top_heavy_i3d", "ip_csn_26", "ir_csn_50", "ip_csn_50",
        "ir_csn_101", "ip_csn_101", "ir_csn_152", "ip_csn_152", "r3d_18", "mc3_18"}


def tiny(name, **kwargs):
    return zoo.get(name, **{"input_shape": CLIP, "classes": 5, **TINY, **kwargs})


def no_flex_or_custom_ops(ops):
    return not any("FLEX" in op.upper() or "CUSTOM" in op.upper() for op in ops)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`exported(name)`: a tiny build of the model and its SavedModel, TFLite and ONNX files,
    written on first use."""
    done = {}

    def get(name):
        if name not in done:
            folder = tmp_path_factory.mktemp(name)
            model = tiny(name)
            done[name] = dict(
                model=model,
                savedmodel=export.export_savedmodel(model, folder / "serving",
                                                    class_names=NAMES, warmup=False),
                tflite=export.export_tflite(model, folder / "m.tflite", class_names=NAMES),
                onnx=export.export_onnx(model, folder / "m.onnx", class_names=NAMES))
        return done[name]

    return get


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in zoo.list_models()])
def test_every_format_computes_what_the_keras_model_computes(name, exported):
    files = exported(name)
    model = files["model"]
    clips = motion_clips(6, *CLIP[:2])
    expected = keras_outputs(model, clips)
    lite = files["tflite"]
    assert no_flex_or_custom_ops(lite["ops"]) and lite["bytes"] == os.path.getsize(lite["path"])
    # XNNPACK runs the whole graph: an op it cannot run (a MIRROR_PAD, a strided slice, a
    # 7-input concatenation) runs on TFLite's own kernels and made S3D's file 1.6x slower.
    assert lite["xnnpack_partitions"] == 1, lite["ops"]
    # Every 5D tensor and the outputs keep the input's named batch: onnxruntime plans before
    # a run the memory of tensors whose shapes the inputs resolve (allocated during the run,
    # ir-CSN-50's residual ReLUs took twice as long).
    assert onnx_batches(files["onnx"]["path"]) == {"batch"}
    errors = {}
    for path in (files["savedmodel"], lite["path"], files["onnx"]["path"]):
        predictor = export.load(path)
        result = predictor.run(clips)
        errors[predictor.format] = (
            assert_matches_keras(result["logits"], expected["logits"], FLOAT_TOLERANCE,
                                 f"{name} {predictor.format} logits", shift_invariant=True),
            assert_matches_keras(result["probabilities"], expected["probabilities"],
                                 FLOAT_TOLERANCE, f"{name} {predictor.format} probabilities"))
        assert predictor.class_names == NAMES and predictor.clip_shape == CLIP[:3]
    # The normalized signature takes clips the caller normalised as the model's preprocessing
    # layer would.
    normalized = export.load(files["savedmodel"]).loaded.signatures["normalized"]
    clip = presets.model_clip(model)
    video = (clips / 255.0 - np.asarray(clip.mean)) / np.asarray(clip.std)
    result = normalized(video=video.astype("float32"))
    assert_matches_keras(result["logits"].numpy(), expected["logits"], FLOAT_TOLERANCE,
                         f"{name} normalized logits", shift_invariant=True)
    assert_matches_keras(result["probabilities"].numpy(), expected["probabilities"],
                         FLOAT_TOLERANCE, f"{name} normalized probabilities")
    print(f"\n{name}: largest (logit, probability) error of the clip-to-clip spread: {errors}")


def onnx_batches(path):
    """The first axis of each 5D and 2D tensor (the clip's and the head's) of an ONNX file,
    by shape inference."""
    import onnx
    graph = onnx.shape_inference.infer_shapes(onnx.load(path)).graph
    dims = [info.type.tensor_type.shape.dim for info in list(graph.value_info) + list(graph.output)]
    return {d[0].dim_param or d[0].dim_value for d in dims if len(d) in (2, 5)}


def test_tflite_falls_back_to_reference_kernels_when_xnnpack_refuses(exported, monkeypatch):
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

    path = exported("ir_csn_26")["tflite"]["path"]
    clips = motion_clips(2, *CLIP[:2])
    with_xnnpack = export.load(path)
    monkeypatch.setattr(litert, "Interpreter", XNNPACKRefuses)
    fallback = export.load(path)
    assert (with_xnnpack.delegate, fallback.delegate) == ("xnnpack", "none")
    np.testing.assert_allclose(fallback(clips), with_xnnpack(clips), atol=1e-5)


def test_loader_errors_and_labels(tmp_path):
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
