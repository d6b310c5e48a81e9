"""Presets: everything needed to use a model, in one object that everything downstream reads.

A `Preset` is the model's config (a zoo builder and its keywords, as Keras serializes a
`keras_video.zoo.VideoModel`), where its weights come from, its class names, the `ClipSpec` its
weights expect (frames, sampling, resize, crop, value range, mean / std) and the published
metrics with their protocol, source and licence. Registered presets (`register`, done by each
zoo family for its pretrained weights: `"s3d.kinetics400"`) and presets saved as directories
(`save`) are the same object and go through one code path (`load`, `apply_weights`).

A preset directory has the layout of keras-hub's presets:

    config.json         the model, as `keras.saving.serialize_keras_object` writes it
    model.weights.h5    its weights
    metadata.json       class names, clip spec, metrics, provenance, versions, the weights' sha256

This module sits below the zoo: it builds models only through Keras deserialization of the
config (the zoo registers `VideoModel` with Keras), never by importing the zoo.
"""
import dataclasses
import datetime
import json
import os
import shutil
import tempfile
import zipfile

import keras
import numpy as np

from keras_video.suggestions import did_you_mean
from keras_video.version import __version__
from keras_video.weights import copy_weights, fetching
from keras_video.weights.fetching import SourceFile  # noqa: F401  (presets name their files)

CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE = "config.json", "model.weights.h5", "metadata.json"
PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE)
VIDEO_MODEL = "keras_video>VideoModel"  # the zoo's registered model class


class PresetError(ValueError):
    """A preset that cannot be read, written or applied; the message names the file."""


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """How to turn a video into the clips a model's weights expect.

    `frames` per clip, sampled every `frame_stride` frames of the video resampled to `fps`
    (None: the file's own rate); the short side resized to `short_side`, then a centre crop of
    `crop` (height, width). The model takes values in `value_range`; `mean` / `std` (RGB, in
    [0, 1] units) are the normalisation applied to them: by the model itself when
    `value_range` is (0, 255) (its preprocessing layer), else by the caller.
    """
    frames: int = 16
    frame_stride: int = 1
    fps: float = None
    short_side: int = None
    crop: tuple = (224, 224)
    value_range: tuple = (0, 255)
    mean: tuple = (0.5, 0.5, 0.5)
    std: tuple = (0.5, 0.5, 0.5)

    def __post_init__(self):
        crop = (self.crop, self.crop) if isinstance(self.crop, (int, np.integer)) else self.crop
        object.__setattr__(self, "crop", tuple(int(c) for c in crop))
        for name in ("mean", "std"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        if self.value_range is not None:
            object.__setattr__(self, "value_range", tuple(self.value_range))
        for name in ("frames", "frame_stride"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"clip {name} must be a positive int, got {value!r}")
        if len(self.crop) != 2 or min(self.crop) < 1:
            raise ValueError(f"clip crop must be a positive size or (height, width), got "
                             f"{self.crop!r}")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"clip fps must be positive or None, got {self.fps!r}")
        if self.short_side is not None and self.short_side < min(self.crop):
            raise ValueError(f"clip short_side {self.short_side} is smaller than the crop "
                             f"{self.crop}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError("clip mean and std are three RGB values (std > 0)")

    @property
    def takes_pixels(self):
        """True when the model takes RGB in [0, 255] and normalises it itself."""
        return self.value_range == (0, 255)

    def resize_to(self):
        """The short side frames are resized to before the crop."""
        return self.short_side or min(self.crop)

    def to_dict(self):
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown clip spec key(s) {sorted(unknown)}; known: "
                             f"{sorted(known)}")
        return cls(**values)


# Where a preset's weights come from.

@dataclasses.dataclass(frozen=True)
class UpstreamWeights:
    """Weights published in another framework's format: fetched once (`fetching`), converted
    once by `convert(model, path_of_first_file)` into the preset's model, cached as `.npz`."""
    files: tuple
    convert: object            # callable(model, path) -> model
    file_format: str           # "tf_checkpoint" | "pytorch"


