"""Bad videos inside a dataset: skipped, logged once per file and counted, so that one broken
file in a collection of a million never kills a training run."""
import threading

from absl import logging


class DecodeErrorLog:
    """The videos a dataset skipped: `count` skips in all (a bad file is met again every epoch)
    and `failures`, each distinct file with its reason. Thread-safe: tf.data decodes in
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

    def __len__(self):
        return len(self.failures)

    def __repr__(self):
        return f"DecodeErrorLog({len(self)} files, {self.count} skips)"


# Where datasets record skipped videos unless given a log of their own.
DECODE_ERRORS = DecodeErrorLog()
