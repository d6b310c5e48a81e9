"""Which computation the video layers trace: their default form, or the native 3D form that
runtimes with fast 3D kernels run best.

By default the layers compute 3D convolution and pooling with 2D ops over frames (what XLA on
CPU and TFLite's XNNPACK run fastest, and what every converter accepts). ONNX Runtime has fast
3D Conv / MaxPool / AveragePool kernels and grouped 3D Conv, but the 2D forms reach it as a
Reshape / Transpose / Slice around every op. Traced inside `native_3d()`, the layers emit one
3D op each instead (`Conv3D` -> the 3D conv, `DepthwiseConv3D` -> a grouped 3D conv,
`MaxPooling3D` / `AveragePooling3D` -> 3D pooling, `SelfGating` -> a 1x1x1 conv of the pooled
clip instead of a matmul on the channel axis): same weights, same function.

The scope is read when a layer is called, so it applies to graphs traced inside it (an export)
and never changes a model or its variables. TensorFlow's CPU kernels have no grouped 3D conv:
a `DepthwiseConv3D` traced in this form runs under XLA (or in a converted file) only.
"""
import contextlib
import contextvars

_NATIVE_3D = contextvars.ContextVar("keras_video_native_3d", default=False)


@contextlib.contextmanager
def native_3d():
    """Layers called inside this scope trace native 3D ops (see the module docstring)."""
    token = _NATIVE_3D.set(True)
    try:
        yield
    finally:
        _NATIVE_3D.reset(token)


def is_native_3d():
    """True inside `native_3d()`."""
    return _NATIVE_3D.get()
