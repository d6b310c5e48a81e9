import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared"
FIXTURES = pathlib.Path(os.environ.get("KERAS_VIDEO_FIXTURES", SHARED / "fixtures"))

# Tiny widths and small clips keep every full network cheap enough for a 2-core CI run.
TINY = dict(width_multiplier=0.125, min_width=4)
CLIP = (8, 32, 32, 3)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def fixtures_or_skip(*parts):
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared fixtures sit beside the project in CI)")
    return path


@pytest.fixture(scope="module")
def full_size():
    """`full_size.model(name)` and `full_size.macs(name, frames, size)`: each full-size model
    built, and traced at each clip size, once per test module (each takes seconds to a
    minute), released at the module's end."""
    from keras_video import profiling, zoo

    class FullSize:
        def __init__(self):
            self.models, self.counts = {}, {}

        def model(self, name):
            if name not in self.models:
                self.models[name] = zoo.get(name)
            return self.models[name]

        def macs(self, name, frames=16, size=224):
            key = (name, frames, size)
            if key not in self.counts:
                self.counts[key] = profiling.count_macs(self.model(name), frames, size)
            return self.counts[key]

    yield FullSize()
    keras.backend.clear_session()
