"""SavedModel for TF Serving: versioned layout, a uint8 video signature with top-k labels, a
float signature for normalised clips, warm-up requests, and the model's metadata (class names,
clip spec, provenance, digest) in the graph and in `assets.extra/keras_video.json`."""
import json
import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from keras_video.export import signatures
from keras_video.inference import metadata
from keras_video.inference.outputs import classifier_outputs, takes_pixels

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def export_savedmodel(model, export_dir, *, version=None, class_names=None, top_k=5,
                      frames=None, size=None, warmup=True, model_name=None):
    """Writes `model` to `export_dir/VERSION/` (TF Serving's layout) and returns that path.

    `version` defaults to one more than the highest version already there, so re-exporting
    never overwrites what a server may be serving. Signatures:
    - `serving_default`: uint8 video `(batch, frames, height, width, 3)`, dynamic batch (and
      dynamic frames / size where the model and `frames` / `size` leave them open), returns
      `probabilities`, `logits`, and the top-k `classes` (string labels) with their `scores`.
    - `normalized`: float32 clips already normalised as the model's preprocessing would, at a
      fixed clip shape (`frames` x `size`, or the model's, or 16 x 224 x 224).
    - `metadata`: no input; returns the JSON of the model's metadata (class names, clip spec,
      provenance), also kept in `assets.extra/keras_video.json` with a digest of the files.
    `warmup` writes a one-clip `serving_default` request to `assets.extra/` (needs
    `tensorflow-serving-api`, in the `[export]` extra) under `model_name` (default: the
    folder's name).
    """
    names = signatures.class_names_for(model, class_names)
    outputs = classifier_outputs(model)
    k = min(top_k, len(names))
    label_table = tf.constant(names)
    spec = signatures.signature_spec(model, frames, size)

    def serve(video):
        result = outputs(tf.cast(video, tf.float32), training=False)
        scores, indices = tf.math.top_k(result["probabilities"], k)
        return {**result, "scores": scores, "classes": tf.gather(label_table, indices)}

    functions = {"serving_default": tf.function(serve, input_signature=[spec])}
    fixed = signatures.clip_shape(model, frames, size, fill=True)
    if takes_pixels(model):
        normalized = keras.Model(model.get_layer("preprocessing").output, outputs.outputs)
        functions["normalized"] = tf.function(
            lambda video: normalized(video, training=False),
            input_signature=[tf.TensorSpec((None, *fixed, 3), tf.float32, name="video")])

    version = version if version is not None else next_version(export_dir)
    final = os.path.join(os.fspath(export_dir), str(int(version)))
    if os.path.exists(final):
        raise FileExistsError(f"{final} exists: pick another version (TF Serving serves the "
                              "highest) or delete it")
    partial = os.path.join(os.fspath(export_dir), f".partial-{int(version)}")
    shutil.rmtree(partial, ignore_errors=True)
    described = signatures.export_metadata(model, names, spec.shape[1:4])
    serialized = tf.constant(json.dumps(described, sort_keys=True))
    functions["metadata"] = tf.function(lambda: {"metadata": serialized}, input_signature=[])
    try:
        signatures.write_functions(partial, outputs, functions)
        os.makedirs(os.path.join(partial, "assets.extra"), exist_ok=True)
        metadata.write_savedmodel(partial, described)
        if warmup:
            write_warmup(os.path.join(partial, WARMUP_FILE),
                         model_name or os.path.basename(os.path.abspath(export_dir)),
                         np.zeros((1, *fixed, spec.shape[-1]), spec.dtype.as_numpy_dtype))
        os.replace(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


def next_version(export_dir):
    versions = [int(name) for name in os.listdir(export_dir) if name.isdigit()] \
        if os.path.isdir(export_dir) else []
    return max(versions, default=0) + 1


def write_warmup(path, model_name, video):
    """TF Serving's warm-up file: `PredictionLog` records that the server replays on load, so
    the first user request does not pay for graph initialisation."""
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError:
        raise ImportError("warm-up requests need tensorflow-serving-api: pip install "
                          "'keras-video[export]', or pass warmup=False") from None
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name="serving_default"))
    request.inputs["video"].CopyFrom(tf.make_tensor_proto(video))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request))
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(log.SerializeToString())


def read_warmup(path):
    """The `PredictionLog` records of a warm-up file."""
    from tensorflow_serving.apis import prediction_log_pb2
    return [prediction_log_pb2.PredictionLog.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(path)]
