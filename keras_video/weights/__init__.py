"""Weights machinery, shared by every model family and importing none: downloads and mirrors
with hash checks and the cache of converted weights (`fetching`), pickle-free PyTorch files
(`torch_files`), TF1 checkpoints (`tf_checkpoints`), PyTorch state dicts paired with our units
(`torch_state_dicts`) and the 2D -> 3D inflation algorithm (`inflation`).

Which weights a model has, and how its upstream checkpoints map onto it, are facts about the
model: they live beside each family in `keras_video.zoo` (its presets, checkpoint name maps and
inflation pairs). `keras_video.presets` applies them.
"""
from keras_video.weights import fetching, inflation, tf_checkpoints, torch_files  # noqa: F401
from keras_video.weights import torch_state_dicts  # noqa: F401
from keras_video.weights.inflation import InflationReport, inflate
from keras_video.weights.torch_files import UnsafeCheckpointError, read_state_dict

__all__ = ["InflationReport", "UnsafeCheckpointError", "copy_weights", "inflate",
           "read_state_dict"]


def copy_weights(by_path, target, what, skip_layers=()):
    """Sets every weight of `target` from `by_path` (`{variable path: array}`), but those of
    the layers named in `skip_layers` (a new classifier). Paths do not depend on the model's
    name, input shape or preprocessing, so a backbone takes a full model's weights."""
    skip_layers = set(skip_layers)
    for variable in target.weights:
        if "seed_generator" in variable.path or variable.path.split("/")[0] in skip_layers:
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
