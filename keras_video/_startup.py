"""Quiet start-up for the command line: TensorFlow's C++ side prints while it loads (CUDA
probing on a machine without a GPU, absl's first-log notice) and no environment variable
silences those lines. With `KERAS_VIDEO_QUIET_STARTUP=1` (set by the `keras-video` command
unless `--verbose`) they are held back while the package imports, and shown if the import
fails. Library users see TensorFlow's output as TensorFlow prints it."""
import contextlib
import os
import sys
import tempfile

ENV = "KERAS_VIDEO_QUIET_STARTUP"


@contextlib.contextmanager
def quiet():
    if os.environ.get(ENV) != "1":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as hidden:
        os.dup2(hidden.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            hidden.seek(0)
            sys.stderr.write(hidden.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def probe_devices():
    """In quiet mode, lets TensorFlow look for accelerators now (it prints while it does,
    "failed call to cuInit" on a machine without a GPU), inside the quiet block rather than
    at the first operation."""
    if os.environ.get(ENV) == "1":
        import tensorflow as tf
        tf.config.list_physical_devices()
