"""TFLite (LiteRT) export with builtin ops only, in four precisions."""
import collections
import itertools
import os
import tempfile

import numpy as np
import tensorflow as tf

from keras_video.export import signatures
from keras_video.inference import metadata
from keras_video.inference.outputs import classifier_outputs, takes_pixels

QUANTIZATIONS = (None, "fp16", "dynamic_int8", "int8")


def export_tflite(model, path, *, quantize=None, frames=None, size=None,
                  representative_data=None, calibration_clips=16, class_names=None):
    """Writes a `.tflite` file taking one clip `(1, frames, height, width, 3)` of float32 RGB
    in [0, 255] (uint8 for `quantize="int8"`), returning `logits` and `probabilities`. Returns
    `{"path", "bytes", "quantize", "ops", "xnnpack_partitions"}` (ops: builtin op name ->
    count; `graph_report`).

    `quantize`: None (float32), "fp16" (float16 weights), "dynamic_int8" (int8 weights,
    float activations) or "int8" (weights and activations, calibrated on
    `representative_data`: clips or `(clips, labels)` batches from `keras_video.data`, any
    iterable; default: `calibration_clips` synthetic motion clips, a stand-in for real video).
    Only TFLite builtin ops are allowed: no Flex ops, so the file runs on the plain runtime.
    The class names, clip spec, provenance and a sha256 of the file go into its metadata.
    """
    return export_tflite_precisions(
        model, {quantize: path}, frames=frames, size=size,
        representative_data=representative_data, calibration_clips=calibration_clips,
        class_names=class_names)[quantize]


def export_tflite_precisions(model, paths, *, frames=None, size=None,
                             representative_data=None, calibration_clips=16,
                             class_names=None):
    """`export_tflite` for several precisions at once: `paths` maps each `quantize` value
    (None for float32) to its file. The model is traced and saved once for all of them (that
    costs about as much as a conversion); returns `{quantize: export_tflite's report}`."""
    for quantize, path in paths.items():
        if quantize not in QUANTIZATIONS:
            raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {quantize!r}")
        signatures.check_destination(path)
    shape = signatures.clip_shape(model, frames, size, fill=True)
    channels = model.inputs[0].shape[-1]
    names = signatures.class_names_for(model, class_names)
    outputs = classifier_outputs(model)
    spec = tf.TensorSpec((1, *shape, channels), tf.float32, name="video")
    if "int8" in paths:  # checked now, not minutes into the conversions
        clips = representative_data
        if clips is None:
            clips = default_calibration(shape, calibration_clips)
        batches = calibration_batches(clips, spec.shape)
        first = next(batches, None)
        if first is None:
            raise ValueError("representative_data holds no clips")
        calibration = itertools.chain([first], batches)

    reports = {}
    with tempfile.TemporaryDirectory() as saved:
        signatures.write_functions(saved, outputs, {"serving_default": tf.function(
            lambda video: outputs(video, training=False), input_signature=[spec])})
        for quantize, path in paths.items():
            converter = tf.lite.TFLiteConverter.from_saved_model(saved)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            if quantize:
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
            if quantize == "fp16":
                converter.target_spec.supported_types = [tf.float16]
            if quantize == "int8":
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
                converter.inference_input_type = tf.uint8 if takes_pixels(model) \
                    else tf.int8
                converter.representative_dataset = lambda: (
                    {"video": clip} for clip in calibration)
            content = metadata.tflite_with_metadata(
                converter.convert(),
                signatures.export_metadata(model, names, shape, quantize=quantize))
            signatures.write_file(path, content)
            reports[quantize] = {"path": os.fspath(path), "bytes": len(content),
                                 "quantize": quantize, **graph_report(content)}
    return reports


def default_calibration(shape, count):
    from keras_video.data import synthetic
    frames, height, width = shape
    if height != width:
        raise ValueError("int8 calibration without representative_data uses square synthetic "
                         f"clips; the clip is {height} x {width}: pass representative_data")
    per_class = -(-count // len(synthetic.MOTION_CLASSES))
    return synthetic.make_clips(per_class, frames, height)[0][:count]


def calibration_batches(clips, shape):
    """One float32 clip at a time with a batch axis, from clips, batches or (clips, labels)."""
    for item in clips:
        if isinstance(item, (tuple, list)):
            item = item[0]
        item = np.asarray(item, np.float32)
        if tuple(item.shape[-4:]) != tuple(shape[1:]):
            raise ValueError(f"calibration clips are {item.shape[-4:]}, the export takes "
                             f"{tuple(shape[1:])}: decode them at the exported frames and size")
        for clip in item.reshape((-1, *shape[1:])):
            yield clip[None]


def ops_used(content):
    """Builtin op name -> count in a TFLite flatbuffer (read without allocating or delegating,
    which `graph_report` does to count the partitions)."""
    from ai_edge_litert.interpreter import Interpreter
    return _op_counts(Interpreter(model_content=content))


def _op_counts(interpreter):
    # The op list is exposed only through this (stable, documented-in-code) call; after
    # delegation it keeps the delegated ops and appends one DELEGATE node per partition.
    return dict(collections.Counter(op["op_name"] for op in interpreter._get_ops_details()
                                    if op["op_name"] != "DELEGATE"))


def graph_report(content):
    """`{"ops": builtin op name -> count, "xnnpack_partitions": n}` of a TFLite flatbuffer.
    The partitions are the pieces of the graph that TFLite's default CPU delegate, XNNPACK,
    runs: 1 when it runs every op, 0 when it refuses the graph (the runtime then uses TFLite's
    kernels alone, as `keras_video.export.load` does). Each op it cannot run (MIRROR_PAD, a
    strided slice, CONV_3D, ...) runs on TFLite's own, mostly single-threaded kernels and
    splits the graph; on S3D, 13 MIRROR_PADs made the file 1.6x slower."""
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_content=content)
    try:
        interpreter.allocate_tensors()  # applies the delegate: one node per partition
    except RuntimeError:  # XNNPACK refused the graph (seen with some int8 files); none then
        interpreter = Interpreter(model_content=content)
    partitions = sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())
    return {"ops": _op_counts(interpreter), "xnnpack_partitions": partitions}
