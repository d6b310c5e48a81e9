"""Parity of exported models with Keras, measured where it says something.

A random-weight network's logits barely depend on its input (noise averages out in the global
pooling), so a fixed absolute tolerance passes a file that ignores its input. Here the error is
measured against how much the Keras outputs vary from clip to clip (`spread`), on clips that
differ (synthetic motion clips: each has its own background, object and colours), and the
reference is the Keras model itself, not export's `classifier_outputs`.

Round trips through the real deployment runtimes, TFLite (ai-edge-litert) and ONNX (tf2onnx +
onnxruntime), are skipped where those packages are not installed."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_video import data
from keras_video.export import signatures, tflite


def motion_clips(count, frames, size, seed=1):
    """`count` uint8 synthetic clips of different classes, backgrounds and objects."""
    per_class = -(-count // len(data.MOTION_CLASSES))
    return data.make_clips(per_class, frames, size, seed=seed)[0][:count]


def keras_outputs(model, clips):
    """`{"logits", "probabilities"}` of a zoo classifier, from the Keras model itself: its
    output, and the input of its "predictions" layer."""
    clips = np.asarray(clips, np.float32)
    head = model.get_layer("predictions")
    logits = np.asarray(keras.Model(model.inputs, head.input)(clips, training=False))
    output = np.asarray(model(clips, training=False))
    if getattr(head.activation, "__name__", None) == "softmax":
        probabilities = output
    else:
        np.testing.assert_array_equal(output, logits)  # built with classifier_activation=None
        probabilities = np.asarray(keras.ops.softmax(logits))
    return {"logits": logits, "probabilities": probabilities}


def spread(values, shift_invariant=False):
    """The RMS of what varies from clip to clip (axis 0) in `values`; `shift_invariant` first
    removes each clip's mean over the last axis (a shift of all logits that softmax ignores)."""
    values = np.asarray(values, np.float64)
    if shift_invariant:
        values = values - values.mean(axis=-1, keepdims=True)
    return float(np.sqrt(np.mean((values - values.mean(axis=0)) ** 2)))


def error_against_spread(result, expected, shift_invariant=False):
    """The largest error of `result`, as a fraction of `expected`'s clip-to-clip spread. A
    file that returns one output for every clip scores about 1 or more."""
    scale = spread(expected, shift_invariant)
    expected = np.asarray(expected, np.float64)
    # The comparison means something only if the clips move the outputs well above float32
    # rounding: otherwise every file, constant ones included, would pass.
    assert scale > 1e-4 * np.abs(expected).max(), \
        f"the clips barely change the outputs (spread {scale:.3g}): use clips that differ more"
    return float(np.abs(np.asarray(result, np.float64) - expected).max() / scale)


def assert_matches_keras(result, expected, tolerance, what, shift_invariant=False):
    error = error_against_spread(result, expected, shift_invariant)
    assert error <= tolerance, (f"{what}: error {error:.3g} of the clip-to-clip spread "
                                f"(tolerance {tolerance:g})")
    return error


def tflite_outputs(model, x, tmp_path):
    """Converts `model` (SavedModel route, builtin ops only) and runs it; returns the output and
    the set of op names in the flatbuffer."""
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    spec = tf.TensorSpec(x.shape, tf.float32)
    signatures.write_functions(tmp_path / "saved_model", model, {"serving_default": tf.function(
        lambda video: model(video, training=False), input_signature=[spec])})
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "saved_model"))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex ops
    content = converter.convert()
    interpreter = interpreter_module.Interpreter(model_content=content)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    ops = set(tflite.ops_used(content))
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), ops


def onnx_outputs(model, x):
    """Converts `model` with tf2onnx (opset 17, dynamic batch) and runs it with onnxruntime."""
    tf2onnx = pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    spec = tf.TensorSpec((None,) + x.shape[1:], tf.float32, name="video")
    proto, _ = tf2onnx.convert.from_function(
        tf.function(lambda v: model(v, training=False)), input_signature=[spec], opset=17)
    session = ort.InferenceSession(proto.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def assert_exports_match(model, x, tmp_path, tolerance=1e-4):
    """A layer-level model through TFLite builtins and ONNX: outputs equal Keras' to
    `tolerance` of their spread over the batch `x` (two inputs or more); returns the TFLite
    op names."""
    expected = np.asarray(model(x, training=False))
    lite, ops = tflite_outputs(model, x, tmp_path)
    assert not any("FLEX" in op.upper() or "CUSTOM" in op.upper() for op in ops), ops
    assert_matches_keras(lite, expected, tolerance, "tflite")
    assert_matches_keras(onnx_outputs(model, x), expected, tolerance, "onnx")
    return ops
