"""ONNX export through tf2onnx, with a dynamic batch axis and the labels in the metadata."""
import json
import os

import tensorflow as tf

from keras_video.export import signatures

MIN_OPSET = 17


def export_onnx(model, path, *, frames=None, size=None, opset=MIN_OPSET, class_names=None):
    """Writes an `.onnx` file taking float32 RGB video `(batch, frames, height, width, 3)` in
    [0, 255], batch dynamic (frames and size too where the model and `frames` / `size` leave
    them open), returning `logits` and `probabilities`. The class names are stored as the
    model's `class_names` metadata (JSON). Returns `{"path", "bytes", "opset"}`."""
    try:
        import onnx
        import tf2onnx  # noqa: F401  (onnx_graph converts with it)

        from keras_video.export import onnx_graph
    except ImportError:
        raise ImportError("ONNX export needs tf2onnx and onnx: pip install "
                          "'keras-video[export]'") from None
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be >= {MIN_OPSET}, got {opset}")
    names = signatures.class_names_for(model, class_names)
    outputs = signatures.classifier_outputs(model)
    spec = signatures.signature_spec(model, frames, size, dtype=tf.float32)
    function = tf.function(lambda video: outputs(video, training=False), input_signature=[spec])
    proto = onnx_graph.convert(function, spec, opset)
    for axis, name in zip(proto.graph.input[0].type.tensor_type.shape.dim,
                          ("batch", "frames", "height", "width")):
        if not axis.HasField("dim_value"):
            axis.dim_param = name
    onnx.helper.set_model_props(proto, {"class_names": json.dumps(names),
                                        "producer": "keras-video"})
    content = proto.SerializeToString()
    partial = signatures.atomic_path(path)
    with open(partial, "wb") as f:
        f.write(content)
    os.replace(partial, path)
    return {"path": os.fspath(path), "bytes": len(content), "opset": opset}
