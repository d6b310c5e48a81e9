"""From what a user names a model by to the Keras model: a registered model name (built, with
`weights` if given), a registered preset name, a preset directory or a `.keras` file."""
import os

import keras

from keras_video import presets, zoo
from keras_video.suggestions import did_you_mean


def refuse_weights(model, weights):
    """Raises where `weights` is given for a model that holds its own (a Keras model, a file,
    a folder, a registered preset), rather than ignoring them."""
    if weights is None:
        return
    if isinstance(model, keras.Model):
        raise ValueError(f"a Keras model holds its own weights: weights={weights!r} is for a "
                         "registered model name")
    path = os.fspath(model)
    exists = os.path.exists(path)
    if not exists and path not in presets.list_presets():
        return
    if exists and zoo.is_registered(path):
        raise ValueError(f"{path} here is a file or folder, which is read before the registered "
                         f"model {path!r} and holds its own weights: run where no {path} is, "
                         f"to build the registered model with weights={weights!r}")
    raise ValueError(f"{path} holds its own weights: weights={weights!r} is for a registered "
                     "model name")


def keras_model(model, weights=None, frames=None, size=None, classes=None):
    """The Keras model `model` names. `frames` / `size` set the input shape of a model that is
    built here (a registered name, a zoo preset), `classes` its head (a new one where the
    weights have other classes)."""
    refuse_weights(model, weights)
    if isinstance(model, keras.Model):
        return model
    path = os.fspath(model)
    overrides = {}
    if frames or size:
        overrides["input_shape"] = (frames, size, size, 3)
    if classes:
        overrides["classes"] = classes
    if os.path.isdir(path):
        return presets.load(path, **overrides)
    if os.path.exists(path):
        if not path.endswith(".keras"):
            raise ValueError(f"{path}: expected a preset directory, a .keras, .tflite or .onnx "
                             "file, or a SavedModel folder")
        if overrides:
            raise ValueError(f"{path} is a saved model: its clip shape and classes are fixed")
        try:
            return keras.saving.load_model(path)
        except (OSError, ValueError) as error:  # Keras reports a damaged zip as missing
            raise ValueError(f"{path} is not a readable .keras file "
                             f"({str(error).splitlines()[0]})") from None
    if path in presets.list_presets():
        return presets.load(path, **overrides)
    try:
        zoo.get_builder(path)
    except ValueError:
        hint = did_you_mean(path, zoo.list_models() + presets.list_presets())
        raise ValueError(f"{path!r}{hint} is not a file, a preset directory, a registered model "
                         f"({', '.join(zoo.list_models())}) or a registered preset "
                         f"({', '.join(presets.list_presets())})") from None
    if weights is not None and not os.path.isfile(os.fspath(weights)):
        # Registered weights or a preset directory: the network they were saved with.
        preset = presets.resolve(weights, zoo.get_builder(path).registry_name)
        if not isinstance(preset.weights, presets.InflatedWeights):
            return presets.load(preset, **overrides)
    return zoo.get(path, weights=weights, **overrides)
