"""Training recipes: one YAML file per model x dataset, plus `key=value` overrides.

A recipe is a nested mapping whose keys are fixed by `DEFAULTS` below, so a typo in a recipe
or an override is an error that names the known keys instead of a silently ignored setting.
Overrides use dotted paths and YAML values: `optimizer.learning_rate=0.01`,
`data.scale_jitter=[128,160]`, `model.kwargs.dropout_rate=0.2`. A value of the wrong type is
an error that names its key.
"""
import copy
import os

import yaml

from keras_video import recipes
from keras_video.suggestions import did_you_mean

# The video-list readers `keras_video.training.trainer.SOURCES` maps these names to.
DATA_SOURCES = ("directory", "kinetics_csv", "ucf101", "hmdb51", "something_something")

DEFAULTS = {
    "name": None,                # run name; the output folder is output_dir/name
    "model": {
        "name": None,            # registry name (keras_video.zoo.list_models())
        "weights": None,         # None, a file, or a registered name (imagenet, kinetics400)
        "kwargs": {},            # any other builder keyword (dropout_rate, gating_startat ...)
    },
    "data": {
        "source": "directory",   # one of DATA_SOURCES
        "train": {},             # the source's arguments for the training split
        "validation": {},        # ... and for the validation split ({} for none)
        "num_frames": 16,
        "stride": 2,
        "fps": None,
        "crop_size": 224,
        "scale_jitter": [256, 320],
        "flip": True,
        "mix": None,             # None | mixup | cutmix
        "shuffle": True,         # training videos in a new random order every epoch
        "cache": None,           # None | memory | a file path prefix: decode each training
                                 # video once, replay its clip in later epochs
        "eval_clips": 1,         # clips x crops per validation video (the papers: 10 x 3)
        "eval_crops": 1,
        "num_parallel_calls": None,  # None: tf.data.AUTOTUNE
    },
    "batch_size": 8,             # global batch: split over the replicas
    "epochs": 10,
    "steps_per_epoch": None,     # None: one pass over the training videos
    "optimizer": {
        "name": "sgd",           # sgd | adamw | adam
        "learning_rate": 0.1,    # for the global batch
        "momentum": 0.9,
        "nesterov": False,
        "weight_decay": 1e-4,    # decoupled (Keras applies it to the weights directly)
        "clipnorm": None,        # global gradient-norm clipping
    },
    "schedule": {
        "name": "cosine",        # cosine | step | constant
        "warmup_epochs": 0,
        "step_epochs": [],       # step: epochs at which the rate is multiplied by step_factor
        "step_factor": 0.1,
    },
    "label_smoothing": 0.0,
    "precision": "float32",      # float32 | mixed_float16 (GPU) | mixed_bfloat16 (TPU, CPU)
    "jit_compile": "auto",       # auto | true | false
    "freeze_bn": False,          # BatchNorm statistics and scales fixed (fine-tuning)
    "strategy": "default",       # default | mirrored | multi_worker | tpu
    "output_dir": "runs",
    "seed": 0,
    "backup_every_steps": None,  # None: back up at every epoch end; N: also every N steps
    "verbose": "auto",           # auto (live bar on a terminal, line per epoch in a log) | 0-2
}


# The type of every value (None is allowed where the default is None, and for scale_jitter);
# `validate` checks them so that a wrong one names its key, not a float() deep in the trainer.
POSITIVE_INTS = ("data.num_frames", "data.stride", "data.crop_size", "data.eval_clips",
                 "data.eval_crops", "data.num_parallel_calls", "batch_size", "epochs",
                 "steps_per_epoch", "backup_every_steps")
NUMBERS = ("data.fps", "optimizer.learning_rate", "optimizer.momentum", "optimizer.weight_decay",
           "optimizer.clipnorm", "schedule.warmup_epochs", "schedule.step_factor",
           "label_smoothing")
NUMBER_LISTS = ("data.scale_jitter", "schedule.step_epochs")
INTS = ("seed",)
BOOLS = ("data.flip", "data.shuffle", "optimizer.nesterov", "freeze_bn")
STRINGS = ("name", "model.name", "model.weights", "data.cache", "output_dir")
SECTIONS = ("model.kwargs", "data.train", "data.validation")  # keyword mappings
CHOICES = {"data.source": DATA_SOURCES, "data.mix": (None, "mixup", "cutmix"),
           "optimizer.name": ("sgd", "adamw", "adam"),
           "schedule.name": ("cosine", "step", "constant"),
           "precision": ("float32", "mixed_float16", "mixed_bfloat16"),
           "strategy": ("default", "mirrored", "multi_worker", "tpu"),
           "jit_compile": ("auto", True, False), "verbose": ("auto", 0, 1, 2)}
NULLABLE = ("data.scale_jitter",)

# Keys a resumed run may change: how the run is carried out, not what it trains. A higher
# `epochs` continues a finished run (its learning-rate schedule recomputed for the new length).
RESUMABLE = frozenset({"name", "output_dir", "epochs", "verbose", "strategy", "jit_compile",
                       "backup_every_steps", "data.num_parallel_calls", "data.eval_clips",
                       "data.eval_crops"})


def leaves(config, defaults=None, path=""):
    """{dotted key: value} of a config, the keyword sections (`SECTIONS`) as one value each."""
    defaults = DEFAULTS if defaults is None else defaults
    found = {}
    for key, default in defaults.items():
        where = f"{path}{key}"
        value = config.get(key) if isinstance(config, dict) else None
        if isinstance(default, dict) and where not in SECTIONS:
            found.update(leaves(value if isinstance(value, dict) else {}, default, where + "."))
        else:
            found[where] = value
    return found


