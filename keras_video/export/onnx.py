"""ONNX export through tf2onnx, with a dynamic batch axis, and the class names, clip spec and
digest in the file's `metadata_props`."""
import json
import os

import tensorflow as tf

from keras_video.export import signatures
from keras_video.inference import metadata
from keras_video.inference.outputs import classifier_outputs

MIN_OPSET = 17


def export_onnx(model, path, *, frames=None, size=None, opset=MIN_OPSET, class_names=None):
    """Writes an `.onnx` file taking float32 RGB video `(batch, frames, height, width, 3)` in
    [0, 255], batch dynamic (frames and size too where the model and `frames` / `size` leave
    them open), returning `logits` and `probabilities`. The class names are stored as the
    file's metadata (`keras_video`: class names, clip spec, provenance and a sha256 of the
    file; `class_names`: the names alone, as JSON). Returns `{"path", "bytes", "opset"}`."""
    try:
        import onnx
        import tf2onnx  # noqa: F401  (onnx_graph converts with it)

        from keras_video.export import onnx_graph
    except ImportError:
        raise ImportError("ONNX export needs tf2onnx and onnx: pip install "
                          "'keras-video[export]'") from None
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be >= {MIN_OPSET}, got {opset}")
    signatures.check_destination(path)
    names = signatures.class_names_for(model, class_names)
    outputs = classifier_outputs(model)
    spec = signatures.signature_spec(model, frames, size, dtype=tf.float32)
    function = tf.function(lambda video: outputs(video, training=False), input_signature=[spec])
    proto = onnx_graph.convert(function, spec, opset)
    onnx_graph.name_input_dims(proto, ("batch", "frames", "height", "width"))
    described = signatures.export_metadata(model, names, spec.shape[1:4])
    onnx.helper.set_model_props(proto, {
        "class_names": json.dumps(names), "producer": "keras-video",
        metadata.KEY: metadata.encode(described).decode("utf-8")})
    content = metadata.seal(proto.SerializeToString())
    signatures.write_file(path, content)
    return {"path": os.fspath(path), "bytes": len(content), "opset": opset}
