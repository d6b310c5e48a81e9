"""A VMZ ip-CSN-26 state dict converted by keras-video computes VMZ's network.

The reference is ip-CSN-26 written in plain torch.nn in a child process (see torch_reference),
module for module as VMZ's `ip_csn_152` builds its networks (torchvision's VideoResNet with
VMZ's `BasicStem_Pool` and `IPConv3DDepthwise`), so that its state dict has VMZ's key names
and order; the weights are random.
"""
import textwrap

import keras
import numpy as np

from keras_video import zoo
from keras_video.weights import torch_files

from torch_reference import run_torch

# Time, height and width all differ (a transposed axis shows) and turn odd in the last stages
# (5 columns after res4, 3 after res5), where the strided depthwise convs pad.
CLIP = (16, 64, 80)

IP_CSN_26 = """
    import numpy as np
    from torch import nn

    def bn(channels):
        return nn.BatchNorm3d(channels, eps=1e-3)  # VMZ sets Caffe2's epsilon

    class Bottleneck(nn.Module):
        # 1x1x1, interaction-preserved 3x3x3, 1x1x1 (x4 channels); the projection shortcut
        # strides as the depthwise conv does, in time too.
        def __init__(self, inp, planes, stride):
            super().__init__()
            out = planes * 4
            self.conv1 = nn.Sequential(nn.Conv3d(inp, planes, 1, bias=False), bn(planes),
                                       nn.ReLU())
            # VMZ's IPConv3DDepthwise: 1x1x1 conv and BatchNorm with no ReLU, then the strided
            # depthwise 3x3x3; the block's BatchNorm and ReLU follow.
            ip = nn.Sequential(nn.Conv3d(planes, planes, 1, bias=False), bn(planes),
                               nn.Conv3d(planes, planes, 3, stride, 1, groups=planes,
                                         bias=False))
            self.conv2 = nn.Sequential(ip, bn(planes), nn.ReLU())
            self.conv3 = nn.Sequential(nn.Conv3d(planes, out, 1, bias=False), bn(out))
            self.downsample = nn.Sequential(nn.Conv3d(inp, out, 1, stride, bias=False),
                                            bn(out)) if stride != 1 or inp != out else None

        def forward(self, x):
            shortcut = x if self.downsample is None else self.downsample(x)
            return torch.relu(self.conv3(self.conv2(self.conv1(x))) + shortcut)

    class IPCSN26(nn.Module):
        def __init__(self, classes=400):
            super().__init__()
            self.stem = nn.Sequential(  # VMZ's BasicStem_Pool
                nn.Conv3d(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False), bn(64), nn.ReLU(),
                nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
            inp = 64
            for stage, planes in enumerate((64, 128, 256, 512)):  # 2 blocks each
                stride = 1 if stage == 0 else 2
                setattr(self, f"layer{stage + 1}", nn.Sequential(
                    Bottleneck(inp, planes, stride), Bottleneck(planes * 4, planes, 1)))
                inp = planes * 4
            self.fc = nn.Linear(inp, classes)

        def features(self, x):
            return self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))

        def forward(self, x):
            return self.fc(self.features(x).mean((2, 3, 4)))

    torch.manual_seed(0)
    model = IPCSN26()
    clips = torch.rand(4, 3, *CLIP) * 2 - 1
    # BatchNorm statistics of these clips (a training-mode pass with momentum 1), with random
    # gammas and betas: activations keep unit scale through the depth, so any misplaced weight
    # shows in the logits.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.momentum = 1.0
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        model.train()(clips)
        model.eval()
        video = clips[:1]
        features, logits = model.features(video), model(video)
    torch.save(model.state_dict(), OUT + "/ip_csn_26.pth")
    np.savez(OUT + "/io.npz", video=video.numpy(), features=features.numpy(),
             logits=logits.numpy())
    print(json.dumps({"keys": len(model.state_dict())}))
"""


def test_converted_ip_csn_26_computes_vmzs_network(tmp_path):
    """Full width (a 16 x 64 x 80 clip keeps it to seconds): logits to 1e-4 of their range,
    res5 features (which say where a failure starts) to 1e-3."""
    run_torch(f"CLIP, OUT = {CLIP}, {str(tmp_path)!r}\n" + textwrap.dedent(IP_CSN_26))
    path = tmp_path / "ip_csn_26.pth"
    keys = list(torch_files.read_state_dict(path))
    assert keys[:2] == ["stem.0.weight", "stem.1.weight"] and keys[-1] == "fc.bias"
    assert "layer2.0.conv2.0.2.weight" in keys and "layer2.0.downsample.1.running_var" in keys
    model = zoo.convert(path, "ip_csn_26", input_shape=CLIP + (3,),
                            include_preprocessing=False, classifier_activation=None)
    io = np.load(tmp_path / "io.npz")
    got_features, got_logits = keras.Model(model.input, [model.get_layer("res5_block1").output,
                                                         model.output])(
        io["video"].transpose(0, 2, 3, 4, 1))
    features = io["features"].transpose(0, 2, 3, 4, 1)
    np.testing.assert_allclose(got_features, features, atol=1e-3 * np.ptp(features))
    np.testing.assert_allclose(got_logits, io["logits"], atol=1e-4 * np.ptp(io["logits"]))
