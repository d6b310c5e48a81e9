"""The action detector outside Keras: a TF Serving SavedModel (uint8 video in, boxes, labels
and scores out), an ONNX file and a TFLite file with builtin ops only.

Every format takes RGB video `(batch, frames, height, width, 3)` in [0, 255] (uint8 for the
SavedModel, float32 for ONNX and TFLite) and, for a detector with external proposals, `boxes`
`(batch, K, 4)` normalised `x1, y1, x2, y2`. Outputs, for the K boxes of each clip:
`boxes` (normalised to the frame), `actor_scores`, `probabilities` `(batch, K, classes)`,
and `scores` / `label_ids` of each box's best class (`actor_scores` times that class's
probability); the SavedModel adds `labels`, the class names. Every file carries the package's
export metadata (`keras_video.inference.metadata`: class names, clip spec, provenance and a
sha256 of the file, with `"task": "detection"`), as the classifiers' exports do.

Everything exports as the Keras graph computes it: RoIAlign is two matrix products per box
(`layers.RoIAlign`), proposals are a max pool and a top-k, so neither ONNX's RoiAlign nor a
TFLite Flex op is needed.
"""
import json
import os
import shutil

import tensorflow as tf

from keras_video.detection.model import class_names_of
from keras_video.export import savedmodel, signatures
from keras_video.inference import metadata


def _inputs(model, dtype, batch=None, num_boxes=None):
    shape = tuple(model.backbone.inputs[0].shape[1:])
    specs = {"video": tf.TensorSpec((batch,) + shape, dtype, name="video")}
    if model.proposals == "external":
        specs["boxes"] = tf.TensorSpec((batch, num_boxes, 4), tf.float32, name="boxes")
    return specs


def detector_outputs(model, video, boxes=None):
    """The exported outputs of `model` for a batch (see the module docstring)."""
    inputs = {"video": tf.cast(video, tf.float32)}
    if boxes is not None:
        inputs["boxes"] = boxes
    out = model(inputs if boxes is not None else inputs["video"], training=False)
    probabilities = tf.cast(out["probabilities"], tf.float32)
    actor = tf.cast(out["scores"], tf.float32)
    return {"boxes": tf.cast(out["boxes"], tf.float32), "actor_scores": actor,
            "probabilities": probabilities,
            "scores": actor * tf.reduce_max(probabilities, axis=-1),
            "label_ids": tf.argmax(probabilities, axis=-1, output_type=tf.int32)}


def _function(model, dtype, extra=None, batch=None, num_boxes=None):
    specs = _inputs(model, dtype, batch, num_boxes)
    if "boxes" in specs:
        def serve(video, boxes):
            out = detector_outputs(model, video, boxes)
            return {**out, **(extra(out) if extra else {})}
    else:
        def serve(video):
            out = detector_outputs(model, video)
            return {**out, **(extra(out) if extra else {})}
    return tf.function(serve, input_signature=list(specs.values()))


def _shape(model):
    return tuple(model.backbone.inputs[0].shape[1:4])


def _metadata(model, names, **extra):
    return signatures.export_metadata(model, names, _shape(model), task="detection", **extra)


def export_savedmodel(model, export_dir, *, class_names=None, version=None):
    """Writes `model` to `export_dir/VERSION/` (TF Serving's layout; `version` defaults to one
    more than the highest there) with a `serving_default` signature from uint8 video to
    `boxes`, `actor_scores`, `probabilities`, `scores`, `label_ids` and `labels` (class names),
    and a `metadata` signature (no input) returning the export metadata's JSON, also kept in
    `assets.extra/keras_video.json`. Returns the version's path."""
    names = class_names_of(model, class_names)
    table = tf.constant(names)
    function = _function(model, tf.uint8,
                         extra=lambda out: {"labels": tf.gather(table, out["label_ids"])})
    version = version if version is not None else savedmodel.next_version(export_dir)
    final = os.path.join(os.fspath(export_dir), str(int(version)))
    if os.path.exists(final):
        raise FileExistsError(f"{final} exists: pick another version or delete it")
    partial = os.path.join(os.fspath(export_dir), f".partial-{int(version)}")
    shutil.rmtree(partial, ignore_errors=True)
    described = _metadata(model, names)
    serialized = tf.constant(json.dumps(described, sort_keys=True))
    functions = {"serving_default": function,
                 "metadata": tf.function(lambda: {"metadata": serialized}, input_signature=[])}
    try:
        signatures.write_functions(partial, model, functions)
        os.makedirs(os.path.join(partial, "assets.extra"), exist_ok=True)
        metadata.write_savedmodel(partial, described)
        os.replace(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


def export_onnx(model, path, *, opset=17, class_names=None):
    """Writes an `.onnx` file (tf2onnx, batch dynamic) taking float32 `video` (and `boxes` for
    external proposals), with the export metadata (`keras_video`) and the class names alone
    (`class_names`, JSON) as the file's metadata. Returns `{"path", "bytes", "opset"}`."""
    try:
        import onnx
        import tf2onnx
    except ImportError:
        raise ImportError("ONNX export needs tf2onnx and onnx: pip install "
                          "'keras-video[export]'") from None
    signatures.check_destination(path)
    names = class_names_of(model, class_names)
    function = _function(model, tf.float32)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature,
                                             opset=opset)
    onnx.helper.set_model_props(proto, {
        "class_names": json.dumps(names), "producer": "keras-video",
        metadata.KEY: metadata.encode(_metadata(model, names)).decode("utf-8")})
    content = metadata.seal(proto.SerializeToString())
    signatures.write_file(path, content)
    return {"path": os.fspath(path), "bytes": len(content), "opset": opset}


def export_tflite(model, path, *, class_names=None, num_boxes=None):
    """Writes a `.tflite` file with TFLite builtin ops only (no Flex), batch 1, float32 video
    (and `boxes` `(1, num_boxes, 4)` for external proposals, `num_boxes` default
    `model.max_boxes`), with the export metadata in the file. Returns `{"path", "bytes",
    "ops"}` (builtin op name -> count)."""
    import tempfile

    from keras_video.export import tflite

    signatures.check_destination(path)
    names = class_names_of(model, class_names)
    shape = _shape(model)
    if None in shape:
        raise ValueError(f"TFLite export needs a fixed clip shape; the model takes {shape}")
    function = _function(model, tf.float32, batch=1, num_boxes=num_boxes or model.max_boxes)
    with tempfile.TemporaryDirectory() as saved:
        signatures.write_functions(saved, model, {"serving_default": function})
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        content = converter.convert()
    content = metadata.tflite_with_metadata(content, _metadata(model, names))
    signatures.write_file(path, content)
    return {"path": os.fspath(path), "bytes": len(content), "ops": tflite.ops_used(content)}
