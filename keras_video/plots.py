"""PNG figures of a run: training curves and the confusion matrix (matplotlib, no display)."""
import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(histories, path, metric="accuracy", title="training curves"):
    """One line per run of `{run name: keras History.history}`: loss and `metric` (and their
    validation values where present) against the epoch."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, history in histories.items():
        for axis, key in zip(axes, ("loss", metric)):
            values = history.get(key, [])
            line, = axis.plot(np.arange(1, len(values) + 1), values, label=f"{name} train")
            if f"val_{key}" in history:
                axis.plot(np.arange(1, len(history[f"val_{key}"]) + 1), history[f"val_{key}"],
                          "--", color=line.get_color(), label=f"{name} held-out")
    for axis, key in zip(axes, ("loss", metric)):
        axis.set_xlabel("epoch")
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def confusion_matrix(matrix, class_names, path, title="confusion matrix"):
    plt = _pyplot()
    size = max(4, 0.45 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right", fontsize=8)
    axis.set_yticks(range(len(class_names)), class_names, fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    if len(class_names) <= 30:
        for (i, j), value in np.ndenumerate(matrix):
            if value:
                axis.text(j, i, int(value), ha="center", va="center", fontsize=7,
                          color="white" if value > matrix.max() / 2 else "black")
    figure.colorbar(image, ax=axis, fraction=0.046)
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
