"""One interface over every form a model takes: a Keras model or `.keras` file, a SavedModel
(or a TF Serving folder of versions), a `.tflite` and an `.onnx` file."""
import json
import os

import numpy as np

from keras_video.export import signatures


class Predictor:
    """`predictor(clips)` -> probabilities `(batch, classes)` for uint8 or float RGB clips
    `(batch, frames, height, width, 3)` in [0, 255]; `predictor.run(clips)` -> both
    `{"logits", "probabilities"}`.

    `clip_shape` is the (frames, height, width) the model takes, None where any size goes;
    `class_names` the labels; `format` one of "keras", "savedmodel", "tflite", "onnx".
    """
    format = None

    def __init__(self, clip_shape, class_names):
        self.clip_shape, self.class_names = tuple(clip_shape), list(class_names)

    def __call__(self, clips):
        return self.run(clips)["probabilities"]

    def run(self, clips):
        clips = np.asarray(clips)
        if clips.ndim != 5:
            raise ValueError(f"clips are (batch, frames, height, width, 3), got {clips.shape}")
        for axis, (want, got) in enumerate(zip(self.clip_shape, clips.shape[1:4]), 1):
            if want is not None and want != got:
                raise ValueError(f"this {self.format} model takes clips of "
                                 f"{self.clip_shape} (frames, height, width), got "
                                 f"{clips.shape[1:4]}")
        return {key: np.asarray(value, np.float32) for key, value in self._run(clips).items()}


class KerasPredictor(Predictor):
    format = "keras"

    def __init__(self, model, class_names=None):
        self.outputs = signatures.classifier_outputs(model)
        super().__init__(signatures.clip_shape(model),
                         signatures.class_names_for(model, class_names))

    def _run(self, clips):
        return self.outputs(clips.astype(np.float32), training=False)


class SavedModelPredictor(Predictor):
    format = "savedmodel"

    def __init__(self, path):
        import tensorflow as tf

        from keras_video.export import savedmodel
        path = savedmodel.latest_version(path)
        self.loaded = tf.saved_model.load(path)  # the signature's variables live as long as it
        self.serve = self.loaded.signatures["serving_default"]
        spec = self.serve.structured_input_signature[1]["video"]
        self.dtype = spec.dtype.as_numpy_dtype
        labels = os.path.join(path, savedmodel.LABELS_FILE)
        count = self.serve.structured_outputs["probabilities"].shape[-1]
        names = signatures.read_labels(labels) if os.path.isfile(labels) else \
            signatures.class_names_for_count(count)
        super().__init__(spec.shape[1:4], names)

    def _run(self, clips):
        result = self.serve(video=clips.astype(self.dtype))
        return {key: result[key] for key in ("logits", "probabilities")}


class TFLitePredictor(Predictor):
    """Runs one clip at a time (the file has a batch of one). Uses XNNPACK where it accepts the
    graph and TFLite's reference kernels where it does not (`self.delegate` says which)."""
    format = "tflite"

    def __init__(self, path, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        self.delegate = "xnnpack"
        self.interpreter = Interpreter(model_path=os.fspath(path), num_threads=num_threads)
        try:
            self.interpreter.allocate_tensors()
        except RuntimeError:  # XNNPACK refused the graph (seen with some int8 models)
            self.delegate = "none"
            self.interpreter = Interpreter(
                model_path=os.fspath(path), num_threads=num_threads,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            self.interpreter.allocate_tensors()
        self.runner = self.interpreter.get_signature_runner()
        self.input = self.runner.get_input_details()["video"]
        self.outputs = self.runner.get_output_details()
        names = signatures.labels_beside(path) or signatures.class_names_for_count(
            self.outputs["probabilities"]["shape"][-1])
        super().__init__([int(n) for n in self.input["shape"][1:4]], names)

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

    def __init__(self, path, num_threads=None):
        import onnxruntime
        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        self.session = onnxruntime.InferenceSession(os.fspath(path), options,
                                                    providers=["CPUExecutionProvider"])
        shape = [d if isinstance(d, int) else None for d in self.session.get_inputs()[0].shape]
        metadata = self.session.get_modelmeta().custom_metadata_map
        count = [o for o in self.session.get_outputs() if o.name == "probabilities"][0].shape[-1]
        names = json.loads(metadata["class_names"]) if "class_names" in metadata else \
            signatures.class_names_for_count(count)
        super().__init__(shape[1:4], names)

    def _run(self, clips):
        logits, probabilities = self.session.run(["logits", "probabilities"],
                                                 {"video": clips.astype(np.float32)})
        return {"logits": logits, "probabilities": probabilities}


def dequantize(value, details):
    scale, zero = details["quantization"]
    return (value.astype(np.float32) - zero) * scale if scale else value


def load(model, class_names=None, num_threads=None):
    """A `Predictor` for a Keras model, or the path of a `.keras` file, a SavedModel folder
    (or a TF Serving model folder of numbered versions), a `.tflite` or an `.onnx` file.
    Labels come from the file itself, from `NAME.labels.txt` / `class_names.txt` beside it, or
    from `class_names`."""
    import keras
    if isinstance(model, keras.Model):
        return KerasPredictor(model, class_names)
    path = os.fspath(model)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model at {path}")
    if os.path.isdir(path):
        predictor = SavedModelPredictor(path)
    elif path.endswith(".tflite"):
        predictor = TFLitePredictor(path, num_threads)
    elif path.endswith(".onnx"):
        predictor = ONNXPredictor(path, num_threads)
    elif path.endswith(".keras"):
        return KerasPredictor(keras.saving.load_model(path),
                              class_names or signatures.labels_beside(path))
    else:
        raise ValueError(f"{path}: expected a .keras, .tflite or .onnx file or a SavedModel "
                         "folder")
    if class_names is not None:
        predictor.class_names = signatures.class_names_for_count(
            len(predictor.class_names), class_names)
    return predictor