@dataclasses.dataclass(frozen=True)
class InflatedWeights:
    """Weights inflated on the fly from a 2D ImageNet network: `inflate(model)` fills the
    layers that have a 2D counterpart and returns an `InflationReport`."""
    inflate: object
    source: SourceFile = None


@dataclasses.dataclass(frozen=True)
class DirectoryWeights:
    """The `model.weights.h5` of a preset directory."""
    path: str


@dataclasses.dataclass(frozen=True)
class Preset:
    """A model with its weights and every fact needed to use it (see the module docstring).

    `model` is the Keras-serialized model config; `class_names` is None for backbones (no
    classifier); `metrics` are the publisher's figures in percent (`{"top1", "top5"}`),
    measured per `metrics_level` ("clip" or "video") as `evaluation` describes; `gmacs` as
    published, for `macs_input`.
    """
    name: str
    model: dict
    weights: object = None
    class_names: tuple = None
    clip: ClipSpec = ClipSpec()
    metrics: dict = dataclasses.field(default_factory=dict)
    metrics_level: str = None
    evaluation: str = ""
    gmacs: float = None
    macs_input: str = ""
    source: str = ""
    license: str = ""
    notes: str = ""

    def __post_init__(self):
        if self.class_names is not None:
            object.__setattr__(self, "class_names", tuple(str(n) for n in self.class_names))

    @property
    def builder(self):
        """The zoo builder's registry name, or None for a model that is not a zoo network."""
        return self.model["config"]["builder"] if is_video_model_config(self.model) else None

    @property
    def weights_name(self):
        """The part after the builder's name ("kinetics400" of "s3d.kinetics400")."""
        prefix = f"{self.builder}."
        return self.name[len(prefix):] if self.name.startswith(prefix) else self.name

    @property
    def classes(self):
        return None if self.class_names is None else len(self.class_names)

    def info(self):
        """The JSON-ready facts (all but the model config and the weights' location): what
        `metadata.json`, `.keras` files and exported files carry."""
        return {"name": self.name, "builder": self.builder,
                "class_names": None if self.class_names is None else list(self.class_names),
                "clip": self.clip.to_dict(), "metrics": dict(self.metrics),
                "metrics_level": self.metrics_level, "evaluation": self.evaluation,
                "gmacs": self.gmacs, "macs_input": self.macs_input, "source": self.source,
                "license": self.license, "notes": self.notes}

    @classmethod
    def from_info(cls, info, model=None, weights=None, where="preset"):
        """The inverse of `info` (`model`: the model config, when known)."""
        try:
            values = dict(info)
            clip = ClipSpec.from_dict(values.pop("clip", None) or {})
            keep = {f.name for f in dataclasses.fields(cls)} - {"model", "weights", "clip"}
            extra = {k: values[k] for k in values if k in keep}
            return cls(model=model or {}, weights=weights, clip=clip, **extra)
        except (TypeError, ValueError, AttributeError) as error:
            raise PresetError(f"{where}: invalid preset metadata ({error})") from None

    def for_model(self, model, head_loaded=True):
        """This preset as it describes `model` once applied. A model that did not take the
        classifier (a backbone, or a new head for other classes) gets no class names and
        none of the published metrics, which were measured with the head."""
        config = model_config(model.builder, **model.arguments) \
            if hasattr(model, "builder") else {}
        if head_loaded and classifier_classes(model) == self.classes:
            return dataclasses.replace(self, model=config, weights=None)
        return dataclasses.replace(
            self, model=config, weights=None, class_names=None, metrics={}, metrics_level=None,
            evaluation="", gmacs=None, macs_input="",
            source=f"initialised from {self.name}" + (f" ({self.source})" if self.source else ""))


def is_video_model_config(config):
    return isinstance(config, dict) and config.get("registered_name") == VIDEO_MODEL


def model_config(builder, **arguments):
    """The Keras config of the zoo network `builder(**arguments)`, without building it."""
    return {"module": "keras_video.zoo.base", "class_name": "VideoModel",
            "registered_name": VIDEO_MODEL,
            "config": {"builder": builder, "arguments": dict(arguments)}}


