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
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("300/300 - "), out[:200]
    assert "\b" not in out and "\x1b" not in out and "\r" not in out


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
