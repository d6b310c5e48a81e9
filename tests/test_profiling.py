import keras
import pytest

from keras_video import profiling
from keras_video.layers import Conv3D, SelfGating


def _model(*layers, shape=(8, 16, 16, 3)):
    inputs = keras.Input(shape)
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("factorize", [True, False])
def test_conv_macs_are_output_size_times_kernel_volume_times_input_channels(factorize):
    model = _model(Conv3D(4, (3, 3, 3), strides=(1, 2, 2), padding="same", factorize=factorize),
                   Conv3D(6, (1, 3, 3), padding="same", factorize=factorize),
                   Conv3D(5, (3, 1, 1), strides=(2, 1, 1), padding="same", factorize=factorize))
    first = 8 * 8 * 8 * 4 * (27 * 3)
    second = 8 * 8 * 8 * 6 * (9 * 4)
    third = 4 * 8 * 8 * 5 * (3 * 6)
    assert profiling.count_macs(model, frames=8, size=16) == first + second + third


def test_dense_and_gating_macs_and_params():
    model = _model(SelfGating(), keras.layers.GlobalAveragePooling3D(), keras.layers.Dense(10),
                   shape=(None, None, None, 3))
    assert profiling.count_macs(model, frames=4, size=8) == 3 * 3 + 3 * 10
    assert profiling.count_params(model) == {"params": 12 + 40, "trainable_params": 52}


def test_macs_scale_with_clip_size():
    model = _model(Conv3D(4, (3, 3, 3), padding="same"), shape=(None, None, None, 3))
    small = profiling.count_macs(model, frames=4, size=8)
    assert profiling.count_macs(model, frames=8, size=16) == 8 * small
    report = profiling.profile(model, frames=4, size=8)
    assert report["gmacs"] == small / 1e9 and report["params"] == 3 * 27 * 4 + 4
