import keras
import numpy as np
import pytest

from keras_video.layers import AveragePooling3D, MaxPooling3D

WINDOWS = [((2, 7, 7), (1, 1, 1)), ((3, 3, 3), (2, 2, 2)), ((2, 2, 2), (2, 2, 2)),
           ((1, 3, 3), (1, 2, 2)), ((3, 1, 1), (1, 1, 1))]


@pytest.mark.parametrize("size,strides", WINDOWS)
def test_average_pool_equals_keras(size, strides, rng):
    x = rng.normal(size=(2, 7, 9, 10, 3)).astype("float32")
    expected = keras.layers.AveragePooling3D(size, strides, padding="valid")(x)
    np.testing.assert_allclose(AveragePooling3D(size, strides)(x), expected, atol=1e-6)


@pytest.mark.parametrize("size,strides", WINDOWS)
def test_max_pool_same_equals_keras(size, strides, rng):
    """Mirrored padding gives TF's SAME maxima (which ignore the padding) for any window."""
    x = rng.normal(size=(2, 7, 9, 10, 3)).astype("float32") - 5.0  # all negative: zeros would win
    expected = keras.layers.MaxPooling3D(size, strides, padding="same")(x)
    np.testing.assert_allclose(MaxPooling3D(size, strides, padding="same")(x), expected)


def test_average_pool_refuses_same_padding():
    with pytest.raises(ValueError, match="valid"):
        AveragePooling3D((2, 2, 2), padding="same")


def test_average_pool_saves_and_loads(tmp_path, rng):
    inputs = keras.Input((4, 7, 7, 2))
    model = keras.Model(inputs, AveragePooling3D((2, 7, 7), strides=1)(inputs))
    model.save(tmp_path / "p.keras")
    x = rng.normal(size=(1, 4, 7, 7, 2)).astype("float32")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "p.keras")(x), model(x))
