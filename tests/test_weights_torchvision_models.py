import textwrap

import keras
import numpy as np
import pytest

from keras_video import zoo
from keras_video.weights import torchvision_models

from torch_reference import run_torch

REFERENCE = """
    import numpy as np
    torch.manual_seed(0)
    model = getattr(torchvision.models.video, NAME)()
    video = torch.rand(1, 3, 16, SIZE, SIZE) * 2 - 1
    # BatchNorm statistics of this very input (one training-mode pass with momentum 1) keep
    # activations at unit scale through the depth, so any misplaced pixel shows in the output.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.momentum = 1.0
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        model.train()(video)
    model.eval()
    with torch.no_grad():
        logits = model(video)
        trunk = model.features if NAME == "s3d" else torch.nn.Sequential(
            model.stem, model.layer1, model.layer2, model.layer3, model.layer4)
        features = trunk(video)
    np.savez(OUT + "/state.npz", **{k: v.numpy() for k, v in model.state_dict().items()})
    np.savez(OUT + "/io.npz", video=video.numpy(), features=features.numpy(),
             logits=logits.numpy())
    print(json.dumps({"ok": True}))
"""


def _reference(name, size, tmp_path):
    run_torch(f"NAME, SIZE, OUT = {name!r}, {size}, {str(tmp_path)!r}\n"
              + textwrap.dedent(REFERENCE))
    return dict(np.load(tmp_path / "state.npz")), np.load(tmp_path / "io.npz")


@pytest.mark.parametrize("name,size,last", [("s3d", 224, "Mixed_5c"),
                                            ("r2plus1d_18", 112, "res5_block1"),
                                            ("mc3_18", 112, "res5_block1"),
                                            ("r3d_18", 112, "res5_block1")])
def test_computes_torchvisions_function(name, size, last, tmp_path):
    """Same weights, same input: our features and logits equal torchvision's. Features are
    held to 1e-3 of their range (BN fitted to one clip amplifies float32 rounding; one
    misplaced padding row already errs by more than their range), logits to 1e-4."""
    state, io = _reference(name, size, tmp_path)
    shape = (16, size, size, 3)
    model = zoo.get(name, input_shape=shape, include_preprocessing=False,
                    classifier_activation=None)
    torchvision_models.load_state_dict(model, state)
    video = io["video"].transpose(0, 2, 3, 4, 1)
    # One eager pass for features and logits: tracing a graph for one clip costs more.
    features, logits = keras.Model(model.inputs, [model.get_layer(last).output,
                                                  model.outputs[0]])(video)
    reference = io["features"].transpose(0, 2, 3, 4, 1)
    np.testing.assert_allclose(features, reference, atol=1e-3 * np.abs(reference).max())
    np.testing.assert_allclose(logits, io["logits"], atol=1e-4 * np.abs(io["logits"]).max())
    backbone = zoo.get(name, include_top=False, input_shape=shape,
                       include_preprocessing=False)
    torchvision_models.load_state_dict(backbone, state)
    np.testing.assert_allclose(backbone(video), reference, atol=1e-3 * np.abs(reference).max())


def test_state_dict_mismatches_are_reported(rng):
    model = zoo.S3D(width_multiplier=0.125, min_width=4)
    with pytest.raises(ValueError, match="conv units"):
        torchvision_models.load_state_dict(model, {})