def read_yaml(path, what):
    """The mapping in the YAML file `path`; a damaged file raises ValueError naming it."""
    with open(path, encoding="utf-8") as f:
        try:
            values = yaml.safe_load(f)
        except yaml.YAMLError as error:
            raise ValueError(f"{path} ({what}) is not valid YAML: {_yaml_problem(error)}") \
                from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"{path} ({what}) must hold a mapping of recipe keys, got a "
                         f"{type(values).__name__}")
    return values


def _yaml_problem(error):
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def _merge(base, update, path=""):
    for key, value in update.items():
        where = f"{path}{key}"
        if key not in base:
            raise KeyError(f"unknown recipe key {where!r}{did_you_mean(key, base)}; known keys "
                           "at this level: "
                           f"{', '.join(sorted(base))}")
        free = base[key] == {} or key in ("train", "validation", "kwargs")
        if isinstance(base[key], dict) and not free:
            if not isinstance(value, dict):
                raise TypeError(f"recipe key {where!r} is a section; got {value!r}")
            _merge(base[key], value, where + ".")
        else:
            base[key] = value


def parse_override(text):
    """`a.b.c=value` -> {"a": {"b": {"c": value}}}, the value read as YAML."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form key=value (e.g. epochs=5)")
    path, _, raw = text.partition("=")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as error:
        raise ValueError(f"override {text!r}: its value is not valid YAML "
                         f"({_yaml_problem(error)})") from None
    keys = path.strip().lstrip("-").split(".")
    if not all(keys):
        raise ValueError(f"override {text!r} has an empty key")
    tree = value
    for key in reversed(keys):
        tree = {key: tree}
    return tree


def load_config(recipe=None, overrides=()):
    """The full config: DEFAULTS, updated by the recipe (a packaged recipe's name, a YAML path
    or a mapping), then by `overrides` (strings `key=value` or mappings)."""
    config = copy.deepcopy(DEFAULTS)
    if recipe is not None:
        if isinstance(recipe, (str, os.PathLike)):
            recipe = recipes.path(recipe)  # a packaged recipe's name, or a file
            recipe_values = read_yaml(recipe, "a training recipe")
            if config["name"] is None and "name" not in recipe_values:
                recipe_values["name"] = os.path.splitext(os.path.basename(recipe))[0]
        else:
            recipe_values = recipe
        _merge(config, copy.deepcopy(recipe_values))
    for override in overrides:
        _merge(config, parse_override(override) if isinstance(override, str) else override)
    validate(config)
    return config


def validate(config):
    """Checks every value's type and range (numbers written as strings, which YAML makes of
    `1e-4` without a dot, become numbers); raises ValueError naming the key."""
    if not config["model"]["name"]:
        raise ValueError("the recipe names no model: set model.name (keras-video info --all "
                         "lists them)")
    for where, value in leaves(config).items():
        checked = _checked(where, value)
        if checked is not value:
            *parents, key = where.split(".")
            section = config
            for parent in parents:
                section = section[parent]
            section[key] = checked
    if not config["data"]["train"]:
        raise ValueError("data.train is empty: give the training split's location (e.g. "
                         "data.train.root=/data/ucf101/train)")


def _checked(where, value):
    """`value` if it has the type of key `where`, a number from a numeric string."""
    if where in CHOICES:
        if not any(value == c and isinstance(value, bool) == isinstance(c, bool)
                   for c in CHOICES[where]):
            raise ValueError(f"{where} must be one of {CHOICES[where]}, got {value!r}")
        return value
    if value is None and (where in NULLABLE or _default(where) is None):
        return value
    if where in SECTIONS:
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a mapping of keywords, got {value!r}")
        return value
    if where in POSITIVE_INTS or where in INTS:
        if isinstance(value, bool) or not isinstance(value, int) or (
                where in POSITIVE_INTS and value < 1):
            kind = "a positive int" if where in POSITIVE_INTS else "an int"
            raise ValueError(f"{where} must be {kind}, got {value!r}")
        return value
    if where in NUMBERS:
        return _number(where, value)
    if where in NUMBER_LISTS:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where} must be a list of numbers, got {value!r}")
        numbers = [_number(where, v) for v in value]
        if where == "data.scale_jitter" and len(numbers) != 2:
            raise ValueError(f"{where} must be [smallest, largest] short side, got {value!r}")
        return value if all(a is b for a, b in zip(numbers, value)) else numbers
    if where in BOOLS:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, got {value!r}")
        return value
    if where in STRINGS:
        if not isinstance(value, (str, os.PathLike)):
            raise ValueError(f"{where} must be a string, got {value!r}")
        return value
    raise AssertionError(f"recipe key {where} has no type in keras_video.training.config")


def _number(where, value):
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} must be a number, got {value!r}")
    return value


def _default(where):
    value = DEFAULTS
    for key in where.split("."):
        value = value[key]
    return value


def changed_for_resuming(saved, config):
    """The keys, outside `RESUMABLE`, whose values differ between the config a run was
    started with (`saved`, as read back from its config.yaml) and `config`, each as
    `key (saved -> now)`."""
    before, now = leaves(saved), leaves(_plain(config))
    return [f"{key} ({before[key]!r} -> {now[key]!r})" for key in now
            if key not in RESUMABLE and before.get(key) != now[key]]


def _plain(value):
    """Tuples as lists, as a YAML round trip gives them back."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
