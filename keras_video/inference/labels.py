"""Scores to class names: `decode_predictions` in the `keras.applications` style."""
import numpy as np

from keras_video.zoo import labels


def check_top_k(k):
    """Refuses a `k` that is neither a positive integer nor None (every class): a negative
    one would slice classes off the end, zero return none."""
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {k!r}")


def top_classes(scores, class_names, k):
    """`[{"class", "score"}]` of the `k` best scores, best first (ties by class order)."""
    check_top_k(k)
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return [{"class": class_names[i], "score": round(float(scores[i]), 6)} for i in order]


def class_names_of(source, count):
    """Class names for `count` scores from `source`: a list of names, a model or predictor
    with them (`model.preset.class_names`, `predictor.class_names`), or None for the Kinetics
    list of that size (400 or 600 classes)."""
    preset = getattr(source, "preset", None)
    if preset is not None:
        source = preset.class_names
    elif hasattr(source, "class_names"):
        source = source.class_names
    if source is None:
        source = labels.by_count(count)
        if source is None:
            raise ValueError(f"no class names for {count} classes: pass class_names (a list, "
                             "or a model loaded from a preset)")
    source = list(source)
    if len(source) != count:
        raise ValueError(f"{len(source)} class names for {count} scores")
    return source


def decode_predictions(probabilities, top=5, class_names=None):
    """The `top` classes of each row of `probabilities` (batch, classes) as lists of
    `(class index, class name, score)`, best first, as `keras.applications`' function does
    for ImageNet. `class_names`: a list, a model loaded from a preset or with registered
    weights, a `Predictor`, or None for Kinetics-400 / -600 by the number of classes."""
    check_top_k(top)
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities are (batch, classes), got shape {probabilities.shape}")
    names = class_names_of(class_names, probabilities.shape[1])
    results = []
    for row in probabilities:
        order = np.argsort(-row, kind="stable")[:top]
        results.append([(int(i), names[i], float(row[i])) for i in order])
    return results
