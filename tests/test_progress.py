import io

import pytest

from keras_video.progress import Stages


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