# The registry of named presets.

_REGISTRY = {}


def register(preset):
    """Adds a preset under `preset.name` (builder.weights, e.g. "s3d.kinetics400")."""
    if preset.name in _REGISTRY:
        raise ValueError(f"preset {preset.name!r} is registered twice")
    _REGISTRY[preset.name] = preset
    return preset


def unregister(name):
    """Removes a registered preset (for tests and plugins that replace one)."""
    _REGISTRY.pop(name)


def list_presets(builder=None):
    """Names of the registered presets, sorted; only `builder`'s with a builder name."""
    return sorted(name for name, preset in _REGISTRY.items()
                  if builder is None or preset.builder == builder)


def available(builder):
    """The weights names registered for a zoo builder (`"kinetics400"`, `"imagenet"`, ...)."""
    return sorted(_REGISTRY[name].weights_name for name in list_presets(builder))


def get(name, builder=None):
    """The registered preset `name` ("s3d.kinetics400"; with `builder`, also "kinetics400").
    Unknown names raise with the known ones."""
    full = name if name in _REGISTRY or builder is None else f"{builder}.{name}"
    if full in _REGISTRY:
        preset = _REGISTRY[full]
        if builder is not None and preset.builder not in (None, builder):
            raise ValueError(f"preset {name!r} is for {preset.builder!r}, not {builder!r}")
        return preset
    if builder is not None:
        names = available(builder)
        models = sorted({p.builder for p in _REGISTRY.values() if p.builder})
        raise ValueError(
            f"Unknown weights {name!r} for model {builder!r}{did_you_mean(name, names)}: it is "
            "neither an existing file or preset directory nor a registered name. "
            f"Registered weights for {builder!r}: "
            f"{', '.join(names) if names else 'none'} (models with registered weights: "
            f"{', '.join(models)}). Pass weights=None for random initialisation, a preset "
            "directory, or the path of a .weights.h5 / .keras file.")
    raise ValueError(f"Unknown preset {name!r}{did_you_mean(name, list_presets())}: neither a "
                     "preset directory nor a registered "
                     f"name. Registered presets: {', '.join(list_presets())}")


# Preset directories.

