"""SavedModel for TF Serving: versioned layout, a uint8 video signature with top-k labels, a
float signature for normalised clips, and warm-up requests."""
import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from keras_video.export import signatures

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
LABELS_FILE = os.path.join("assets.extra", "class_names.txt")


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
    `warmup` writes a one-clip `serving_default` request to `assets.extra/` (needs
    `tensorflow-serving-api`, in the `[export]` extra) under `model_name` (default: the
    folder's name).
    """
    names = signatures.class_names_for(model, class_names)
    outputs = signatures.classifier_outputs(model)
    k = min(top_k, len(names))
    label_table = tf.constant(names)
    spec = signatures.signature_spec(model, frames, size)

    def serve(video):
        result = outputs(tf.cast(video, tf.float32), training=False)
        scores, indices = tf.math.top_k(result["probabilities"], k)
        return {**result, "scores": scores, "classes": tf.gather(label_table, indices)}

    functions = {"serving_default": tf.function(serve, input_signature=[spec])}
    fixed = signatures.clip_shape(model, frames, size, fill=True)
    if signatures.takes_pixels(model):
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
    try:
        signatures.write_functions(partial, outputs, functions)
        os.makedirs(os.path.join(partial, "assets.extra"), exist_ok=True)
        signatures.write_labels(os.path.join(partial, LABELS_FILE), names)
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


def latest_version(export_dir):
    """`export_dir` itself when it is a SavedModel, else its highest numbered version."""
    if os.path.isfile(os.path.join(export_dir, "saved_model.pb")):
        return export_dir
    version = next_version(export_dir) - 1
    if version < 1:
        raise FileNotFoundError(f"{export_dir} holds no saved_model.pb and no numbered version")
    return os.path.join(export_dir, str(version))


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
