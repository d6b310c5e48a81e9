"""What every builder shares: the keras.applications argument contract, input, preprocessing,
backbone-only pooling and weight loading."""
import keras

from keras_video import weights as weights_lib
# RGB mean / std in [0, 1] units, by the convention a network's weights were trained with:
# x / 127.5 - 1 (DeepMind I3D, TF-slim) and torchvision's / VMZ's Kinetics statistics.
from keras_video.weights.registry import KINETICS_MEAN_STD, MINUS_ONE_TO_ONE  # noqa: F401


def check_arguments(include_top, pooling, classes, input_shape):
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    if include_top and pooling is not None:
        raise ValueError("pooling applies to include_top=False only (the top has its own pooling)")
    if include_top and (not isinstance(classes, int) or classes < 1):
        raise ValueError(f"classes must be a positive int with include_top=True, got {classes!r}")
    if input_shape is not None and len(input_shape) != 4:
        raise ValueError("input_shape is (frames, height, width, channels), channels last; "
                         f"got {input_shape!r}")


def merge_switches(registry_name, defaults, overrides):
    """A family's switch defaults updated with the caller's keywords; unknown keywords raise."""
    unknown = set(overrides) - set(defaults)
    if unknown:
        raise TypeError(f"{registry_name}: unknown keyword(s) {sorted(unknown)}; switches are "
                        f"{sorted(defaults)}")
    return {**defaults, **overrides}


def video_input(input_shape, include_preprocessing, mean_std):
    """The model input and its normalised tensor.

    With `include_preprocessing` the model takes RGB in [0, 255] (uint8 or float) and normalises
    it with `mean_std`, the statistics its weights were trained with.
    """
    shape = tuple(input_shape) if input_shape is not None else (None, None, None, 3)
    inputs = keras.Input(shape=shape, name="video")
    if not include_preprocessing:
        return inputs, inputs
    if shape[-1] != 3:
        raise ValueError(f"include_preprocessing=True normalises RGB video, but the input has "
                         f"{shape[-1]} channels; pass include_preprocessing=False and "
                         f"normalise the input yourself (e.g. optical flow in [-1, 1]).")
    mean, std = mean_std
    # (x / 255 - mean) / std as one multiply-add with constants (no variables, so that every
    # export format folds it).
    x = keras.layers.Rescaling(scale=[1.0 / (255.0 * s) for s in std],
                               offset=[-m / s for m, s in zip(mean, std)],
                               name="preprocessing")(inputs)
    return inputs, x


def pool_features(x, pooling):
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling3D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling3D(name="max_pool")(x)
    return x


def predictions(logits, classifier_activation):
    """Classifier activation, kept in float32 under mixed precision."""
    return keras.layers.Activation(classifier_activation or "linear", dtype="float32",
                                   name="predictions")(logits)


def make_model(inputs, outputs, name, weights, registry_name):
    model = keras.Model(inputs, outputs, name=name)
    weights_lib.load_weights(model, weights, registry_name)
    return model
