"""Progress of long work that has no step count of its own (an export's trace and conversion,
reading a checkpoint): one stderr line per stage as it starts, closed by its time, so a user
waiting a minute knows what the wait is for. Loops with a count use `bar`."""
import contextlib
import sys
import time


class Stages:
    """`with stages("converting to onnx"): ...` prints `[i/n] converting to onnx ... 12.3 s`
    on stderr; a stage that raises ends its line with `failed`. Silent when not `enabled`."""

    def __init__(self, total, enabled=True, stream=None):
        self.total, self.enabled, self.done = total, enabled, 0
        self.stream = stream

    @contextlib.contextmanager
    def __call__(self, text):
        self.done += 1
        stream = self.stream or sys.stderr
        if self.enabled:
            print(f"[{self.done}/{self.total}] {text} ...", end="", file=stream, flush=True)
        begin = time.perf_counter()
        try:
            yield
        except BaseException:
            if self.enabled:
                print(" failed", file=stream, flush=True)
            raise
        if self.enabled:
            print(f" {time.perf_counter() - begin:.1f} s", file=stream, flush=True)


def _stdout_is_a_terminal():
    # Keras takes every POSIX stdout for a terminal ("posix" in sys.modules) and writes each
    # redraw of a bar, with its backspaces and colour codes, into a log: one line of tens of
    # kilobytes for the demo's videos.
    return hasattr(sys.stdout, "isatty") and sys.stdout.isatty()


def bar(target, unit_name):
    """`keras.utils.Progbar` for a loop of `target` units: redrawn in place on a terminal, one
    closing line where stdout is not one (a log file, CI)."""
    import keras

    return keras.utils.Progbar(target, unit_name=unit_name,
                               verbose=1 if _stdout_is_a_terminal() else 2)


def fit_verbosity(verbose="auto"):
    """`verbose` for `model.fit`: "auto" is the live bar on a terminal and one line per epoch
    where stdout is not one; 0, 1 and 2 stay as they are."""
    if verbose != "auto":
        return verbose
    return 1 if _stdout_is_a_terminal() else 2
