"""ImageNet inflation of the channel-separated networks: `keras.applications` ResNet50/101/152
into the ip-/ir-CSN of the same depth (stem, 1x1x1 convs and shortcuts; the depthwise middles
have no 2D counterpart and stay as initialised). The algorithm is
`keras_video.weights.inflation`."""
import re

import keras

from keras_video.layers import ResidualBlock3D
from keras_video.weights import inflation

RESNET_FOR_CSN = {f"{kind}_csn_{depth}": f"ResNet{depth}" for kind in ("ir", "ip")
                  for depth in (50, 101, 152)}


def inflation_pairs(model_3d):
    """`{2D layer name: 3D unit}` for keras.applications ResNets into bottleneck ResNet3Ds."""
    pairs = {}
    for layer in model_3d.layers:
        if layer.name == "stem":
            pairs["conv1_conv"] = layer
        match = re.fullmatch(r"res(\d)_block(\d+)", layer.name)
        if match and isinstance(layer, ResidualBlock3D):
            prefix = f"conv{match[1]}_block{int(match[2]) + 1}"
            units = {u.name: u for u in layer.main + [layer.shortcut] if u is not None}
            for ours, theirs in (("conv1", "_1"), ("conv2", "_2"), ("conv3", "_3"),
                                 ("shortcut", "_0")):
                if ours in units:
                    pairs[prefix + theirs + "_conv"] = units[ours]
    return pairs


def inflate(model_3d, source_2d, method="replicate"):
    """Inflates a keras.applications ResNet into a bottleneck ResNet3D."""
    return inflation.inflate(model_3d, source_2d, inflation_pairs(model_3d), method,
                             inflation.CAFFE_INPUT)


def imagenet_source(model_name):
    """The keras.applications ImageNet ResNet a CSN of the same depth inflates from (Keras
    downloads its weights once)."""
    return getattr(keras.applications, RESNET_FOR_CSN[model_name])(weights="imagenet",
                                                                   include_top=False)


def inflate_imagenet(model_name, model_3d):
    """`weights="imagenet"`: the CSN initialised from its ImageNet ResNet."""
    return inflate(model_3d, imagenet_source(model_name))
