"""One interface over every form a model takes: a Keras model, a registered name or preset, a
preset directory or `.keras` file, a SavedModel (or a TF Serving folder of versions), a
`.tflite` and an `.onnx` file. Each reads its class names and clip spec from the model
itself (exported files carry them in their metadata: `inference.metadata`)."""
import os

import keras
import numpy as np

from keras_video import presets
from keras_video.inference import metadata as file_metadata
from keras_video.inference.models import keras_model, refuse_weights
from keras_video.inference.outputs import classifier_outputs

FORMATS = ("keras", "savedmodel", "tflite", "onnx")


class Predictor:
    """`predictor(clips)` -> probabilities `(batch, classes)` for uint8 or float RGB clips
    `(batch, frames, height, width, 3)` in [0, 255]; `predictor.run(clips)` -> both
    `{"logits", "probabilities"}`. Clips are normalised here for a model that takes
    normalised input (`clip.value_range` None).

    `clip_shape` is the (frames, height, width) the model takes, None where any size goes;
    `class_names` the labels; `clip` the `presets.ClipSpec` its weights expect; `metadata` what
    the file says about the model; `format` one of `FORMATS`.
    """
    format = None

    def __init__(self, clip_shape, class_names, clip, metadata=None):
        self.clip_shape = tuple(clip_shape)
        self.class_names = list(class_names)
        self.clip = clip
        self.metadata = metadata or {}

    def __call__(self, clips):
        return self.run(clips)["probabilities"]

    def run(self, clips):
        clips = np.asarray(clips)
        if clips.ndim != 5:
            raise ValueError(f"clips are (batch, frames, height, width, 3), got {clips.shape}")
        for want, got in zip(self.clip_shape, clips.shape[1:4]):
            if want is not None and want != got:
                raise ValueError(f"this {self.format} model takes clips of "
                                 f"{self.clip_shape} (frames, height, width), got "
                                 f"{clips.shape[1:4]}")
        if not self.clip.takes_pixels:
            mean, std = np.asarray(self.clip.mean), np.asarray(self.clip.std)
            clips = ((clips.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)
        return {key: np.asarray(value, np.float32) for key, value in self._run(clips).items()}


def _names(count, class_names, where):
    """`class_names` checked against the model's number of classes, or "class_0", ..."""
    if class_names is None:
        return [f"class_{i}" for i in range(count)]
    class_names = [str(name) for name in class_names]
    if len(class_names) != count:
        raise ValueError(f"{len(class_names)} class names for {where}, which has {count} "
                         "classes")
    return class_names


def _from_metadata(found, count, class_names, clip_shape, where):
    """(class names, clip spec) from a file's metadata, a caller's `class_names` first."""
    found = found or {}
    names = class_names if class_names is not None else found.get("class_names")
    try:
        clip = presets.ClipSpec.from_dict(found["clip"]) if found.get("clip") else \
            presets.ClipSpec()
    except (TypeError, ValueError) as error:
        raise file_metadata.CorruptModelError(f"{where}: invalid clip spec in its metadata "
                                              f"({error})") from None
    frames, height, width = clip_shape
    fixed = {k: v for k, v in (("frames", frames),
                               ("crop", (height, width) if height and width else None)) if v}
    return _names(count, names, where), presets.ClipSpec.from_dict({**clip.to_dict(), **fixed})


class KerasPredictor(Predictor):
    format = "keras"

    def __init__(self, model, class_names=None):
        self.model = model
        self.outputs = classifier_outputs(model)
        preset = getattr(model, "preset", None)
        names = class_names if class_names is not None else \
            (preset.class_names if preset is not None else None)
        super().__init__(model.inputs[0].shape[1:4],
                         _names(model.outputs[0].shape[-1], names, model.name),
                         presets.model_clip(model), preset.info() if preset else None)

    def _run(self, clips):
        return self.outputs(clips.astype(np.float32), training=False)


class SavedModelPredictor(Predictor):
    format = "savedmodel"

    def __init__(self, path, class_names=None):
        import tensorflow as tf

        path = latest_version(path)
        found = file_metadata.savedmodel_metadata(path)
        self.loaded = tf.saved_model.load(path)  # the signature's variables live as long as it
        self.serve = self.loaded.signatures["serving_default"]
        spec = self.serve.structured_input_signature[1]["video"]
        self.dtype = spec.dtype.as_numpy_dtype
        count = self.serve.structured_outputs["probabilities"].shape[-1]
        names, clip = _from_metadata(found, count, class_names, spec.shape[1:4], path)
        super().__init__(spec.shape[1:4], names, clip, found)

    def _run(self, clips):
        result = self.serve(video=clips.astype(self.dtype))
        return {key: result[key] for key in ("logits", "probabilities")}


class TFLitePredictor(Predictor):
    """Runs one clip at a time (the file has a batch of one). Uses XNNPACK where it accepts the
    graph and TFLite's reference kernels where it does not (`self.delegate` says which)."""
    format = "tflite"

    def __init__(self, path, class_names=None, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        content = _read_checked(path)
        found = file_metadata.tflite_metadata(content, os.fspath(path))
        self.delegate = "xnnpack"
        self.interpreter = Interpreter(model_content=content, num_threads=num_threads)
        try:
            self.interpreter.allocate_tensors()
        except RuntimeError:  # XNNPACK refused the graph (seen with some int8 models)
            self.delegate = "none"
            self.interpreter = Interpreter(
                model_content=content, num_threads=num_threads,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            self.interpreter.allocate_tensors()
        self.runner = self.interpreter.get_signature_runner()
        self.input = self.runner.get_input_details()["video"]
        self.outputs = self.runner.get_output_details()
        shape = [int(n) for n in self.input["shape"][1:4]]
        names, clip = _from_metadata(found, int(self.outputs["probabilities"]["shape"][-1]),
                                     class_names, shape, os.fspath(path))
        super().__init__(shape, names, clip, found)

    def _run(self, clips):
        results = [self._one(clip[None]) for clip in clips]
        return {key: np.concatenate([r[key] for r in results]) for key in results[0]}

    def _one(self, clip):
        scale, zero = self.input["quantization"]
        if scale:  # an integer input: quantize as the converter calibrated it
            info = np.iinfo(self.input["dtype"])
            clip = np.clip(np.round(clip / scale + zero), info.min, info.max)
        result = self.runner(video=clip.astype(self.input["dtype"]))
        return {key: dequantize(value, self.outputs[key]) for key, value in result.items()}


class ONNXPredictor(Predictor):
    format = "onnx"

    def __init__(self, path, class_names=None, num_threads=None):
        import onnxruntime
        content = _read_checked(path)
        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        try:
            self.session = onnxruntime.InferenceSession(content, options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise file_metadata.CorruptModelError(
                f"{path} is not a readable ONNX file ({str(error).splitlines()[0]})") from None
        shape = [d if isinstance(d, int) else None for d in self.session.get_inputs()[0].shape]
        props = self.session.get_modelmeta().custom_metadata_map
        found = file_metadata.decode(props[file_metadata.KEY], os.fspath(path)) \
            if file_metadata.KEY in props else None
        count = [o for o in self.session.get_outputs() if o.name == "probabilities"][0].shape[-1]
        names, clip = _from_metadata(found, count, class_names, shape[1:4], os.fspath(path))
        super().__init__(shape[1:4], names, clip, found)

    def _run(self, clips):
        logits, probabilities = self.session.run(["logits", "probabilities"],
                                                 {"video": clips.astype(np.float32)})
        return {"logits": logits, "probabilities": probabilities}


def _read_checked(path):
    with open(path, "rb") as f:
        content = f.read()
    file_metadata.verify(content, os.fspath(path))
    return content


def dequantize(value, details):
    scale, zero = details["quantization"]
    return (value.astype(np.float32) - zero) * scale if scale else value


def latest_version(export_dir):
    """`export_dir` itself when it is a SavedModel, else its highest numbered version."""
    export_dir = os.fspath(export_dir)
    if os.path.isfile(os.path.join(export_dir, "saved_model.pb")):
        return export_dir
    versions = [int(n) for n in os.listdir(export_dir) if n.isdigit()] \
        if os.path.isdir(export_dir) else []
    if not versions:
        raise FileNotFoundError(f"{export_dir} holds no saved_model.pb and no numbered version")
    return os.path.join(export_dir, str(max(versions)))


def is_savedmodel(path):
    try:
        return os.path.isdir(path) and bool(latest_version(path))
    except FileNotFoundError:
        return False


def load(model, class_names=None, num_threads=None, weights=None):
    """A `Predictor` for any form of a classifier: a Keras model; a registered model name
    (with `weights`, a registered weights name, preset directory or weights file) or preset
    name ("s3d.kinetics400"); a preset directory; the path of a `.keras` file, a SavedModel
    folder (or a TF Serving model folder of numbered versions), a `.tflite` or an `.onnx`
    file. `class_names` replace the model's own."""
    refuse_weights(model, weights)
    if isinstance(model, keras.Model):
        return KerasPredictor(model, class_names)
    path = os.fspath(model)
    if os.path.isdir(path) and not presets.is_directory(path):
        if not is_savedmodel(path):
            raise ValueError(f"{path} is neither a preset directory (config.json, "
                             "model.weights.h5, metadata.json) nor a SavedModel")
        return SavedModelPredictor(path, class_names)
    if path.endswith(".tflite"):
        return TFLitePredictor(_existing(path), class_names, num_threads)
    if path.endswith(".onnx"):
        return ONNXPredictor(_existing(path), class_names, num_threads)
    return KerasPredictor(keras_model(path, weights), class_names)


def _existing(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model at {path}")
    return path