def is_directory(path):
    """True for a folder that holds a preset's config.json and metadata.json."""
    path = os.fspath(path)
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, CONFIG_FILE)) and \
        os.path.isfile(os.path.join(path, METADATA_FILE))


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise PresetError(f"{os.path.dirname(path)} is not a complete preset: "
                          f"{os.path.basename(path)} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PresetError(f"{path} is corrupt ({error}); save the preset again") from None


def read_directory(directory):
    """The `Preset` stored in a preset directory; a missing or corrupt file is named."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise PresetError(f"{directory} is not a preset directory")
    for name in PRESET_FILES:
        if not os.path.isfile(os.path.join(directory, name)):
            raise PresetError(f"{directory} is not a complete preset: {name} is missing")
    config = _read_json(os.path.join(directory, CONFIG_FILE))
    metadata = _read_json(os.path.join(directory, METADATA_FILE))
    if not isinstance(config, dict) or "class_name" not in config:
        raise PresetError(f"{os.path.join(directory, CONFIG_FILE)} holds no Keras model config")
    if not isinstance(metadata, dict):
        raise PresetError(f"{os.path.join(directory, METADATA_FILE)} holds no mapping")
    weights = os.path.join(directory, WEIGHTS_FILE)
    expected = metadata.get("weights_sha256")
    if expected and fetching.sha256_of(weights) != expected:
        raise PresetError(f"{weights} does not match the sha256 in {METADATA_FILE}: the file "
                          "is damaged or was replaced; save the preset again")
    preset = Preset.from_info(metadata, model=config,
                              weights=DirectoryWeights(weights),
                              where=os.path.join(directory, METADATA_FILE))
    return dataclasses.replace(preset, name=preset.name or os.path.basename(directory))


def resolve(name_or_directory, builder=None):
    """The `Preset` for a registered name or a preset directory."""
    if isinstance(name_or_directory, Preset):
        return name_or_directory
    path = os.fspath(name_or_directory)
    if os.path.isdir(path):
        return read_directory(path)
    return get(path, builder)


def _normalized(key, value):
    if key == "crop" and isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    if key in ("mean", "std"):
        return tuple(round(float(v), 5) for v in value)
    return tuple(value) if isinstance(value, (list, tuple)) else value


def model_clip(model, clip=None, **overrides):
    """The clip spec of `model`: `clip` (or the model's preset's, or the defaults) updated by
    `overrides`, with what the model fixes taken from it (frames and crop from its input
    shape, value range and mean / std from its preprocessing layer). An override that
    contradicts the model raises."""
    preset = getattr(model, "preset", None)
    base = clip or (preset.clip if preset is not None else ClipSpec())
    overrides = {key: value for key, value in overrides.items() if value is not None}
    values = {**base.to_dict(), **overrides}
    # A model built around a video network (the action detector) names it: its input and
    # preprocessing fix the clip.
    model = getattr(model, "video_network", model)
    shape = model.inputs[0].shape
    frames, height, width = shape[1:4] if len(shape) == 5 else (None, None, None)
    fixed = {}
    if frames is not None:
        fixed["frames"] = int(frames)
    if height is not None and width is not None:
        fixed["crop"] = (int(height), int(width))
    try:
        rescaling = model.get_layer("preprocessing")
    except ValueError:
        rescaling = None
    if rescaling is not None:  # x * scale + offset = (x / 255 - mean) / std
        scale = np.broadcast_to(np.asarray(rescaling.scale, np.float64), (3,))
        offset = np.broadcast_to(np.asarray(rescaling.offset, np.float64), (3,))
        std = 1.0 / (255.0 * scale)
        fixed.update(value_range=(0, 255), mean=tuple(round(float(v), 7) for v in -offset * std),
                     std=tuple(round(float(v), 7) for v in std))
    elif "value_range" not in overrides:
        values["value_range"] = None  # no preprocessing layer: the caller normalises
    for key, value in fixed.items():
        if key in overrides and _normalized(key, overrides[key]) != _normalized(key, value):
            raise ValueError(f"clip {key}={overrides[key]!r} contradicts the model, which fixes "
                             f"{key}={value!r} (its input shape or preprocessing)")
        values[key] = value
    return ClipSpec.from_dict(values)


def classifier_classes(model):
    """The number of classes of a zoo classifier, None for a backbone or another model."""
    layer = getattr(model, "classifier_layer", None)
    if layer is None:
        return None
    try:
        return int(model.get_layer(layer).kernel.shape[-1])
    except ValueError:
        return None


def output_classes(model):
    """The width of the model's (first) output, for class names of any classifier; for a
    subclassed model without symbolic outputs (the action detector), its classifier's."""
    if not hasattr(model, "outputs"):
        return classifier_classes(model)
    shape = model.outputs[0].shape
    return int(shape[-1]) if len(shape) == 2 and shape[-1] is not None else None


def copy_keras_weights(keras_file, target):
    """Writes the weights inside the `.keras` archive `keras_file` to `target` (a
    `.weights.h5`). Keras writes them and `save_weights` with one routine (the optimizer's
    state included), so the file holds what `save_weights` would write for the model saved
    there, at the cost of a copy instead of reading every variable again (about a second for
    the demo's models)."""
    # Keras' archives keep them as "model.weights.h5" (uncompressed), as presets do.
    with zipfile.ZipFile(keras_file) as archive, archive.open("model.weights.h5") as source, \
            open(target, "wb") as copy:
        shutil.copyfileobj(source, copy, 1 << 20)


def save(model, directory, class_names=None, *, name=None, metrics=None, metrics_level=None,
         evaluation=None, source=None, license=None, notes=None, overwrite=False,
         weights_from=None, **clip_spec):
    """Saves `model` as a preset directory and returns its `Preset`.

    `class_names` default to the model's preset's; their count must equal the model's
    outputs. `clip_spec` keywords (frames, frame_stride, fps, short_side, crop, value_range,
    mean, std) update the model's clip spec; values its input shape or preprocessing fix are
    taken from it. `weights_from`: a `.keras` file `model` was saved to just now (a
    training's epoch end writes both); its weights are copied (`copy_keras_weights`) instead
    of written again. The directory is written under a temporary name and renamed, so a
    failed save leaves nothing half-written (and, with `overwrite`, the earlier preset whole).
    """
    directory = os.path.abspath(os.fspath(directory))
    if os.path.exists(directory) and not overwrite:
        raise FileExistsError(f"{directory} exists: pass overwrite=True or another directory")
    current = getattr(model, "preset", None)
    if class_names is None and current is not None:
        class_names = current.class_names
    if class_names is not None:
        class_names = [str(n) for n in class_names]
        count = output_classes(model)
        if count != len(class_names):
            raise ValueError(f"{len(class_names)} class names for a model with "
                             f"{count if count is not None else 'no classifier'} outputs")
    given = dict(name=name, metrics=metrics, metrics_level=metrics_level, evaluation=evaluation,
                 source=source, license=license, notes=notes)
    base = current or Preset(name=os.path.basename(directory), model={})
    preset = dataclasses.replace(
        base, model=_plain_config(model), weights=None, clip=model_clip(model, **clip_spec),
        class_names=class_names, **{k: v for k, v in given.items() if v is not None})
    if name is None and current is None:
        preset = dataclasses.replace(preset, name=os.path.basename(directory))

    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    partial = tempfile.mkdtemp(prefix=f".{os.path.basename(directory)}.partial-", dir=parent)
    try:
        with open(os.path.join(partial, CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(preset.model, f, indent=1)
        if weights_from is None:
            model.save_weights(os.path.join(partial, WEIGHTS_FILE))
        else:
            copy_keras_weights(weights_from, os.path.join(partial, WEIGHTS_FILE))
        metadata = {
            **preset.info(), "keras_video_version": __version__,
            "keras_version": keras.__version__, "parameter_count": int(model.count_params()),
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "weights_sha256": fetching.sha256_of(os.path.join(partial, WEIGHTS_FILE)),
        }
        with open(os.path.join(partial, METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=1)
        _replace_directory(partial, directory)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return dataclasses.replace(preset, weights=DirectoryWeights(
        os.path.join(directory, WEIGHTS_FILE)))


def _replace_directory(new, target):
    """Moves the finished folder `new` to `target`, replacing an earlier one only once the new
    one is complete."""
    if not os.path.exists(target):
        os.rename(new, target)
        return
    old = target + ".replaced"
    shutil.rmtree(old, ignore_errors=True)
    os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


def _plain_config(model):
    """The Keras config of `model` without the preset facts a VideoModel also carries (in a
    preset directory they live in metadata.json alone)."""
    config = keras.saving.serialize_keras_object(model)
    config.get("config", {}).pop("preset", None)
    return config


# Applying a preset's weights.

def build(config, **overrides):
    """The model of a Keras config; `overrides` update a zoo builder's keywords."""
    config = json.loads(json.dumps(config))  # a private copy
    if overrides:
        if not is_video_model_config(config):
            raise ValueError("builder keywords apply to presets of zoo networks only; this "
                             f"one holds a {config.get('class_name')!r} model")
        config["config"]["arguments"].update(overrides)
    config.get("config", {}).pop("preset", None)
    return keras.saving.deserialize_keras_object(config)


def load(name_or_directory, **builder_overrides):
    """The model of a registered preset or a preset directory, with its weights; its
    `preset` attribute holds the class names and the clip spec (`model.preset.class_names`,
    `model.preset.clip`). `builder_overrides` change builder keywords (`input_shape`,
    `include_top=False`, `classes=10` with a new head, ...)."""
    preset = resolve(name_or_directory)
    model = build(preset.model, **builder_overrides)
    return apply(preset, model, skip_head="if_classes_differ")


def weight_arrays(preset, progress=print):
    """`{variable path: array}` of a preset's full model (`UpstreamWeights` converted once and
    cached; a directory's file read)."""
    source = preset.weights
    if isinstance(source, DirectoryWeights):
        model = _load_file(build(preset.model), source.path)
        return {v.path: keras.ops.convert_to_numpy(v) for v in model.weights}
    if isinstance(source, UpstreamWeights):
        def convert():
            paths = [fetching.fetch(file) for file in source.files]
            if progress:
                progress(f"Converting {preset.name} weights from {os.path.basename(paths[0])} "
                         "(once; the result is cached)")
            model = source.convert(build(preset.model), paths[0])
            return {v.path: keras.ops.convert_to_numpy(v) for v in model.weights}
        return fetching.cached_arrays(preset.name, source.files, convert)
    raise TypeError(f"preset {preset.name!r} has no weights to read ({source!r})")


def _load_file(model, path):
    try:
        model.load_weights(path)
    except (OSError, ValueError) as error:
        raise PresetError(f"{path} does not hold this preset's weights "
                          f"({str(error).splitlines()[0]})") from None
    return model


def _same_network(config, model):
    """True when `model` is the network `config` describes (not a backbone or another shape
    of it)."""
    if not is_video_model_config(config):
        return True  # a plain Keras config: the model was built from it
    mine = {"builder": getattr(model, "builder", None),
            "arguments": getattr(model, "arguments", None)}
    return json.dumps(mine, sort_keys=True) == json.dumps(config["config"], sort_keys=True)


def apply(preset, model, skip_head=False):
    """Loads `preset`'s weights into `model` (its own architecture, or one built with other
    keywords: a backbone, another input shape) and sets `model.preset`. `skip_head` leaves the
    classifier as initialised; "if_classes_differ" does so where the classes differ."""
    preset = resolve(preset)
    if preset.builder and getattr(model, "builder", preset.builder) != preset.builder:
        raise ValueError(f"preset {preset.name!r} holds {preset.builder!r} weights; the model "
                         f"is {model.builder!r}")
    if isinstance(preset.weights, InflatedWeights):
        report = preset.weights.inflate(model)
        if not report.inflated:
            raise ValueError(f"{preset.name}: no layer of {model.name} took ImageNet weights; "
                             "build it with its default switches")
        model.preset = preset.for_model(model, head_loaded=False)
        return model
    classes = classifier_classes(model)
    differ = classes is not None and preset.classes is not None and classes != preset.classes
    if skip_head == "if_classes_differ":
        skip_head = differ
    if differ and not skip_head:
        raise ValueError(
            f"weights {preset.name!r} have {preset.classes} classes, but the model was built "
            f"with classes={classes}. To fine-tune on your classes, build with "
            f"include_top=False, pooling='avg' and add a Dense({classes}) head, or keep "
            f"classes={preset.classes}.")
    skip = {getattr(model, "classifier_layer", None)} - {None} if skip_head else set()
    if not skip and isinstance(preset.weights, DirectoryWeights) and \
            _same_network(preset.model, model):
        _load_file(model, preset.weights.path)  # the saved network itself: read it directly
    else:
        copy_weights(weight_arrays(preset), model, preset.name, skip_layers=skip)
    model.preset = preset.for_model(model, head_loaded=not skip_head)
    return model


def apply_weights(model, weights, skip_head=False):
    """The builders' `weights=`: None, a registered weights name ("kinetics400" or
    "s3d.kinetics400"), a preset directory, or a `.weights.h5` / `.keras` file."""
    if weights is None:
        return model
    if isinstance(weights, Preset):
        return apply(weights, model, skip_head)
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights must be None, a file or preset directory path, or a weights "
                        f"name, got {weights!r}")
    path = os.fspath(weights)
    if os.path.isdir(path):
        return apply(read_directory(path), model, skip_head)
    if os.path.exists(path):
        model.load_weights(path)
        return model
    return apply(get(path, getattr(model, "builder", None)), model, skip_head)
