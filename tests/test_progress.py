import io

import pytest

from keras_video.progress import Stages, bar, fit_verbosity


def test_each_stage_is_one_line_closed_by_its_time_or_failure():
    out = io.StringIO()
    stages = Stages(2, stream=out)
    with stages("reading"):
        pass
    with pytest.raises(RuntimeError), stages("converting"):
        raise RuntimeError("boom")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/2] reading ... ") and lines[0].endswith(" s")
    assert lines[1] == "[2/2] converting ... failed"


def test_disabled_stages_print_nothing():
    out = io.StringIO()
    with Stages(1, enabled=False, stream=out)("reading"):
        pass
    assert out.getvalue() == ""


def test_a_bar_in_a_log_is_one_plain_closing_line(capsys):
    # capsys' stdout is not a terminal, as a log file or CI's is not.
    progress = bar(300, unit_name="video")
    for _ in range(300):
        progress.add(1)
    progress.add(0)  # nothing after the closing line
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("300/300 - "), out[:200]
    assert out.rstrip().endswith("/video")
    assert "\b" not in out and "\x1b" not in out and "\r" not in out


def test_a_long_loop_in_a_log_prints_a_line_every_interval(capsys, monkeypatch):
    clock = iter(range(0, 1000, 10))  # each reading of the clock is 10 s after the last
    monkeypatch.setattr("keras_video.progress.time.monotonic", lambda: next(clock))
    progress = bar(6, unit_name="video", interval=25)
    for _ in range(6):
        progress.add(1)
    lines = capsys.readouterr().out.splitlines()
    # Readings at 10, 20, ... 60 s for the six adds: a line at 30 s and 60 s (the last).
    assert lines == ["3/6 - 30s - 10s/video", "6/6 - 60s - 10s/video"]


def test_a_loop_of_unknown_length_closes_when_told(capsys):
    progress = bar(None, unit_name="view")
    progress.add(5)
    progress.add(7)
    assert capsys.readouterr().out == ""
    progress.update(12, finalize=True)
    assert capsys.readouterr().out.startswith("12 - ")


def test_a_bar_on_a_terminal_redraws_itself(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdout", Terminal())
    assert bar(10, unit_name="video").verbose == 1
    assert fit_verbosity("auto") == 1


def test_fit_prints_a_line_per_epoch_in_a_log_unless_told_otherwise(capsys):
    assert fit_verbosity("auto") == 2  # capsys' stdout is not a terminal
    assert [fit_verbosity(v) for v in (0, 1, 2)] == [0, 1, 2]


def test_evaluation_closes_its_bar_in_a_log(capsys):
    """Evaluation cannot know its view count ahead, so its bar reaches no target: it is closed
    with the count it saw (a log showed nothing at all before)."""
    import numpy as np
    import tensorflow as tf

    from keras_video.inference.evaluation import predict_views

    class Model:
        def predict_on_batch(self, views):
            return np.zeros((len(views), 2))

    batches = [(tf.zeros((n, 1)), tf.zeros((n,), tf.int32), tf.range(n)) for n in (4, 3)]
    predict_views(Model(), batches, verbose=True)
    out = capsys.readouterr().out
    assert out.startswith("7 - ") and out.count("\n") == 1, out
