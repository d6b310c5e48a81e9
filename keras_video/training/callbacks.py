"""Checkpoints that are never half-written: a crash while saving leaves the previous file."""
import json
import os
import shutil

import keras
import numpy as np


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the model to `path` (.keras) at each epoch end and, where `best_path` is given,
    copies that file there whenever `monitor` improves. Each file is written to a temporary
    name in the same folder, then renamed over the old one. The best value so far is kept
    beside the best model (`best_path.json`), so a resumed run does not overwrite a better
    model with a worse one.

    One save serves both files: Keras takes about a second to save even the demo's small model
    (it walks every layer and variable), so a second save cost a second per epoch.
    """

    def __init__(self, path, best_path=None, monitor=None, mode="max"):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        if (best_path is None) != (monitor is None):
            raise ValueError("best_path and monitor go together")
        self.path, self.monitor, self.mode = os.fspath(path), monitor, mode
        self.best_path = None if best_path is None else os.fspath(best_path)
        self.best = -np.inf if mode == "max" else np.inf
        if self.best_path is not None and os.path.exists(self.best_path + ".json"):
            with open(self.best_path + ".json") as f:
                self.best = json.load(f)[monitor]

    def on_epoch_end(self, epoch, logs=None):
        temporary = self.path + ".incomplete.keras"
        self.model.save(temporary)
        os.replace(temporary, self.path)
        if self.best_path is None:
            return
        value = (logs or {}).get(self.monitor)
        if value is None or np.isnan(value):
            return
        if not (value > self.best if self.mode == "max" else value < self.best):
            return
        self.best = float(value)
        temporary = self.best_path + ".incomplete.keras"
        shutil.copyfile(self.path, temporary)
        os.replace(temporary, self.best_path)
        with open(self.best_path + ".json.incomplete", "w") as f:
            json.dump({self.monitor: self.best, "epoch": epoch + 1}, f)
        os.replace(self.best_path + ".json.incomplete", self.best_path + ".json")
