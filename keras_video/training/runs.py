"""A run's folder across reruns. What an earlier run left there decides what a rerun does:
resume it (its backup), say that it is finished (and give back its saved history), train on to
a higher `epochs`, or refuse: settings that would make the resumed run a mix of two recipes,
or results with no backup to resume them from. `resume=False` clears the folder first.
"""
import csv
import io
import os
import shutil

import keras
import yaml

from keras_video.training import callbacks, config as config_lib

CONFIG, LOG = "config.yaml", "log.csv"
# What a run writes into its folder (its saves folder, for the last two groups).
SHARED_OUTPUTS = (CONFIG, LOG, "tensorboard", "evaluation")
SAVES = ("last.keras", "best", "best.json")


def saved_config(folder):
    """The config the run in `folder` was started with, None where it has none."""
    path = os.path.join(folder, CONFIG)
    if not os.path.exists(path):
        return None
    return config_lib.read_yaml(path, "the settings this run was started with; fix it, or "
                                "start over with resume=False (keras-video train --restart)")


def write_config(folder, config):
    def dump(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            yaml.safe_dump(config, f, sort_keys=False)

    callbacks.replace_file(os.path.join(folder, CONFIG), dump)


def epochs_to_resume(config, folder, backup, saves):
    """The epochs the run in `folder` has done (0 for a new run), once `config` is checked
    against the settings it was started with: a changed key outside
    `config.RESUMABLE` raises naming it, as do results without a backup."""
    done = callbacks.backup_epochs(backup)
    if done is None:
        if not any(os.path.exists(p) for p, _ in callbacks.backup_pairs(backup)):
            earlier = [name for name in SAVES if os.path.exists(os.path.join(saves, name))]
            earlier += [LOG] if logged_epochs(os.path.join(folder, LOG)) else []
            if earlier:
                raise FileExistsError(
                    f"{folder} holds an earlier run ({', '.join(earlier)}) but no backup to "
                    "resume it from: train it again from scratch with resume=False "
                    "(keras-video train --restart), or give this run another name")
            return 0
        done = 0  # weights without their epoch count: restore_backup names what is wrong
    saved = saved_config(folder)
    if saved is not None:
        changed = config_lib.changed_for_resuming(saved, config)
        if changed:
            raise ValueError(
                f"{folder} holds a run started with other settings, which resuming would mix "
                f"with these: {', '.join(changed)}. Put them back, start over with "
                "resume=False (keras-video train --restart), or give this run another name")
    return done


def clear(folder, backup, saves, chief):
    """Removes what earlier runs wrote: the backup and saves of this process, and, on the
    chief, the folder's shared files."""
    doomed = [backup] + [os.path.join(saves, name) for name in SAVES]
    if chief:
        doomed += [os.path.join(folder, name) for name in SHARED_OUTPUTS]
    for path in doomed:
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def _read(path):
    """(header, rows, text) of a log.csv; rows that a crash cut short are left out."""
    if not os.path.exists(path):
        return None, [], ""
    with open(path, newline="", encoding="utf-8") as f:
        text = f.read()
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        return None, [], text
    header, rows = lines[0], lines[1:]
    if rows and not text.endswith("\n"):
        rows = rows[:-1]  # the last line was being written
    return header, [row for row in rows if len(row) == len(header) and row[0].isdigit()], text


def logged_epochs(path):
    return [int(row[0]) for row in _read(path)[1]]


def trim_log(path, epochs):
    """Keeps the rows of epochs before `epochs` (those the backup holds): a crash after an
    epoch's row but before its backup, or while the row was written, leaves a row that the
    resumed run writes again."""
    header, rows, text = _read(path)
    kept = _csv_text(header, [row for row in rows if int(row[0]) < epochs])
    if kept == text:
        return

    def write(temporary):
        with open(temporary, "w", newline="", encoding="utf-8") as f:
            f.write(kept)

    callbacks.replace_file(path, write)


def _csv_text(header, rows):
    if header is None:
        return ""
    out = io.StringIO()
    csv.writer(out).writerows([header] + rows)  # the excel dialect, as Keras' CSVLogger
    return out.getvalue()


def saved_history(path, epochs, model=None):
    """The `keras.callbacks.History` of the first `epochs` epochs logged in `path`."""
    header, rows, _ = _read(path)
    history = keras.callbacks.History()
    history.set_model(model)
    history.params = {"epochs": epochs}
    rows = sorted((row for row in rows if int(row[0]) < epochs), key=lambda row: int(row[0]))
    history.epoch = [int(row[0]) for row in rows]
    columns = {}
    for column, name in enumerate(header or []):
        if column == 0:
            continue
        values = [row[column] for row in rows]
        if any(value in ("", "NA") for value in values):
            continue  # CSVLogger's placeholder for a metric the run does not have
        columns[name] = [int(v) if v.lstrip("-").isdigit() else float(v) for v in values]
    history.history = columns
    return history
