import textwrap

import keras
import numpy as np
import PIL.Image
import pytest

from keras_video import presets, zoo
from keras_video.weights import fetching, torch_files
from keras_video.weights import torch_state_dicts as pytorch_models
from keras_video.zoo.inception3d import checkpoints

from conftest import fixtures_or_skip
from torch_reference import run_torch

REFERENCE = """
    import numpy as np
    torch.manual_seed(0)
    model = eval(BUILD)
    video = torch.rand(1, 3, FRAMES, SIZE, SIZE) * 2 - 1
    # BatchNorm statistics of this input and three more clips (one training-mode pass with
    # momentum 1) keep activations at unit scale through the depth, so any misplaced pixel
    # shows in the output; more than one clip keeps the deepest statistics well conditioned.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.momentum = 1.0
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        model.train()(torch.cat([video, torch.rand(3, *video.shape[1:]) * 2 - 1]))
    model.eval()
    with torch.no_grad():
        logits = model(video)
        features = eval(TRUNK)(video)
    torch.save(model.state_dict(), OUT + "/model.pth")
    np.savez(OUT + "/io.npz", video=video.numpy(), features=features.numpy(),
             logits=logits.numpy())
    print(json.dumps({"ok": True}))
"""


TORCHVISION_TRUNK = ("model.features if NAME == 's3d' else torch.nn.Sequential(model.stem, "
                     "model.layer1, model.layer2, model.layer3, model.layer4)")


def _reference(name, size, tmp_path, frames=16, build=None, trunk=TORCHVISION_TRUNK,
               imports=""):
    """Runs the PyTorch model on a random clip; returns its state dict as read back from the
    .pth file torch wrote (through our pickle-free reader), and the inputs and outputs."""
    build = build or f"torchvision.models.video.{name}()"
    run_torch(f"{imports}\nNAME, SIZE, FRAMES, OUT = {name!r}, {size}, {frames}, "
              f"{str(tmp_path)!r}\nBUILD, TRUNK = {build!r}, {trunk!r}\n"
              + textwrap.dedent(REFERENCE))
    return torch_files.read_state_dict(tmp_path / "model.pth"), np.load(tmp_path / "io.npz")


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
    pytorch_models.load_state_dict(model, state)
    video = io["video"].transpose(0, 2, 3, 4, 1)
    # One eager pass for features and logits: tracing a graph for one clip costs more.
    features, logits = keras.Model(model.inputs, [model.get_layer(last).output,
                                                  model.outputs[0]])(video)
    reference = io["features"].transpose(0, 2, 3, 4, 1)
    np.testing.assert_allclose(features, reference, atol=1e-3 * np.abs(reference).max())
    np.testing.assert_allclose(logits, io["logits"], atol=1e-4 * np.abs(io["logits"]).max())
    if name == "s3d":  # weights="kinetics400" of S3D-G: S3D's weights with identity gates
        s3dg = zoo.S3DG(input_shape=shape, include_preprocessing=False,
                        classifier_activation=None)
        checkpoints.load_s3d_into_s3dg(s3dg, tmp_path / "model.pth")
        np.testing.assert_array_equal(s3dg(video), model(video))
    backbone = zoo.get(name, include_top=False, input_shape=shape,
                       include_preprocessing=False)
    pytorch_models.load_state_dict(backbone, state)
    np.testing.assert_allclose(backbone(video), reference, atol=1e-3 * np.abs(reference).max())


def test_computes_pytorchvideos_csn(tmp_path):
    """ir-CSN-50 as pytorchvideo's create_csn (with the stem pool of its hub models): its
    state dict lists each block's shortcut first and has BN eps 1e-5; a 16x64x64 clip keeps
    this cheap at full width."""
    pytest.importorskip("pytorchvideo", reason="pytorchvideo is not installed")
    build = ("create_csn(model_depth=50, stem_pool=torch.nn.MaxPool3d, "
             "head_pool_kernel_size=(1, 1, 1))")
    state, io = _reference("ir_csn_50", 64, tmp_path, frames=16, build=build,
                           trunk="torch.nn.Sequential(*model.blocks[:5])",
                           imports="from pytorchvideo.models.csn import create_csn")
    model = zoo.get("ir_csn_50", input_shape=(16, 64, 64, 3), include_preprocessing=False,
                    classifier_activation=None, bn_epsilon=1e-5)
    pytorch_models.load_state_dict(model, state)
    video = io["video"].transpose(0, 2, 3, 4, 1)
    features, logits = keras.Model(model.inputs, [model.get_layer("res5_block2").output,
                                                  model.outputs[0]])(video)
    reference = io["features"].transpose(0, 2, 3, 4, 1)
    np.testing.assert_allclose(features, reference, atol=1e-3 * np.abs(reference).max())
    np.testing.assert_allclose(logits, io["logits"], atol=1e-4 * np.abs(io["logits"]).max())


def test_state_dict_mismatches_are_reported(rng):
    model = zoo.S3D(width_multiplier=0.125, min_width=4)
    with pytest.raises(ValueError, match="conv units"):
        pytorch_models.load_state_dict(model, {})


