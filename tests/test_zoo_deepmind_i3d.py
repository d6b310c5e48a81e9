import numpy as np
import pytest
import tensorflow as tf

from keras_video import zoo
from keras_video.zoo.inception3d import deepmind_i3d

from conftest import fixtures_or_skip

CHECKPOINTS = ["rgb_imagenet", "rgb_scratch", "flow_imagenet", "flow_scratch",
               "rgb_scratch_kin600"]


def _i3d_for(checkpoint):
    channels = 2 if checkpoint.startswith("flow") else 3
    return zoo.I3D(input_shape=(None, None, None, channels),
                   classes=600 if checkpoint.endswith("600") else 400,
                   include_preprocessing=channels == 3)


def _squeezed(shape):
    return tuple(d for d in shape if d != 1)


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_every_checkpoint_variable_has_one_keras_weight_of_its_shape(checkpoint):
    """Reads the real DeepMind index files: names and shapes of every variable."""
    path = fixtures_or_skip("kinetics-i3d", "data", "checkpoints", checkpoint, "model.ckpt.index")
    found, prefix = deepmind_i3d.checkpoint_variables(str(path)[: -len(".index")])
    model = _i3d_for(checkpoint)
    mapping = deepmind_i3d.variable_map(model)
    assert set(mapping) == set(found)
    assert len({id(v) for v in mapping.values()}) == len(mapping)  # one weight each
    assert len(mapping) == len([w for w in model.weights if "preprocessing" not in w.path])
    for name, variable in mapping.items():
        assert _squeezed(variable.shape) == _squeezed(found[name]), name
    if checkpoint.endswith("600"):
        assert prefix == "" and any(len(s) == 5 and name.endswith("beta")
                                    for name, s in found.items())
    else:
        assert prefix == ("Flow" if checkpoint.startswith("flow") else "RGB") + "/inception_i3d/"


def _write_checkpoint(prefix, tensors):
    names = list(tensors)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[n]) for n in names])


def test_loads_a_kinetics600_style_checkpoint(tmp_path, rng):
    """Unprefixed names, [1, 1, 1, 1, C] BatchNorm vectors and Momentum slots, as the real
    rgb_scratch_kin600 checkpoint; every value must land in the right weight."""
    model = zoo.I3D(classes=600)
    tensors = {}
    for name, variable in deepmind_i3d.variable_map(model).items():
        shape = (1, 1, 1, 1, variable.shape[0]) if "batch_norm" in name else variable.shape
        tensors[name] = rng.normal(size=shape).astype("float32")
        tensors[name + "/Momentum"] = np.zeros(shape, "float32")
    _write_checkpoint(str(tmp_path / "model.ckpt"), tensors)
    deepmind_i3d.load_checkpoint(model, str(tmp_path / "model.ckpt"))
    for name, variable in deepmind_i3d.variable_map(model).items():
        np.testing.assert_array_equal(variable.numpy(), tensors[name].reshape(variable.shape))


def test_checkpoint_mismatches_are_reported(tmp_path, rng):
    model = zoo.I3D(classes=400)
    tensors = {"RGB/inception_i3d/" + name: rng.normal(size=v.shape).astype("float32")
               for name, v in deepmind_i3d.variable_map(model).items()}
    _write_checkpoint(str(tmp_path / "a"), tensors)
    with pytest.raises(ValueError, match="does not fit the model"):
        deepmind_i3d.load_checkpoint(zoo.I3D(classes=600), str(tmp_path / "a"))
    del tensors["RGB/inception_i3d/Mixed_4c/Branch_0/Conv3d_0a_1x1/conv_3d/w"]
    _write_checkpoint(str(tmp_path / "b"), tensors)
    with pytest.raises(ValueError, match="Missing from the checkpoint.*Mixed_4c/Branch_0"):
        deepmind_i3d.load_checkpoint(model, str(tmp_path / "b"))
    with pytest.raises(ValueError, match="DeepMind"):
        deepmind_i3d.variable_map(zoo.S3D())
    with pytest.raises(ValueError, match="BatchNorm without scale"):
        deepmind_i3d.variable_map(zoo.I3D(bn_scale=True))
