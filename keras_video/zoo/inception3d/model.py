"""The Inception-v1 video family: I3D, S3D, S3D-G, bottom-/top-heavy variants, Fast-S3D, C2D.

One base network with switches, as TF-slim's `s3dg_base` (Xie et al. 2018):
- `separable`: `t x k x k` convs as `1 x k x k` then `t x 1 x 1` (S3D) or full 3D (I3D);
- `temporal_conv_startat` / `temporal_conv_endat`: the first / last block whose convs have a
  temporal extent (None: no block); blocks outside get temporal kernel 1 (2D), which gives the
  bottom-heavy (3D at the bottom) and top-heavy (3D at the top) networks of section 4;
- `gating_startat`: the first block with self-gating (None: no gating), S3D-G's switch;
- `temporal_pooling`: False makes every max pool 1 frame deep, so that with no temporal convs
  each frame is processed alone (the frame-level C2D baseline).
Block names are DeepMind's (`Conv3d_1a_7x7`, `Mixed_3b`, ...), so checkpoints map by name.
"""
import keras

from keras_video.layers import (AveragePooling3D, Conv3D, InceptionBlock3D, MaxPooling3D,
                                SelfGating, SepConv3D, Unit3D)
from keras_video.zoo import base

# Widths of the Inception-v1 blocks: (b0, b1_reduce, b1, b2_reduce, b2, b3).
MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
# Max pools between stages: name -> (pool size, strides).
POOLS = {
    "MaxPool3d_2a_3x3": ((1, 3, 3), (1, 2, 2)),
    "MaxPool3d_3a_3x3": ((1, 3, 3), (1, 2, 2)),
    "MaxPool3d_4a_3x3": ((3, 3, 3), (2, 2, 2)),
    "MaxPool3d_5a_2x2": ((2, 2, 2), (2, 2, 2)),
}
LAYOUT = ("Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3",
          "MaxPool3d_3a_3x3", "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b",
          "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f", "MaxPool3d_5a_2x2", "Mixed_5b",
          "Mixed_5c")
# Blocks that can have a temporal kernel, and those that can be gated, in network order.
TEMPORAL_BLOCKS = ("Conv3d_1a_7x7", "Conv3d_2c_3x3") + tuple(MIXED)
GATING_BLOCKS = TEMPORAL_BLOCKS[1:]
FEATURES = 1024
CLASSIFIER_LAYER, FEATURE_LAYER = "Logits_Conv3d_0c_1x1", "Mixed_5c"


def _block_index(name, value, blocks):
    if value is None:
        return None
    if value not in blocks:
        raise ValueError(f"{name} must be None or one of {blocks}, got {value!r}")
    return blocks.index(value)


def inception3d_backbone(x, *, separable, padding, bn_scale, temporal_conv_startat,
                         temporal_conv_endat, gating_startat, temporal_pooling,
                         width_multiplier, min_width, bn_momentum, gating_use_bias, factorize,
                         kernel_regularizer=None):
    """Applies the base network to the normalised video `x`; returns the Mixed_5c features."""
    start = _block_index("temporal_conv_startat", temporal_conv_startat, TEMPORAL_BLOCKS)
    end = _block_index("temporal_conv_endat", temporal_conv_endat, TEMPORAL_BLOCKS)
    end = len(TEMPORAL_BLOCKS) - 1 if end is None else end
    gate_from = _block_index("gating_startat", gating_startat, GATING_BLOCKS)
    if width_multiplier <= 0:
        raise ValueError(f"width_multiplier must be > 0, got {width_multiplier}")

    def width(w):
        return max(int(w * width_multiplier), min_width)

    def temporal(block):  # has a temporal kernel: inside [start, end]
        i = TEMPORAL_BLOCKS.index(block)
        return start is not None and start <= i <= end

    def gated(block):
        return gate_from is not None and GATING_BLOCKS.index(block) >= gate_from

    unit = dict(padding=padding, bn_scale=bn_scale, bn_momentum=bn_momentum, factorize=factorize,
                kernel_regularizer=kernel_regularizer)
    spatiotemporal = SepConv3D if separable else Unit3D
    for block in LAYOUT:
        if block == "Conv3d_1a_7x7":
            kt = 7 if temporal(block) else 1
            x = spatiotemporal(width(64), (kt, 7, 7), (2, 2, 2), name=block, **unit)(x)
        elif block == "Conv3d_2b_1x1":
            x = Unit3D(width(64), 1, name=block, **unit)(x)
        elif block == "Conv3d_2c_3x3":
            kt = 3 if temporal(block) else 1
            x = spatiotemporal(width(192), (kt, 3, 3), name=block, **unit)(x)
            if gated(block):
                x = SelfGating(use_bias=gating_use_bias, name=f"{block}_gating")(x)
        elif block in POOLS:
            size, strides = POOLS[block]
            if not temporal_pooling:
                size = (1,) + size[1:]
            x = MaxPooling3D(size, strides, padding=padding, name=block)(x)
        else:
            x = InceptionBlock3D(
                [width(w) for w in MIXED[block]], temporal_kernel_size=3 if temporal(block) else 1,
                separable=separable, gating=gated(block), gating_use_bias=gating_use_bias,
                temporal_pool_size=3 if temporal_pooling else 1, name=block, **unit)(x)
    return x


