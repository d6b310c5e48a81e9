"""Pretrained weights: resolving the `weights=` argument of the builders.

`weights` is None (random initialisation), a path to a `.weights.h5` / `.keras` file, or a
registered name such as "kinetics400". The registry of named weights is `REGISTRY`:
`{model_name: {weights_name: entry}}`.
"""
import os

REGISTRY = {}


def available(model_name):
    """Names of the pretrained weights registered for a model."""
    return sorted(REGISTRY.get(model_name, {}))


def load_weights(model, weights, model_name):
    """Loads `weights` into `model`; errors say what the caller can pass instead."""
    if weights is None:
        return model
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights must be None, a file path or a weights name, got {weights!r}")
    path = os.fspath(weights)
    if os.path.exists(path):
        model.load_weights(path)
        return model
    names = available(model_name)
    raise ValueError(
        f"Unknown weights {path!r} for model {model_name!r}: it is neither an existing file nor "
        f"a registered name. Registered weights for {model_name!r}: "
        f"{', '.join(names) if names else 'none yet'}. Pass weights=None for random "
        f"initialisation or the path of a .weights.h5 / .keras file.")
