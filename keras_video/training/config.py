"""Training recipes: one YAML file per model x dataset, plus `key=value` overrides.

A recipe is a nested mapping whose keys are fixed by `DEFAULTS` below, so a typo in a recipe
or an override is an error that names the known keys instead of a silently ignored setting.
Overrides use dotted paths and YAML values: `optimizer.learning_rate=0.01`,
`data.scale_jitter=[128,160]`, `model.kwargs.dropout_rate=0.2`.
"""
import copy
import os

import yaml

from keras_video import recipes

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
    "verbose": "auto",
}


def _merge(base, update, path=""):
    for key, value in update.items():
        where = f"{path}{key}"
        if key not in base:
            raise KeyError(f"unknown recipe key {where!r}; known keys at this level: "
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
    value = yaml.safe_load(raw) if raw.strip() else None
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
            with open(recipe, encoding="utf-8") as f:
                recipe_values = yaml.safe_load(f) or {}
            if not isinstance(recipe_values, dict):
                raise ValueError(f"{recipe} must hold a mapping of recipe keys")
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
    def one_of(key, value, allowed):
        if value not in allowed:
            raise ValueError(f"{key} must be one of {allowed}, got {value!r}")

    if not config["model"]["name"]:
        raise ValueError("the recipe names no model: set model.name (keras-video info --all "
                         "lists them)")
    one_of("data.source", config["data"]["source"], DATA_SOURCES)
    one_of("optimizer.name", config["optimizer"]["name"], ("sgd", "adamw", "adam"))
    one_of("schedule.name", config["schedule"]["name"], ("cosine", "step", "constant"))
    one_of("precision", config["precision"], ("float32", "mixed_float16", "mixed_bfloat16"))
    one_of("strategy", config["strategy"], ("default", "mirrored", "multi_worker", "tpu"))
    one_of("jit_compile", config["jit_compile"], ("auto", True, False))
    for key in ("batch_size", "epochs"):
        if not isinstance(config[key], int) or config[key] < 1:
            raise ValueError(f"{key} must be a positive int, got {config[key]!r}")
    if not config["data"]["train"]:
        raise ValueError("data.train is empty: give the training split's location (e.g. "
                         "data.train.root=/data/ucf101/train)")
