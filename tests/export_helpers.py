"""Round trips through the real deployment runtimes: TFLite (ai-edge-litert) and ONNX
(tf2onnx + onnxruntime). Skipped where those packages are not installed."""
import numpy as np
import pytest
import tensorflow as tf

from keras_video.export import signatures, tflite


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


def assert_exports_match(model, x, tmp_path, atol):
    expected = np.asarray(model(x, training=False))
    lite, ops = tflite_outputs(model, x, tmp_path)
    assert not any("FLEX" in op.upper() or "CUSTOM" in op.upper() for op in ops), ops
    np.testing.assert_allclose(lite, expected, atol=atol)
    np.testing.assert_allclose(onnx_outputs(model, x), expected, atol=atol)
    return ops
