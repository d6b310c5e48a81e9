"""What every builder shares: the keras.applications argument contract, input, preprocessing,
backbone-only pooling, and `VideoModel`, the model every builder returns."""

import keras

from keras_video import presets
from keras_video.suggestions import did_you_mean
from keras_video.zoo.registry import get, register

# RGB mean / std in [0, 1] units, by the convention a network's weights were trained with:
# x / 127.5 - 1 (DeepMind I3D, TF-slim) and torchvision's / VMZ's Kinetics statistics.
MINUS_ONE_TO_ONE = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
KINETICS_MEAN_STD = ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989))


@keras.saving.register_keras_serializable(package="keras_video")
class VideoModel(keras.Model):
    """A zoo network: a functional Keras model that remembers the builder call that made it.

    Its config is the builder's registry name and keywords, so a `.keras` file or a preset
    rebuilds it by calling the builder (with other keywords where a preset is loaded with
    overrides). `preset` is the `keras_video.presets.Preset` whose weights it holds (class
    names, clip spec, provenance), or None; `.keras` files keep it. `classifier_layer` and
    `feature_layer` name the family's head and its last backbone feature map.
    """

    def __init__(self, inputs, outputs, *, builder, arguments, classifier_layer=None,
                 feature_layer=None, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.builder = builder
        self.arguments = _json_ready(arguments)
        self.classifier_layer = classifier_layer if _has_layer(self, classifier_layer) else None
        self.feature_layer = feature_layer
        self.preset = None

    def get_config(self):
        config = {"builder": self.builder, "arguments": self.arguments}
        if self.preset is not None:
            config["preset"] = self.preset.info()
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = get(config["builder"], **config["arguments"])
        if config.get("preset"):
            model.preset = presets.Preset.from_info(config["preset"], model=presets.model_config(
                config["builder"], **config["arguments"]), where=f"{config['builder']} config")
        return model


def _has_layer(model, name):
    return name is not None and any(layer.name == name for layer in model.layers)


def _json_ready(value):
    """Builder keywords as JSON values (Keras objects as their serialized configs)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return keras.saving.serialize_keras_object(value)


def builder(registry_name, build_graph, doc, *, classifier_layer, feature_layer):
    """Registers `registry_name`: a builder taking the keras.applications keywords (`weights`,
    `name` and whatever `build_graph(**keywords) -> (inputs, outputs)` takes)."""
    def build(*, weights=None, name=None, **kwargs):
        inputs, outputs = build_graph(**kwargs)
        arguments = {**kwargs, **({"name": name} if name else {})}
        model = VideoModel(inputs, outputs, builder=registry_name, arguments=arguments,
                           classifier_layer=classifier_layer, feature_layer=feature_layer,
                           name=name or registry_name)
        return presets.apply_weights(model, weights)

    build.__name__ = build.__qualname__ = registry_name
    build.__module__ = build_graph.__module__  # the family's module
    build.__doc__ = doc
    return register(registry_name)(build)


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


# The keywords every builder takes besides its family's switches (`builder` and the families'
# graph functions).
COMMON_KEYWORDS = ("weights", "name", "include_top", "input_shape", "pooling", "classes",
                   "classifier_activation", "dropout_rate", "include_preprocessing")


def merge_switches(registry_name, defaults, overrides):
    """A family's switch defaults updated with the caller's keywords; an unknown keyword raises,
    naming the closest known one and every keyword the builder takes."""
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        known = sorted({*COMMON_KEYWORDS, *defaults})
        raise TypeError(f"{registry_name}: unknown keyword(s) {unknown}"
                        f"{did_you_mean(unknown[0], known)}; it takes "
                        f"{', '.join(known)}")
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
