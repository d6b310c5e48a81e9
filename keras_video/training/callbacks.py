"""Checkpoints that are never half-written: a crash while saving leaves the previous file."""
import json
import os

import keras
import numpy as np


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the model to `path` (.keras) at each epoch end, or only when `monitor` improves;
    written to a temporary name in the same folder, then renamed over the old file. The best
    value so far is kept beside it (`path.json`), so a resumed run does not overwrite a better
    model with a worse one."""

    def __init__(self, path, monitor=None, mode="max"):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.path, self.monitor, self.mode = os.fspath(path), monitor, mode
        self.best = -np.inf if mode == "max" else np.inf
        if monitor is not None and os.path.exists(self.path + ".json"):
            with open(self.path + ".json") as f:
                self.best = json.load(f)[monitor]

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor) if self.monitor else None
        if self.monitor is not None:
            if value is None or np.isnan(value):
                return
            if not (value > self.best if self.mode == "max" else value < self.best):
                return
            self.best = float(value)
        temporary = self.path + ".incomplete.keras"
        self.model.save(temporary)
        os.replace(temporary, self.path)
        if self.monitor is not None:
            with open(self.path + ".json.incomplete", "w") as f:
                json.dump({self.monitor: self.best, "epoch": epoch + 1}, f)
            os.replace(self.path + ".json.incomplete", self.path + ".json")