@pytest.mark.network
def test_s3d_kinetics400_gives_the_published_top5():
    """The real torchvision S3D weights on kylemin/S3D's sample clip (all 100 frames, RGB in
    [-1, 1], no resize): the published top-5 classes and probabilities."""
    entry = presets.get("s3d.kinetics400")
    try:
        fetching.fetch(entry.weights.files[0])
    except (OSError, FileNotFoundError) as error:
        pytest.skip(f"the S3D weights cannot be had here: {error}")
    folder = fixtures_or_skip("s3d-sample", "sample")
    frames = np.stack([np.asarray(PIL.Image.open(folder / f"{i:03d}.jpg").convert("RGB"))
                       for i in range(1, 101)]).astype("float32")
    model = zoo.S3D(weights="kinetics400", include_preprocessing=False)
    probabilities = np.asarray(model(frames[None] * 2 / 255 - 1))[0]
    names = entry.class_names
    top5 = np.argsort(probabilities)[::-1][:5]
    assert [names[i] for i in top5] == ["riding a bike", "biking through snow",
                                        "riding mountain bike", "riding unicycle",
                                        "motorcycling"]
    np.testing.assert_allclose(probabilities[top5], [0.9937429, 0.0041600233, 0.0010456557,
                                                     0.00088055385, 0.00014455811], atol=1e-3)


def _vmz_state_dict(rng, mmaction=False):
    """A state dict with VMZ's (torchvision VideoResNet) or MMAction2's key names for an ip-CSN:
    `conv2.0.0` pointwise, `conv2.0.1` its BN, `conv2.0.2` depthwise, `conv2.1` BN (VMZ);
    `backbone.layerN.i.conv2.{0,1}.{conv,bn}` and `cls_head.fc_cls` (MMAction2)."""
    def conv(prefix, out, inp, k, groups=1):
        state[prefix + ("conv.weight" if mmaction else "weight")] = rng.normal(
            size=(out, inp // groups) + k).astype("float32")

    def bn(prefix, c):
        p = prefix + ("bn." if mmaction else "")
        for n in ("weight", "bias", "running_mean"):
            state[p + n] = rng.normal(size=c).astype("float32")
        state[p + "running_var"] = rng.uniform(0.5, 1.5, c).astype("float32")
        state[p + "num_batches_tracked"] = np.array(3)

    state, b = {}, "backbone." if mmaction else ""
    stem = f"{b}conv1." if mmaction else "stem."
    conv(stem if mmaction else "stem.0.", 4, 3, (3, 7, 7))
    bn(stem if mmaction else "stem.1.", 4)
    inp = 4
    for stage, depth in enumerate((2, 2, 2, 2)):
        planes = max(int(64 * 2 ** stage * 0.0625), 4)
        for i in range(depth):
            p = f"{b}layer{stage + 1}.{i}."
            c1, c3, ds = ((p + "conv1.", p + "conv3.", p + "downsample.") if mmaction else
                          (p + "conv1.0.", p + "conv3.0.", p + "downsample.0."))
            conv(c1, planes, inp, (1, 1, 1))
            bn(c1 if mmaction else p + "conv1.1.", planes)
            if mmaction:
                conv(p + "conv2.0.", planes, planes, (1, 1, 1))
                bn(p + "conv2.0.", planes)
                conv(p + "conv2.1.", planes, planes, (3, 3, 3), groups=planes)
                bn(p + "conv2.1.", planes)
            else:
                conv(p + "conv2.0.0.", planes, planes, (1, 1, 1))
                bn(p + "conv2.0.1.", planes)
                conv(p + "conv2.0.2.", planes, planes, (3, 3, 3), groups=planes)
                bn(p + "conv2.1.", planes)
            conv(c3, planes * 4, planes, (1, 1, 1))
            bn(c3 if mmaction else p + "conv3.1.", planes * 4)
            if i == 0:
                conv(ds, planes * 4, inp, (1, 1, 1))
                bn(ds if mmaction else p + "downsample.1.", planes * 4)
            inp = planes * 4
    head = "cls_head.fc_cls." if mmaction else "fc."
    state[head + "weight"] = rng.normal(size=(400, inp)).astype("float32")
    state[head + "bias"] = rng.normal(size=400).astype("float32")
    return state


@pytest.mark.parametrize("mmaction", [False, True])
def test_vmz_and_mmaction_csn_names_land_in_the_right_weights(mmaction, rng):
    model = zoo.get("ip_csn_26", width_multiplier=0.0625, min_width=4)
    state = _vmz_state_dict(rng, mmaction)
    pytorch_models.load_state_dict(model, state)
    block = model.get_layer("res3_block0")
    units = {u.name: u for u in block.main + [block.shortcut]}
    p = "backbone.layer2.0." if mmaction else "layer2.0."
    depthwise = state[p + ("conv2.1.conv.weight" if mmaction else "conv2.0.2.weight")]
    np.testing.assert_array_equal(units["conv2_depthwise"].conv.kernel.numpy(),
                                  depthwise.transpose(2, 3, 4, 0, 1))
    var = state[p + ("conv2.0.bn.running_var" if mmaction else "conv2.0.1.running_var")]
    np.testing.assert_array_equal(units["conv2_pointwise"].bn.moving_variance.numpy(), var)
    shortcut = state[p + ("downsample.conv.weight" if mmaction else "downsample.0.weight")]
    np.testing.assert_array_equal(units["shortcut"].conv.kernel.numpy(),
                                  shortcut.transpose(2, 3, 4, 1, 0))
    head = state["cls_head.fc_cls.weight" if mmaction else "fc.weight"]
    np.testing.assert_array_equal(model.get_layer("logits").kernel.numpy(), head.T)