def inception3d_head(x, classes, dropout_rate, classifier_activation):
    """DeepMind / TF-slim head: avg pool 2x7x7 VALID (clipped to smaller feature maps, as slim's
    `reduced_kernel_size_3d`), dropout, 1x1x1 conv with bias, mean of the logits over
    time (and space, where the clip is larger than 224)."""
    default = (2, 7, 7)
    size = tuple(d if n is None else min(d, n) for d, n in zip(default, x.shape[1:4]))
    x = AveragePooling3D(size, strides=1, padding="valid", name="AvgPool_0a_7x7")(x)
    x = keras.layers.Dropout(dropout_rate, name="Dropout_0b")(x)
    x = Conv3D(classes, 1, use_bias=True, name="Logits_Conv3d_0c_1x1")(x)
    x = keras.layers.GlobalAveragePooling3D(name="logits")(x)
    return base.predictions(x, classifier_activation)


# Family members: the switches that define each one (every switch is a builder keyword).
I3D_STYLE = dict(separable=False, padding="same", bn_scale=False,
                 mean_std=base.MINUS_ONE_TO_ONE, dropout_rate=0.5)
S3D_STYLE = dict(separable=True, padding="symmetric", bn_scale=True,
                 mean_std=base.KINETICS_MEAN_STD, dropout_rate=0.2)
DEFAULT_SWITCHES = dict(temporal_conv_startat="Conv3d_1a_7x7", temporal_conv_endat=None,
                        gating_startat=None, temporal_pooling=True, width_multiplier=1.0,
                        min_width=8, bn_momentum=0.99, gating_use_bias=True, factorize=True,
                        kernel_regularizer=None)


def _inception3d(registry_name, style, switches, include_top=True, input_shape=None,
                 pooling=None, classes=400, classifier_activation="softmax", dropout_rate=None,
                 include_preprocessing=True, **kwargs):
    base.check_arguments(include_top, pooling, classes, input_shape)
    style_keys = ("separable", "padding", "bn_scale", "mean_std")
    config = base.merge_switches(registry_name, {**DEFAULT_SWITCHES, **switches,
                                                 **{k: style[k] for k in style_keys}}, kwargs)
    style = {**style, **{k: config.pop(k) for k in style_keys}}
    inputs, x = base.video_input(input_shape, include_preprocessing, style["mean_std"])
    x = inception3d_backbone(x, separable=style["separable"], padding=style["padding"],
                             bn_scale=style["bn_scale"], **config)
    if include_top:
        rate = style["dropout_rate"] if dropout_rate is None else dropout_rate
        x = inception3d_head(x, classes, rate, classifier_activation)
    else:
        x = base.pool_features(x, pooling)
    return inputs, x


def _builder(registry_name, style, doc, **switches):
    return base.builder(registry_name,
                        lambda **kwargs: _inception3d(registry_name, style, switches, **kwargs),
                        doc + _ARGS_DOC, classifier_layer=CLASSIFIER_LAYER,
                        feature_layer=FEATURE_LAYER)


_ARGS_DOC = """

    Arguments follow `keras.applications`: include_top, weights (None, a registered weights
    name, a preset directory or a .weights.h5 / .keras path), input_shape (frames, height, width, channels; default all None
    with 3 channels), pooling (None, "avg", "max"; include_top=False only), classes,
    classifier_activation, dropout_rate, include_preprocessing (input RGB in [0, 255]), name.
    Family switches: separable, padding, bn_scale, temporal_conv_startat, temporal_conv_endat,
    gating_startat, temporal_pooling, width_multiplier, min_width, bn_momentum,
    gating_use_bias, factorize (see `keras_video.zoo.inception3d`).
    """

I3D = _builder("i3d", I3D_STYLE, "I3D (Carreira & Zisserman 2017) as DeepMind's kinetics-i3d.")
S3D = _builder("s3d", S3D_STYLE, "S3D (Xie et al. 2018) layer for layer as torchvision's s3d.")
S3DG = _builder("s3dg", S3D_STYLE, "S3D-G: S3D with self-gating from Conv3d_2c_3x3 on, where "
                "TF-slim's s3dg.py puts it.", gating_startat="Conv3d_2c_3x3")
C2D = _builder("c2d", I3D_STYLE, "Frame-level 2D baseline: the Inception network with every "
               "temporal kernel and pool 1 frame deep.", temporal_conv_startat=None,
               temporal_pooling=False)

# The design study of Xie et al. (section 4, Fig. 4) sweeps where 3D gives way to 2D; these named
# points split the network at the stage boundary between Mixed_3c and Mixed_4b (the switches
# reach every other point of the sweep).
BOTTOM_HEAVY = dict(temporal_conv_endat="Mixed_3c")
TOP_HEAVY = dict(temporal_conv_startat="Mixed_4b")
BottomHeavyI3D = _builder("bottom_heavy_i3d", I3D_STYLE, "Bottom-heavy I3D: 3D convs up to "
                          "Mixed_3c, 2D above.", **BOTTOM_HEAVY)
TopHeavyI3D = _builder("top_heavy_i3d", I3D_STYLE, "Top-heavy I3D: 2D convs up to Mixed_3c, "
                       "3D from Mixed_4b.", **TOP_HEAVY)
BottomHeavyS3D = _builder("bottom_heavy_s3d", S3D_STYLE, "Bottom-heavy S3D: separable 3D convs "
                          "up to Mixed_3c, 2D above.", **BOTTOM_HEAVY)
TopHeavyS3D = _builder("top_heavy_s3d", S3D_STYLE, "Top-heavy S3D: 2D convs up to Mixed_3c, "
                       "separable 3D from Mixed_4b.", **TOP_HEAVY)
FastS3D = _builder("fast_s3d", S3D_STYLE, "Fast-S3D: the fastest top-heavy S3D of the "
                   "study: 2D convs up to Mixed_4f, separable 3D in Mixed_5b and Mixed_5c only.",
                   temporal_conv_startat="Mixed_5b")
