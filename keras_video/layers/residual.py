"""ResNet3D residual blocks with switchable middles: R3D, MC3, R(2+1)D, ip-CSN and ir-CSN."""
import keras
from keras import ops

from keras_video.layers.conv import Unit3D, serialize_unit_kwargs

MIDDLES = ("full", "2d", "2plus1d", "ip", "ir")


def r2plus1d_width(in_channels, filters):
    """Intermediate width of a (2+1)D conv with as many parameters as the 3x3x3 conv it
    replaces (Tran et al. 2018; torchvision's `midplanes`)."""
    return (in_channels * filters * 27) // (in_channels * 9 + 3 * filters)


@keras.saving.register_keras_serializable(package="keras_video")
class ResidualBlock3D(keras.layers.Layer):
    """`relu(main(x) + shortcut(x))`, with BN after every conv.

    `bottleneck=True`: 1x1x1 (`filters`), middle, 1x1x1 (`filters * expansion`, no ReLU), as
    ResNet-50+ and the CSNs. `bottleneck=False`: middle, middle again (no ReLU), as ResNet-18.
    The middle conv carries the stride and is one of:
    - "full": 3x3x3 (R3D);  "2d": 1x3x3 with no temporal stride (MC3's upper stages);
    - "2plus1d": 1x3x3 to an intermediate width, BN, ReLU, then 3x1x1 (R(2+1)D);
    - "ir": depthwise 3x3x3 (ir-CSN);  "ip": 1x1x1 with BN and no ReLU, then depthwise 3x3x3
      (ip-CSN).
    The shortcut is a strided 1x1x1 projection with BN when the shape changes. Extra keyword
    arguments (padding, BN options, ...) go to every unit.
    """

    def __init__(self, filters, middle="full", strides=(1, 1, 1), bottleneck=True,
                 expansion=4, name=None, **unit_kwargs):
        super().__init__(name=name, **{k: unit_kwargs.pop(k) for k in ("dtype", "trainable")
                                       if k in unit_kwargs})
        if middle not in MIDDLES:
            raise ValueError(f"middle must be one of {MIDDLES}, got {middle!r}")
        triple = lambda v: (v,) * 3 if isinstance(v, int) else tuple(v)  # noqa: E731
        self.filters, self.middle, self.strides = filters, middle, triple(strides)
        self.bottleneck, self.expansion = bottleneck, expansion
        self.unit_kwargs = unit_kwargs
        self.out_channels = filters * expansion if bottleneck else filters

    def _middle(self, in_channels, strides, last, prefix):
        """Units of one middle conv, `in_channels -> filters`; `last`: no ReLU at the end."""
        f, kw = self.filters, self.unit_kwargs
        act = None if last else "relu"
        st, sh, sw = strides
        if self.middle == "full":
            return [Unit3D(f, 3, strides, activation=act, name=prefix, **kw)]
        if self.middle == "2d":
            return [Unit3D(f, (1, 3, 3), (1, sh, sw), activation=act, name=prefix, **kw)]
        if self.middle == "2plus1d":
            mid = r2plus1d_width(self.mid_in, f)
            return [Unit3D(mid, (1, 3, 3), (1, sh, sw), name=prefix + "_spatial", **kw),
                    Unit3D(f, (3, 1, 1), (st, 1, 1), activation=act, name=prefix + "_temporal",
                           **kw)]
        units = [Unit3D(f, 1, activation=None, name=prefix + "_pointwise", **kw)] \
            if self.middle == "ip" else []
        if in_channels != f and not units:
            raise ValueError("an 'ir' middle is depthwise: its input must have `filters` "
                             "channels (use it inside a bottleneck)")
        return units + [Unit3D(f, 3, strides, depthwise=True, activation=act,
                               name=prefix + "_depthwise", **kw)]

    def build(self, input_shape):
        in_channels = input_shape[-1]
        self.mid_in = in_channels
        kw = self.unit_kwargs
        if self.bottleneck:
            self.main = [Unit3D(self.filters, 1, name="conv1", **kw)]
            self.main += self._middle(self.filters, self.strides, False, "conv2")
            self.main.append(Unit3D(self.out_channels, 1, activation=None, name="conv3", **kw))
        else:
            self.main = self._middle(in_channels, self.strides, False, "conv1")
            self.main += self._middle(self.filters, (1, 1, 1), True, "conv2")
        strides = (1,) + self.strides[1:] if self.middle == "2d" else self.strides
        changes = in_channels != self.out_channels or strides != (1, 1, 1)
        self.shortcut = Unit3D(self.out_channels, 1, strides, activation=None, name="shortcut",
                               **kw) if changes else None
        shape = input_shape
        for unit in self.main:
            unit.build(shape)
            shape = unit.compute_output_shape(shape)
        if self.shortcut is not None:
            self.shortcut.build(input_shape)

    def call(self, x):
        y = x
        for unit in self.main:
            y = unit(y)
        return ops.relu(y + (x if self.shortcut is None else self.shortcut(x)))

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for unit in self.main:
            shape = unit.compute_output_shape(shape)
        return shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "middle": self.middle,
                "strides": self.strides, "bottleneck": self.bottleneck,
                "expansion": self.expansion, **serialize_unit_kwargs(self.unit_kwargs)}
