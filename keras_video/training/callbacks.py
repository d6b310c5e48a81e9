"""What a run writes at each epoch end, never half-written, and what it counts.

Each file is written under a temporary name and renamed over the old one, so a crash or a full
disk while saving leaves the previous file whole (and no temporary behind, where Python still
runs to remove it). A full disk is reported as "no space left on device while writing X".
The trainer orders the writers so that the backup, what a resumed run starts from, is written
last: an epoch whose other files failed is trained again on resume.
"""
import contextlib
import errno
import json
import logging
import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from keras_video import presets

_LOG = logging.getLogger(__name__)


def _disk_is_full(error):
    if isinstance(error, OSError):
        return error.errno == errno.ENOSPC
    # TensorFlow's file writers (TensorBoard's event files) raise their own error type.
    return isinstance(error, tf.errors.ResourceExhaustedError) and \
        "No space left on device" in str(error)


@contextlib.contextmanager
def writing(what):
    """Re-raises a full disk inside the block as OSError(ENOSPC) "no space left on device
    while writing `what`" (Python, h5py and TensorFlow report it without the file)."""
    try:
        yield
    except (OSError, tf.errors.OpError) as error:
        if not _disk_is_full(error) or str(error).startswith("no space left on device"):
            raise
        full = OSError(f"no space left on device while writing {what}")
        full.errno = errno.ENOSPC
        raise full from error


def _finite_loss(logs):
    """False for an epoch or step whose loss is NaN or infinite: its weights are not saved
    (TerminateOnNaN stops the run; the files keep the last good weights)."""
    loss = (logs or {}).get("loss")
    return loss is None or bool(np.isfinite(loss))


def _remove(path):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def replace_file(path, write):
    """Calls `write(temporary path)`, then renames the temporary file to `path`; the temporary
    file is removed if `write` fails."""
    base, extension = os.path.splitext(path)
    temporary = f"{base}.incomplete{extension}"  # Keras picks the format by the extension
    try:
        with writing(path):
            write(temporary)
            os.replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise


