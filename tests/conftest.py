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
