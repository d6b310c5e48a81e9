"""Bad videos inside a dataset: skipped, logged once per file and counted, so that one broken
file in a collection of a million never kills a training run; and a dataset whose every file
is broken stopped with an error instead of searching forever for a readable one."""
import os
import threading

from absl import logging


class DecodeErrorLog:
    """The videos a dataset skipped: `count` skips in all (a bad file is met again every epoch)
    and `failures`, each distinct file with its reason. `fatal` is the `NoVideoDecodes` that
    stopped a dataset recording here, None while none has. Thread-safe: tf.data decodes in
    parallel."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def record(self, path, reason):
        with self._lock:
            self.count += 1
            first_time = path not in self.failures
            if first_time:
                self.failures[path] = reason
        if first_time:
            logging.warning("skipping video %s: %s", path, reason)

    def reset(self):
        with self._lock:
            self.count = 0
            self.failures = {}
            self.fatal = None

    def __len__(self):
        return len(self.failures)

    def __repr__(self):
        return f"DecodeErrorLog({len(self)} files, {self.count} skips)"


class NoVideoDecodes(ValueError):
    """Every video of a dataset's list failed to decode."""


class FailureStreak:
    """Stops a repeating dataset over `paths` once every one of them has failed since the last
    video that decoded: its filter on readable videos would otherwise draw failures forever
    (100% CPU, no output). One readable video resets the streak, so a list with a few good
    files trains on them. `failed` raises the `NoVideoDecodes`, also kept as `error_log.fatal`
    (the caller sees it wrapped in a TensorFlow error)."""

    def __init__(self, paths, error_log):
        self.paths = frozenset(paths)
        self.error_log = error_log
        self._lock = threading.Lock()
        self._failed = set()

    def decoded(self):
        if self._failed:  # read without the lock: a stale answer only delays the reset
            with self._lock:
                self._failed.clear()

    def failed(self, path, reason):
        with self._lock:
            self._failed.add(path)
            every_one = len(self._failed) >= len(self.paths)
        if every_one:
            error = NoVideoDecodes(
                f"none of the {len(self.paths)} videos under {_folder_of(self.paths)} could be "
                f"decoded: all {len(self.paths)} failed (e.g. {path}: {reason})")
            self.error_log.fatal = error
            raise error


def _folder_of(paths):
    try:
        common = os.path.commonpath(list(paths))
    except ValueError:  # paths on different drives
        return "several folders"
    return common if len(paths) > 1 else os.path.dirname(common)


# Where datasets record skipped videos unless given a log of their own.
DECODE_ERRORS = DecodeErrorLog()