def write_json(path, value):
    def dump(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(value, f)

    replace_file(path, dump)


def read_json(path, what):
    """The JSON value in `path`; a damaged file raises ValueError naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} ({what}) is not valid JSON: {error}") from None


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the model to `path` (.keras) at each epoch end and, where `best_dir` is given,
    as a preset directory there whenever `monitor` improves (`preset`: the keywords of
    `keras_video.presets.save`: class names, clip spec, name, source ...; the metrics are the
    epoch's). Each file is written under a temporary name, then renamed over the old one. The
    best value so far is kept in `best_dir + ".json"`, so a resumed run does not overwrite a
    better model with a worse one; one that selects on another metric is refused.
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
        self.saved_epoch = None  # the epoch whose end wrote `path` last
        if self.best_dir is not None and os.path.exists(self.best_dir + ".json"):
            saved = read_json(self.best_dir + ".json", "the best score so far")
            if not isinstance(saved, dict) or monitor not in saved:
                kept = ", ".join(k for k in saved if k != "epoch") if isinstance(saved, dict) \
                    else repr(saved)
                raise ValueError(f"{self.best_dir}.json holds the best {kept or 'nothing'}, "
                                 f"not {monitor}: this run picks its best model by another "
                                 "metric (was the validation split added or removed?)")
            self.best = float(saved[monitor])

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not _finite_loss(logs):
            return
        replace_file(self.path, self.model.save)
        self.saved_epoch = epoch
        if self.best_dir is None:
            return
        value = logs.get(self.monitor)
        if value is None or np.isnan(value):
            return
        if not (value > self.best if self.mode == "max" else value < self.best):
            return
        prefix = "val_" if self.monitor.startswith("val_") else ""
        metrics = {name: round(100 * float(logs[prefix + key]), 3)
                   for name, key in (("top1", "accuracy"), ("top5", "top5"))
                   if prefix + key in logs}
        with writing(self.best_dir):
            presets.save(self.model, self.best_dir, overwrite=True, metrics=metrics,
                         metrics_level="clip", weights_from=self.path, **{
                             **self.preset, "evaluation": f"{self.preset.get('evaluation', '')} "
                             f"(epoch {epoch + 1}, best {self.monitor} so far)".strip()})
        write_json(self.best_dir + ".json", {self.monitor: float(value), "epoch": epoch + 1})
        self.best = float(value)


class Backup(keras.callbacks.Callback):
    """The state a rerun resumes from: the weights with the optimizer's (`latest.weights.h5`)
    and the epochs done (`training_metadata.json`) in `directory`, the files of
    `keras.callbacks.BackupAndRestore`; saved at each epoch end and, with `every_steps`, every
    that many steps (a resumed run then trains that epoch again from those weights).

    Written as a pair under temporary names, then renamed: the previous pair becomes `.bkp`
    (weights before epochs), then the new one takes its place (weights before epochs), so no
    file is ever half-written and a pair is at worst one epoch ahead in its weights: that
    epoch is trained again, never skipped. `restore_backup` reads the newest whole pair. Kept
    after the run ends, so a rerun of a finished run finds it finished.

    A new run saves its starting state (0 epochs done) before its first step, so that a run
    whose first epoch fails after some of its files were written (a full disk while writing
    best/) is resumed by its rerun, not mistaken for results that have no backup.

    With `checkpoint` (the run's `AtomicCheckpoint`, called before this at each epoch end),
    an epoch's weights are copied out of the `.keras` file it wrote for that epoch instead of
    read from the variables again: the epoch end then reads them once, not three times.
    """

    WEIGHTS, EPOCHS = "latest.weights.h5", "training_metadata.json"

    def __init__(self, directory, every_steps=None, checkpoint=None):
        super().__init__()
        self.directory, self.every_steps = os.fspath(directory), every_steps
        self.checkpoint = checkpoint
        self._epoch = 0

    def on_train_begin(self, logs=None):
        if backup_epochs(self.directory) is None:
            self._save(0)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.every_steps and (batch + 1) % self.every_steps == 0 and _finite_loss(logs):
            self._save(self._epoch)

    def on_epoch_end(self, epoch, logs=None):
        if _finite_loss(logs):
            fresh = self.checkpoint is not None and self.checkpoint.saved_epoch == epoch
            self._save(epoch + 1, self.checkpoint.path if fresh else None)

    def _save(self, epochs_done, keras_file=None):
        os.makedirs(self.directory, exist_ok=True)
        weights, epochs = (os.path.join(self.directory, n) for n in (self.WEIGHTS, self.EPOCHS))
        new_weights, new_epochs = weights + ".incomplete.weights.h5", epochs + ".incomplete"
        try:
            with writing(self.directory):
                if keras_file is None:
                    self.model.save_weights(new_weights, overwrite=True)
                else:
                    presets.copy_keras_weights(keras_file, new_weights)
                with open(new_epochs, "w", encoding="utf-8") as f:
                    json.dump({"epoch": int(epochs_done)}, f)
            for path in (weights, epochs):
                if os.path.exists(path):
                    os.replace(path, path + ".bkp")
            os.replace(new_weights, weights)
            os.replace(new_epochs, epochs)
        finally:
            _remove(new_weights)
            _remove(new_epochs)


def backup_pairs(directory):
    """(weights, epochs file) of the newest backup, then of the one before it."""
    weights, epochs = (os.path.join(os.fspath(directory), n)
                       for n in (Backup.WEIGHTS, Backup.EPOCHS))
    return [(weights, epochs), (weights + ".bkp", epochs + ".bkp")]


def backup_epochs(directory):
    """Epochs done by the newest readable backup in `directory` (its weights unread), or None
    where there is no backup."""
    for _, epochs in backup_pairs(directory):
        if os.path.exists(epochs):
            try:
                return _epochs_in(epochs)
            except ValueError:
                continue
    return None


def _epochs_in(path):
    saved = read_json(path, "the backup's epoch count")
    if not isinstance(saved, dict) or not isinstance(saved.get("epoch"), int):
        raise ValueError(f"{path} (the backup's epoch count) holds no epoch count: {saved!r}")
    return saved["epoch"]


def restore_backup(model, directory):
    """Loads the newest whole backup in `directory` into `model` (built, with its optimizer);
    returns its epochs done, 0 where there is none. The pair before the newest is put back in
    its place where the newest cannot be read; a backup that cannot be read at all raises
    ValueError naming its files."""
    (weights, epochs), (old_weights, old_epochs) = backup_pairs(directory)
    problems = []
    for pair in ((weights, epochs), (old_weights, old_epochs)):
        if not any(os.path.exists(path) for path in pair):
            continue
        try:
            missing = [path for path in pair if not os.path.exists(path)]
            if missing:
                raise ValueError(f"{missing[0]} is missing")
            done = _epochs_in(pair[1])
            if pair[0] == old_weights:  # Keras reads weights by their extension: .h5 last
                for source, target in zip(pair, (weights, epochs)):
                    replace_file(target, lambda temporary, s=source: shutil.copyfile(s, temporary))
            model.load_weights(weights)
            return done
        except (OSError, ValueError) as error:  # h5py reports a damaged file as OSError
            problems.append(str(error).splitlines()[0])
    if problems:
        raise ValueError(f"the backup in {directory} cannot be read ({'; '.join(problems)}): "
                         "train from scratch with resume=False (keras-video train --restart)")
    return 0


class SkippedVideos(keras.callbacks.Callback):
    """Adds the videos skipped during each epoch (unreadable, too short: recorded in the
    datasets' `DecodeErrorLog`s) to its logs, as `skipped_videos` and, with a validation log,
    `val_skipped_videos`, so the progress line, History, log.csv and TensorBoard show them.
    Decoding runs a few batches ahead of the steps, so a skip is counted in the epoch during
    which it happened. An epoch in which no validation video decoded raises: its validation
    metrics would be those of no video."""

    def __init__(self, train_log, val_log=None, val_videos=None):
        super().__init__()
        self.train_log, self.val_log, self.val_videos = train_log, val_log, val_videos
        self._start = (0, 0)

    def _counts(self):
        return self.train_log.count, self.val_log.count if self.val_log is not None else 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._counts()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        train, val = (now - start for now, start in zip(self._counts(), self._start))
        logs["skipped_videos"] = train
        if self.val_log is not None:
            logs["val_skipped_videos"] = val
            if self.val_videos and val >= self.val_videos:
                failures = list(self.val_log.failures.items())
                raise ValueError(f"none of the {self.val_videos} validation videos could be "
                                 f"decoded in epoch {epoch + 1} (e.g. {failures[0][0]}: "
                                 f"{failures[0][1]})")
        if train or val:
            _LOG.warning("epoch %d skipped %d training and %d validation videos that could "
                            "not be decoded (%d distinct files so far)", epoch + 1, train, val,
                            len(self.train_log) + (len(self.val_log) if self.val_log else 0))


class ProgbarLogger(keras.callbacks.ProgbarLogger):
    """Keras' progress line, without the skipped-video counts while they are 0: a clean run's
    line stays as Keras prints it (Keras shows a 0 as 0.0000e+00)."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, {key: value for key, value in (logs or {}).items()
                                     if value or not key.endswith("skipped_videos")})


class CSVLogger(keras.callbacks.CSVLogger):
    """Keras' CSVLogger, naming its file when the disk is full."""

    def on_epoch_end(self, epoch, logs=None):
        with writing(self.filename):
            super().on_epoch_end(epoch, logs)


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard, naming its folder when the disk is full (TensorFlow's event writer
    reports it at whichever later write, flush or new file meets it)."""


def _naming_the_log_dir(hook):
    def wrapped(self, *args, **kwargs):
        with writing(self.log_dir):
            return hook(self, *args, **kwargs)

    return wrapped


for _name, _hook in list(vars(keras.callbacks.TensorBoard).items()):
    # Only the hooks it has (set_model writes the model's summary): the others stay no-ops.
    if _name.startswith("on_") or _name == "set_model":
        setattr(TensorBoard, _name, _naming_the_log_dir(_hook))
