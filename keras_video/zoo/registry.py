"""One registry of model builders: the names the CLI and `keras_video.zoo.get` take."""
from keras_video.suggestions import did_you_mean

_BUILDERS = {}


def register(name):
    """Class decorator-style registration: `@register("s3dg")` above a builder function."""
    def wrap(builder):
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is registered twice")
        _BUILDERS[name] = builder
        builder.registry_name = name
        return builder
    return wrap


def list_models():
    """Registry names of every model builder, sorted."""
    return sorted(_BUILDERS)


def _key(name):
    return name.lower().replace("-", "_")  # "R3D-18" is r3d_18


def is_registered(name):
    """True where `get_builder(name)` would find a builder."""
    return isinstance(name, str) and _key(name) in _BUILDERS


def get_builder(name):
    if not isinstance(name, str):
        raise TypeError(f"a model is named by a string such as 's3d', not {name!r}")
    key = _key(name)
    if key not in _BUILDERS:
        raise ValueError(f"Unknown model {name!r}{did_you_mean(key, list_models())}. "
                         f"Available models: {', '.join(list_models())}")
    return _BUILDERS[key]


def get(model, /, **kwargs):
    """Builds the registered `model` with any builder keyword, e.g. `get("s3dg", classes=10)`."""
    return get_builder(model)(**kwargs)
