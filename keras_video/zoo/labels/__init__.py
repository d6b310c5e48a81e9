"""Class names of the datasets the registered weights were trained on, in output order
(`README.md` beside these files says where each list comes from)."""
import functools
import os


@functools.lru_cache(maxsize=None)
def read(name):
    """The class names of `name` ("kinetics400", "kinetics600") as a tuple."""
    path = os.path.join(os.path.dirname(__file__), name + ".txt")
    if not os.path.isfile(path):
        raise ValueError(f"no label list {name!r}; known: {', '.join(known())}")
    with open(path, encoding="utf-8") as f:
        return tuple(line.strip() for line in f if line.strip())


def known():
    folder = os.path.dirname(__file__)
    return sorted(f[:-4] for f in os.listdir(folder) if f.endswith(".txt"))


def by_count(count):
    """The one label list with `count` names (Kinetics-400 or -600), or None."""
    matches = [read(name) for name in known() if len(read(name)) == count]
    return matches[0] if len(matches) == 1 else None
