"""What every export format shares: the classifier's two outputs, the clip shape, labels."""
import os

import keras
import tensorflow as tf

DEFAULT_FRAMES, DEFAULT_SIZE = 16, 224  # where the model leaves the clip shape open


def classifier_outputs(model):
    """A model from the video to `{"logits", "probabilities"}` (float32), sharing `model`'s
    layers. The logits are the input of the zoo's "predictions" layer; a model built with
    `classifier_activation=None` gets a softmax for its probabilities."""
    try:
        head = model.get_layer("predictions")
    except ValueError:
        raise ValueError(f"{model.name} has no 'predictions' layer: export takes a classifier "
                         "built by keras_video.zoo with include_top=True") from None
    logits = head.input
    activation = keras.activations.serialize(head.activation)
    activation = activation if isinstance(activation, str) else activation.get("config", "")
    if activation in ("softmax", "sigmoid"):
        probabilities = head.output
    else:
        probabilities = keras.layers.Activation("softmax", dtype="float32")(logits)
    logits = keras.layers.Activation("linear", dtype="float32")(logits)
    return keras.Model(model.inputs, {"logits": logits, "probabilities": probabilities},
                       name=f"{model.name}_outputs")


def write_functions(path, model, functions):
    """Saves `functions` ({signature name: `tf.function` with an input signature}) and the
    variables of `model` that they read, as a SavedModel at `path`.

    Only the variables and the traced graphs are saved: `keras.export.ExportArchive` also
    saves every layer object, which made a tiny S3D-G's TFLite export 1.8x slower (38.7 s
    against 21.6 s, 2026-11-23) for nothing a server or converter reads."""
    module = tf.Module()
    # The tf.Variables behind the Keras variables: those are what the graphs capture.
    module.model_variables = [variable.value for variable in model.variables]
    for name, function in functions.items():
        setattr(module, name, function)
    tf.saved_model.save(module, os.fspath(path), signatures={
        name: function.get_concrete_function() for name, function in functions.items()})


def takes_pixels(model):
    """True when the model normalises [0, 255] RGB itself (built with include_preprocessing)."""
    return any(layer.name == "preprocessing" for layer in model.layers)


def clip_shape(model, frames=None, size=None, fill=False):
    """(frames, height, width) to export: the model's fixed sizes, `frames` / `size` where it
    leaves them open (or overriding them), None for what stays open unless `fill` gives the
    defaults (16 frames of 224 x 224)."""
    t, h, w = model.inputs[0].shape[1:4]
    t = frames or t
    h, w = (size, size) if size else (h, w)
    if fill:
        t, h, w = t or DEFAULT_FRAMES, h or DEFAULT_SIZE, w or DEFAULT_SIZE
    return t, h, w


def class_names_for(model, class_names=None):
    """`class_names` checked against the model's number of classes, or "class_0", ..."""
    return class_names_for_count(model.outputs[0].shape[-1], class_names)


def class_names_for_count(count, class_names=None):
    if class_names is None:
        return [f"class_{i}" for i in range(count)]
    class_names = [str(name) for name in class_names]
    if len(class_names) != count:
        raise ValueError(f"{len(class_names)} class names for a model with {count} classes")
    return class_names


def read_labels(path):
    with open(path) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def write_labels(path, class_names):
    with open(path, "w") as f:
        f.write("".join(f"{name}\n" for name in class_names))


def labels_beside(path):
    """The class names kept next to an exported file or a trained model (`NAME.labels.txt`,
    or a run folder's `class_names.txt`), or None."""
    stem = os.path.splitext(os.fspath(path))[0]
    for candidate in (stem + ".labels.txt",
                      os.path.join(os.path.dirname(os.fspath(path)), "class_names.txt")):
        if os.path.isfile(candidate):
            return read_labels(candidate)
    return None


def atomic_path(path):
    """A temporary sibling of `path`: write there, then `os.replace`, so that a failed export
    leaves any earlier file whole."""
    return f"{path}.partial"


def signature_spec(model, frames, size, dtype=None):
    """The `video` input of a signature with a dynamic batch: uint8 for a model that takes
    pixels, else float32."""
    t, h, w = clip_shape(model, frames, size)
    dtype = dtype or (tf.uint8 if takes_pixels(model) else tf.float32)
    return tf.TensorSpec((None, t, h, w, model.inputs[0].shape[-1]), dtype, name="video")
