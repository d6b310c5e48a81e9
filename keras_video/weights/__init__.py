"""Pretrained weights: resolving the `weights=` argument of the builders.

`weights` is None (random initialisation), a path to a `.weights.h5` / `.keras` file, or a
registered name such as "kinetics400" (`registry.ENTRIES`). A registered name is fetched once
(`fetching`), converted once from its upstream format (`converters`) into a cached
`.npz` of `{variable path: array}`, and copied into the model variable by variable, so that `include_top=False`,
another `input_shape` or `include_preprocessing=False` take the same weights.
"""
import os
import tempfile

import numpy as np

from keras_video.weights import converters, fetching, inflation, registry
from keras_video.weights.inflation import inflate
from keras_video.weights.registry import REGISTRY, available

__all__ = ["REGISTRY", "available", "load_weights", "entry", "inflate", "convert",
           "converted_weights"]

convert = converters.convert
entry = registry.get


def converted_weights(weights_entry, progress=print):
    """`{variable path: array}` of a registry entry's converted weights, converting them (once:
    the result is cached) from the upstream files on first use."""
    cached = fetching.converted_path(weights_entry)
    if not os.path.exists(cached):
        from keras_video import zoo  # zoo imports this package
        paths = [fetching.fetch(source) for source in weights_entry.files]
        if progress:
            progress(f"Converting {weights_entry.model} {weights_entry.name} weights from "
                     f"{os.path.basename(paths[0])} (once; cached in {cached})")
        model = zoo.get(weights_entry.model, classes=weights_entry.classes,
                        **weights_entry.model_kwargs)
        converters.CONVERTERS[weights_entry.converter](model, paths[0])
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        # Written under a temporary name and renamed: an interrupted run leaves no partial cache.
        fd, partial = tempfile.mkstemp(suffix=".npz", dir=os.path.dirname(cached))
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **{v.path: v.numpy() for v in model.weights
                               if "seed_generator" not in v.path})
            os.replace(partial, cached)
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    with np.load(cached) as arrays:
        return dict(arrays)


def _classes_of(model):
    """The classes of the model's classifier; None without one."""
    for layer in model.layers:
        if layer.name in registry.CLASSIFIER_LAYERS and layer.weights:
            return layer.kernel.shape[-1]
    return None


def copy_weights(by_path, target, what, skip_head=False):
    """Sets every weight of `target` from `by_path` (`{variable path: array}`; all but the
    classifier with `skip_head`). Paths do not depend on the model's name, input shape or
    preprocessing, so a backbone takes a full model's weights."""
    for variable in target.weights:
        head = variable.path.split("/")[0] in registry.CLASSIFIER_LAYERS
        if "seed_generator" in variable.path or (skip_head and head):
            continue
        if variable.path not in by_path:
            raise ValueError(f"{what}: the model's weight {variable.path} has no counterpart; "
                             "build the model with its default switches to use these weights")
        value = by_path[variable.path]
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"{what}: {variable.path} has shape {tuple(variable.shape)}, the "
                             f"weights {tuple(value.shape)}; build the model with its default "
                             "switches (width, kernel sizes, input channels) to use them")
        variable.assign(value)
    return target


def load_weights(model, weights, model_name, skip_head=False):
    """Loads `weights` into `model`; errors say what the caller can pass instead. With
    `skip_head`, a registered name fills everything but the classifier (fine-tuning on other
    classes keeps its new head); "if_classes_differ" keeps the head where the model has the
    weights' classes (the trainer's choice)."""
    if weights is None:
        return model
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights must be None, a file path or a weights name, got {weights!r}")
    path = os.fspath(weights)
    if os.path.exists(path):
        model.load_weights(path)
        return model
    if path == "imagenet":
        report = inflate(model, inflation.imagenet_source(model_name))
        if not report.inflated:
            raise ValueError(f"weights='imagenet': no layer of {model_name} took ImageNet "
                             "weights; build it with its default switches")
        return model
    weights_entry = registry.get(model_name, path)
    classes = _classes_of(model)
    differ = classes is not None and classes != weights_entry.classes
    if skip_head == "if_classes_differ":
        skip_head = differ
    if differ and not skip_head:
        raise ValueError(
            f"weights={path!r} of {model_name!r} have {weights_entry.classes} classes, but the "
            f"model was built with classes={classes}. To fine-tune on your classes, load the "
            f"backbone only: build it with include_top=False, pooling='avg' and add a Dense "
            f"({classes}) head, or keep classes={weights_entry.classes}.")
    copy_weights(converted_weights(weights_entry), model, f"{model_name} {path}", skip_head)
    return model
