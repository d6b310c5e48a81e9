"""The ResNet3D family: R3D-18, MC3-18, R(2+1)D-18 (torchvision) and ip-/ir-CSN (VMZ,
MMAction2), driven by one config: stem, block type, depths and the middle conv of each stage.
"""
import keras

from keras_video.layers import MaxPooling3D, ResidualBlock3D, Unit3D
from keras_video.zoo import base

CLASSIFIER_LAYER = "logits"
CSN_DEPTHS = {26: (2, 2, 2, 2), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def resnet3d_backbone(x, *, stem, depths, middles, bottleneck, temporal_strides, bn_epsilon,
                      bn_momentum, width_multiplier=1.0, min_width=8, kernel_regularizer=None):
    """Stem and four residual stages; returns the last stage's features."""
    def width(w):
        return max(int(w * width_multiplier), min_width)

    unit = dict(padding="symmetric", bn_epsilon=bn_epsilon, bn_momentum=bn_momentum,
                kernel_regularizer=kernel_regularizer)
    if stem == "r2plus1d":  # torchvision's R2Plus1dStem: (2+1)D 7x7 with 45 middle channels
        x = Unit3D(width(45), (1, 7, 7), (1, 2, 2), name="stem_spatial", **unit)(x)
        x = Unit3D(width(64), (3, 1, 1), name="stem_temporal", **unit)(x)
    else:  # 3x7x7 conv, spatial stride 2; CSNs add a 1x3x3 max pool
        x = Unit3D(width(64), (3, 7, 7), (1, 2, 2), name="stem", **unit)(x)
        if stem == "csn":
            x = MaxPooling3D((1, 3, 3), (1, 2, 2), padding="symmetric", name="stem_pool")(x)
    for stage, (depth, middle, st) in enumerate(zip(depths, middles, temporal_strides)):
        for i in range(depth):
            strides = (st, 2, 2) if stage > 0 and i == 0 else (1, 1, 1)
            x = ResidualBlock3D(width(64 * 2 ** stage), middle, strides, bottleneck=bottleneck,
                                name=f"res{stage + 2}_block{i}", **unit)(x)
    return x


def _resnet3d(registry_name, arch, include_top=True, input_shape=None, pooling=None,
              classes=400, classifier_activation="softmax", dropout_rate=None,
              include_preprocessing=True, **kwargs):
    base.check_arguments(include_top, pooling, classes, input_shape)
    switches = base.merge_switches(registry_name, dict(
        bn_epsilon=arch["bn_epsilon"], bn_momentum=0.99, width_multiplier=1.0, min_width=8,
        kernel_regularizer=None), kwargs)
    inputs, x = base.video_input(input_shape, include_preprocessing, arch["mean_std"])
    x = resnet3d_backbone(x, stem=arch["stem"], depths=arch["depths"], middles=arch["middles"],
                          bottleneck=arch["bottleneck"],
                          temporal_strides=arch["temporal_strides"], **switches)
    if include_top:
        x = keras.layers.GlobalAveragePooling3D(name="avg_pool")(x)
        rate = arch["dropout_rate"] if dropout_rate is None else dropout_rate
        if rate:
            x = keras.layers.Dropout(rate, name="dropout")(x)
        x = keras.layers.Dense(classes, name="logits")(x)
        x = base.predictions(x, classifier_activation)
    else:
        x = base.pool_features(x, pooling)
    return inputs, x


_ARGS_DOC = """

    Arguments follow `keras.applications` (see `keras_video.zoo.inception3d`); switches:
    bn_epsilon, bn_momentum, width_multiplier, min_width, kernel_regularizer.
    """


def _builder(registry_name, doc, **arch):
    last_block = f"res5_block{arch['depths'][-1] - 1}"
    return base.builder(registry_name, lambda **kwargs: _resnet3d(registry_name, arch, **kwargs),
                        doc + _ARGS_DOC, classifier_layer=CLASSIFIER_LAYER,
                        feature_layer=last_block)


TORCHVISION = dict(bottleneck=False, depths=(2, 2, 2, 2), temporal_strides=(1, 2, 2, 2),
                   bn_epsilon=1e-5, mean_std=base.KINETICS_MEAN_STD, dropout_rate=0.0)
R3D18 = _builder("r3d_18", "R3D-18 (Tran et al. 2018) as torchvision's r3d_18.",
                 stem="r3d", middles=("full",) * 4, **TORCHVISION)
MC3_18 = _builder("mc3_18", "MC3-18: 3D convs in the first stage, 2D above (torchvision).",
                  stem="r3d", middles=("full", "2d", "2d", "2d"), **TORCHVISION)
R2Plus1D18 = _builder("r2plus1d_18", "R(2+1)D-18 as torchvision's r2plus1d_18.",
                      stem="r2plus1d", middles=("2plus1d",) * 4, **TORCHVISION)


def _csn(kind, depth):
    name = f"{kind}_csn_{depth}"
    doc = (f"{kind}-CSN-{depth} (Tran et al. 2019) as VMZ / MMAction2: bottlenecks whose 3x3x3 "
           f"conv is depthwise{' after a 1x1x1 conv' if kind == 'ip' else ''}.")
    return _builder(name, doc, stem="csn", middles=(kind,) * 4, bottleneck=True,
                    depths=CSN_DEPTHS[depth], temporal_strides=(1, 2, 2, 2), bn_epsilon=1e-3,
                    mean_std=base.KINETICS_MEAN_STD, dropout_rate=0.5)  # VMZ's and MMAction2's


IRCSN26, IRCSN50, IRCSN101, IRCSN152 = (_csn("ir", d) for d in CSN_DEPTHS)
IPCSN26, IPCSN50, IPCSN101, IPCSN152 = (_csn("ip", d) for d in CSN_DEPTHS)
