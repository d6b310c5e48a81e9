"""Training recipes shipped with the package, one YAML file per model x dataset, with the
model cards (`cards/`) that give their published figures. A recipe is addressed by its name
(`s3dg_ucf101_split1`) or by a path to any YAML file."""
import os

import yaml

from keras_video.suggestions import did_you_mean

FOLDER = os.path.dirname(os.path.abspath(__file__))


def names():
    """The packaged recipes' names, sorted."""
    return sorted(f[: -len(".yaml")] for f in os.listdir(FOLDER) if f.endswith(".yaml"))


def path(name_or_path):
    """The YAML file of a packaged recipe's name, or `name_or_path` itself where it is a file."""
    name_or_path = os.fspath(name_or_path)
    if os.path.isfile(name_or_path):
        return name_or_path
    candidate = os.path.join(FOLDER, name_or_path + ".yaml")
    if os.path.isfile(candidate):
        return candidate
    raise FileNotFoundError(f"no recipe {name_or_path!r}{did_you_mean(name_or_path, names())}: "
                            "neither a file nor a packaged recipe "
                            f"({', '.join(names())})")


def describe(name):
    """`{"name", "model", "weights", "dataset", "path"}` of a packaged recipe."""
    file = path(name)
    with open(file, encoding="utf-8") as f:
        recipe = yaml.safe_load(f) or {}
    model = recipe.get("model", {})
    source = recipe.get("data", {}).get("source", "directory")
    return {"name": name, "model": model.get("name"), "weights": model.get("weights"),
            "dataset": _DATASETS.get(source, source), "path": file}


_DATASETS = {"ucf101": "UCF-101", "hmdb51": "HMDB-51", "kinetics_csv": "Kinetics-400",
             "something_something": "Something-Something v2", "directory": "class folders"}
