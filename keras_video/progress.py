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


def bar(target, unit_name, interval=30.0):
    """A progress bar for a loop of `target` units (None: not known ahead), advanced with
    `add(n)`; `update(n, finalize=True)` closes one whose target is not known. On a terminal,
    `keras.utils.Progbar` redrawn in place; where stdout is not one (a log file, CI), a plain
    line every `interval` seconds and a closing one, so that a long loop shows it is alive."""
    if not _stdout_is_a_terminal():
        return LogLines(target, unit_name, interval)
    import keras

    return keras.utils.Progbar(target, unit_name=unit_name, verbose=1)


class LogLines:
    """A bar's form in a log: `done/target - elapsed - time per unit` lines, at most one every
    `interval` seconds, and one when the loop is done."""

    def __init__(self, target, unit_name, interval=30.0, stream=None):
        self.target, self.unit_name, self.interval, self.stream = target, unit_name, interval, stream
        self.seen, self.done = 0, False
        self.start = self.last = time.monotonic()

    def add(self, count):
        self.update(self.seen + count)

    def update(self, current, finalize=None):
        self.seen = current
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        now = time.monotonic()
        if self.done or not (finalize or now - self.last >= self.interval):
            return
        self.last, self.done = now, finalize
        elapsed = now - self.start
        count = f"{current}/{self.target}" if self.target is not None else f"{current}"
        per_unit = f" - {_duration(elapsed / current)}/{self.unit_name}" if current else ""
        print(f"{count} - {_duration(elapsed)}{per_unit}", file=self.stream or sys.stdout,
              flush=True)


def _duration(seconds):
    return f"{seconds:.0f}s" if seconds >= 1 else f"{1000 * seconds:.0f}ms"


def fit_verbosity(verbose="auto"):
    """`verbose` for `model.fit`: "auto" is the live bar on a terminal and one line per epoch
    where stdout is not one; 0, 1 and 2 stay as they are."""
    if verbose != "auto":
        return verbose
    return 1 if _stdout_is_a_terminal() else 2
