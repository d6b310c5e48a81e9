"""Checkpoints that are never half-written: a crash while saving leaves the previous file."""
import json
import os

import keras
import numpy as np

from keras_video import presets


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the model to `path` (.keras) at each epoch end and, where `best_dir` is given,
    as a preset directory there whenever `monitor` improves (`preset`: the keywords of
    `keras_video.presets.save`: class names, clip spec, name, source ...; the metrics are the
    epoch's). Each file is written under a temporary name, then renamed over the old one. The
    best value so far is kept in `best_dir + ".json"`, so a resumed run does not overwrite a
    better model with a worse one.
    """

    def __init__(self, path, best_dir=None, monitor=None, mode="max", preset=None):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        if (best_dir is None) != (monitor is None):
            raise ValueError("best_dir and monitor go together")
        self.path, self.monitor, self.mode = os.fspath(path), monitor, mode
        self.best_dir = None if best_dir is None else os.fspath(best_dir)
        self.preset = dict(preset or {})
        self.best = -np.inf if mode == "max" else np.inf
        if self.best_dir is not None and os.path.exists(self.best_dir + ".json"):
            with open(self.best_dir + ".json") as f:
                self.best = json.load(f)[monitor]

    def on_epoch_end(self, epoch, logs=None):
        temporary = self.path + ".incomplete.keras"
        self.model.save(temporary)
        os.replace(temporary, self.path)
        if self.best_dir is None:
            return
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None or np.isnan(value):
            return
        if not (value > self.best if self.mode == "max" else value < self.best):
            return
        self.best = float(value)
        prefix = "val_" if self.monitor.startswith("val_") else ""
        metrics = {name: round(100 * float(logs[prefix + key]), 3)
                   for name, key in (("top1", "accuracy"), ("top5", "top5"))
                   if prefix + key in logs}
        presets.save(self.model, self.best_dir, overwrite=True, metrics=metrics,
                     metrics_level="clip", **{
                         **self.preset, "evaluation": f"{self.preset.get('evaluation', '')} "
                         f"(epoch {epoch + 1}, best {self.monitor} so far)".strip()})
        with open(self.best_dir + ".json.incomplete", "w") as f:
            json.dump({self.monitor: self.best, "epoch": epoch + 1}, f)
        os.replace(self.best_dir + ".json.incomplete", self.best_dir + ".json")
