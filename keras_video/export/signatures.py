"""What every export format shares: the functions to save, the clip shape, and the metadata
(class names, clip spec, provenance) each file carries."""
import os

import tensorflow as tf

from keras_video import presets
from keras_video.inference import metadata
from keras_video.inference.outputs import takes_pixels

DEFAULT_FRAMES, DEFAULT_SIZE = 16, 224  # where the model leaves the clip shape open


def write_functions(path, model, functions):
    """Saves `functions` ({signature name: `tf.function` with an input signature}) and the
    variables of `model` that they read, as a SavedModel at `path`.

    Only the variables and the traced graphs are saved: `keras.export.ExportArchive` also
    saves every layer object, which nothing a server or converter reads needs, and which made
    conversion much slower."""
    module = tf.Module()
    # The tf.Variables behind the Keras variables: those are what the graphs capture.
    module.model_variables = [variable.value for variable in model.variables]
    for name, function in functions.items():
        setattr(module, name, function)
    # The functions themselves, not their concrete functions: `save` traces them in its save
    # context, and a concrete function traced before it would be traced a second time there.
    tf.saved_model.save(module, os.fspath(path), signatures=dict(functions))


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
    """`class_names` (else the model's preset's, else "class_0", ...) checked against the
    model's number of classes."""
    count = model.outputs[0].shape[-1]
    preset = getattr(model, "preset", None)
    if class_names is None and preset is not None and preset.classes == count:
        class_names = preset.class_names
    if class_names is None:
        return [f"class_{i}" for i in range(count)]
    class_names = [str(name) for name in class_names]
    if len(class_names) != count:
        raise ValueError(f"{len(class_names)} class names for a model with {count} classes")
    return class_names


def export_metadata(model, class_names, shape, **extra):
    """The metadata an exported file carries: the model's preset facts with these class
    names and the exported clip shape (frames, height, width; None where open)."""
    frames, height, width = shape
    clip = presets.model_clip(model, frames=frames,
                              crop=(height, width) if height and width else None)
    preset = getattr(model, "preset", None)
    info = preset.info() if preset is not None else \
        presets.Preset(name=model.name, model={}).info()
    info.update(class_names=list(class_names), clip=clip.to_dict())
    builder = getattr(model, "builder", None)
    return metadata.describe(info, builder=builder, **extra)


def atomic_path(path):
    """A temporary sibling of `path`: write there, then `os.replace`, so that a failed export
    leaves any earlier file whole."""
    return f"{path}.partial"


def check_destination(path):
    """Fails before a long conversion where the file cannot be written."""
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path}: it is a folder")


def write_file(path, content):
    """Writes `content` to `path` atomically (temporary sibling, then rename)."""
    partial = atomic_path(path)
    try:
        with open(partial, "wb") as f:
            f.write(content)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def signature_spec(model, frames, size, dtype=None):
    """The `video` input of a signature with a dynamic batch: uint8 for a model that takes
    pixels, else float32."""
    t, h, w = clip_shape(model, frames, size)
    dtype = dtype or (tf.uint8 if takes_pixels(model) else tf.float32)
    return tf.TensorSpec((None, t, h, w, model.inputs[0].shape[-1]), dtype, name="video")
