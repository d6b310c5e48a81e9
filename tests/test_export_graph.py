"""The ONNX export's graph: one op per layer (no layout shuffles around the convs), and the
passes of `keras_video.export.onnx_graph`, each checked on hand-built graphs run before and
after it by onnxruntime."""
import keras
import numpy as np
import pytest

from keras_video import export, layers
from keras_video.export import onnx_graph

from conftest import CLIP, TINY

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

# What a clean export may hold besides the layers' own ops (the input's layout Transpose, the
# preprocessing Mul / Add, the head's Squeeze / Softmax).
LAYOUT_AND_SHAPE_OPS = {"Transpose", "Reshape", "Shape", "Slice", "Concat", "Gather", "Cast",
                        "Pad", "Compress", "ScatterElements", "ConstantOfShape", "Split",
                        "Unsqueeze", "Squeeze"}


def run(proto, x):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def model(nodes, initializers, shape):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.asarray(v), name) for name, v in
                     initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def pad_graph(reader, value, pads, mode="constant", transpose=False, reader_pads=None):
    """x (N, C, D, H, W) -> Pad -> Conv or MaxPool -> y; with `transpose`, x is NDHWC (and so
    are `pads`) and a Transpose to NCDHW sits between the Pad and its reader."""
    rng = np.random.default_rng(0)
    initializers = {"pads": np.array(pads, np.int64), "value": np.array(value, np.float32)}
    nodes = [helper.make_node("Pad", ["x", "pads", "value"], ["padded"], mode=mode)]
    if transpose:
        nodes.append(helper.make_node("Transpose", ["padded"], ["nchw"], perm=[0, 4, 1, 2, 3]))
    attrs = dict(kernel_shape=[3, 3, 3], strides=[1, 2, 2],
                 **({"pads": reader_pads} if reader_pads else {}))
    if reader == "Conv":
        initializers["w"] = rng.normal(size=(4, 3, 3, 3, 3)).astype(np.float32)
        nodes.append(helper.make_node("Conv", [nodes[-1].output[0], "w"], ["y"], **attrs))
    else:
        nodes.append(helper.make_node("MaxPool", [nodes[-1].output[0]], ["y"], **attrs))
    return model(nodes, initializers, [1, 6, 9, 8, 3] if transpose else [1, 3, 6, 9, 8])


def shape_of(proto):
    return [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]


def assert_same_function(proto, change, rng):
    """Applies `change` (a pass on the graph) and checks onnxruntime's output did not move."""
    x = (rng.normal(size=shape_of(proto)) - 3.0).astype(np.float32)  # negative: zeros would
    expected = run(proto, x)                                          # win a max
    result = change(proto.graph)
    np.testing.assert_allclose(run(proto, x), expected, atol=1e-5)
    return result


@pytest.mark.parametrize("reader,value,pads,mode,transpose,reader_pads,folds", [
    ("Conv", 0.0, [0, 0, 1, 1, 1, 0, 0, 1, 1, 1], "constant", False, None, True),
    ("Conv", 0.0, [0, 0, 1, 1, 1, 0, 0, 1, 1, 1], "constant", False, [0, 1, 0, 1, 0, 1], True),
    ("MaxPool", -np.inf, [0, 0, 0, 1, 1, 0, 0, 0, 1, 1], "constant", False, None, True),
    ("Conv", 0.0, [0, 1, 1, 2, 0, 0, 1, 3, 2, 0], "constant", True, None, True),
    ("MaxPool", -np.inf, [0, 1, 1, 1, 0, 0, 1, 1, 1, 0], "constant", True, None, True),
    # The padded value is not what the reader's own padding stands for:
    ("MaxPool", 0.0, [0, 0, 0, 1, 1, 0, 0, 0, 1, 1], "constant", False, None, False),
    ("Conv", -np.inf, [0, 0, 1, 1, 1, 0, 0, 1, 1, 1], "constant", False, None, False),
    ("Conv", 1.0, [0, 0, 1, 1, 1, 0, 0, 1, 1, 1], "constant", False, None, False),
    ("Conv", 0.0, [0, 0, 1, 1, 1, 0, 0, 1, 1, 1], "reflect", False, None, False),
    ("Conv", 0.0, [0, 0, 1, 1, 1, 0, 0, 1, 1, 1], "edge", False, None, False),
    # Pads on the channel axis (also behind a Transpose), or negative (a crop):
    ("MaxPool", -np.inf, [0, 1, 1, 1, 1, 0, 1, 1, 1, 1], "constant", False, None, False),
    ("MaxPool", -np.inf, [0, 1, 1, 1, 1, 0, 1, 1, 1, 1], "constant", True, None, False),
    ("Conv", 0.0, [0, 0, 1, -1, 1, 0, 0, 1, 1, 1], "constant", False, None, False),
])
def test_fold_pads_keeps_the_function(reader, value, pads, mode, transpose, reader_pads, folds,
                                      rng):
    proto = pad_graph(reader, value, pads, mode, transpose, reader_pads)
    assert assert_same_function(proto, onnx_graph.fold_pads, rng) == int(folds)
    assert ("Pad" not in [node.op_type for node in proto.graph.node]) == folds
    if folds:  # the pad's constants went with it
        assert {"pads", "value"}.isdisjoint(t.name for t in proto.graph.initializer)


def test_a_pad_read_twice_stays(rng):
    proto = model([helper.make_node("Pad", ["x", "pads", "value"], ["padded"]),
                   helper.make_node("MaxPool", ["padded"], ["pooled"], kernel_shape=[3, 3, 3],
                                    pads=[1] * 6),
                   helper.make_node("Add", ["pooled", "padded"], ["y"])],
                  {"pads": np.array([0, 0, 1, 1, 1, 0, 0, 1, 1, 1], np.int64),
                   "value": np.array(-np.inf, np.float32)}, [1, 3, 6, 9, 8])
    assert assert_same_function(proto, onnx_graph.fold_pads, rng) == 0


def grouped_conv(channels, group, batch="batch"):
    weights = np.random.default_rng(0).normal(size=(channels * 2, 1, 3, 3, 3))
    return model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3, 3],
                                   pads=[1] * 6, group=group)],
                 {"w": weights.astype(np.float32)}, [batch, channels, 5, 6, 6])


def test_set_conv_groups_gives_a_depthwise_kernel_its_groups(rng):
    proto = grouped_conv(4, group=1)  # as tf2onnx writes a grouped 3D conv: an invalid graph
    with pytest.raises(Exception, match="channels"):
        run(proto, np.zeros((1, 4, 5, 6, 6), np.float32))
    x = rng.normal(size=(2, 4, 5, 6, 6)).astype(np.float32)
    assert onnx_graph.set_conv_groups(proto.graph, onnx_graph.inferred_shapes(proto)) == 1
    np.testing.assert_allclose(run(proto, x), run(grouped_conv(4, group=4), x), atol=1e-5)
    assert onnx_graph.set_conv_groups(proto.graph, onnx_graph.inferred_shapes(proto)) == 0
    unknown = grouped_conv(4, group=1)
    unknown.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "channels"
    assert onnx_graph.set_conv_groups(unknown.graph, onnx_graph.inferred_shapes(unknown)) == 0


@pytest.mark.parametrize("target,identity", [([-1, 4, 1, 1, 1], True), ([0, 4, 1, 1, 1], True),
                                             ([-1, 1, 1, 1, 4], False), ([-1, 4], False),
                                             ([2, 4, 1, 1, 1], False)])
def test_drop_identity_reshapes(target, identity, rng):
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("Relu", ["r"], ["y"])]
    proto = model(nodes, {"shape": np.array(target, np.int64)}, ["batch", 4, 1, 1, 1])
    x = rng.normal(size=(2, 4, 1, 1, 1)).astype(np.float32)
    expected = run(proto, x)
    assert onnx_graph.drop_identity_reshapes(proto.graph, onnx_graph.inferred_shapes(proto)) \
        == int(identity)
    assert ("Reshape" in [n.op_type for n in proto.graph.node]) != identity
    np.testing.assert_allclose(run(proto, x), expected)


def preprocessing_graph(kind):
    """NDHWC x -> Mul(per-channel) -> Add(per-channel) -> Transpose to NCDHW -> ..., as the
    exports begin; `kind` varies what may move."""
    scale = np.array([0.5, 2.0, -1.0], np.float32)
    offset = np.array([1.0, -2.0, 3.0], np.float32)
    transpose = dict(perm=[0, 4, 1, 2, 3])
    if kind == "chain":
        nodes = [helper.make_node("Mul", ["x", "scale"], ["m"]),
                 helper.make_node("Add", ["m", "offset"], ["a"]),
                 helper.make_node("Transpose", ["a"], ["t"], **transpose),
                 helper.make_node("Relu", ["t"], ["y"])]
    elif kind == "read_twice":  # m feeds two transposes: moving one would compute m twice
        nodes = [helper.make_node("Mul", ["x", "scale"], ["m"]),
                 helper.make_node("Transpose", ["m"], ["t1"], **transpose),
                 helper.make_node("Transpose", ["m"], ["t2"], **transpose),
                 helper.make_node("Add", ["t1", "t2"], ["y"])]
    else:  # "constant_first": the data is the second operand
        nodes = [helper.make_node("Sub", ["offset", "x"], ["m"]),
                 helper.make_node("Transpose", ["m"], ["y"], **transpose)]
    return model(nodes, {"scale": scale, "offset": offset}, [1, 4, 5, 6, 3])


@pytest.mark.parametrize("kind,moves", [("chain", 2), ("read_twice", 0), ("constant_first", 0)])
def test_hoist_transposes_moves_the_layout_transpose_to_the_input(kind, moves, rng):
    proto = preprocessing_graph(kind)
    assert assert_same_function(proto, onnx_graph.hoist_transposes, rng) == moves
    if moves:
        assert [node.op_type for node in proto.graph.node] == ["Transpose", "Mul", "Add", "Relu"]
        assert {"scale", "offset"}.isdisjoint(t.name for t in proto.graph.initializer)
        assert all(len(t.dims) == 5 for t in proto.graph.initializer)  # (1, 3, 1, 1, 1)


def scaled_input_graph(kind="chain", scale=(0.5, 2.0, -1.0), offset=(1.0, -2.0, 3.0)):
    """x (N, 3, 5, 6, 7) -> Mul(per-channel) -> Add(per-channel) -> Conv (zero pads) -> y, as
    an export begins once its layout Transpose is hoisted; `kind` varies what reads what."""
    rng = np.random.default_rng(0)
    initializers = {"scale": np.array(scale, np.float32).reshape(1, -1, 1, 1, 1),
                    "offset": np.array(offset, np.float32).reshape(1, -1, 1, 1, 1),
                    "w": rng.normal(size=(4, 3, 3, 3, 3)).astype(np.float32),
                    "w2": rng.normal(size=(4, 3, 1, 3, 3)).astype(np.float32),
                    "b": rng.normal(size=4).astype(np.float32)}
    conv = dict(kernel_shape=[3, 3, 3], pads=[1, 0, 2, 1, 2, 0], strides=[1, 2, 1])
    nodes = [helper.make_node("Mul", ["x", "scale"], ["m"]),
             helper.make_node("Add", ["m", "offset"], ["a"]),
             helper.make_node("Conv", ["a", "w", "b"], ["c"], **conv)]
    if kind == "two_convs":  # both kernels take the scale
        nodes += [helper.make_node("Conv", ["a", "w2"], ["c2"], kernel_shape=[1, 3, 3],
                                   pads=[0, 0, 1, 0, 2, 1], strides=[1, 2, 1]),
                  helper.make_node("Add", ["c", "c2"], ["y"])]
    elif kind == "add_read_twice":  # a Relu reads the scaled input too
        nodes += [helper.make_node("Relu", ["a"], ["r"]),
                  helper.make_node("ReduceMean", ["r"], ["mean"], keepdims=1),
                  helper.make_node("Add", ["c", "mean"], ["y"])]
    elif kind == "mul_read_twice":
        nodes += [helper.make_node("ReduceMean", ["m"], ["mean"], keepdims=1),
                  helper.make_node("Add", ["c", "mean"], ["y"])]
    elif kind == "mul_is_the_output":  # nothing but the graph reads the product
        nodes = [helper.make_node("Mul", ["x", "scale"], ["y"])]
    elif kind == "grouped":
        nodes[2] = helper.make_node("Conv", ["a", "wg"], ["y"], kernel_shape=[3, 3, 3],
                                    pads=[1] * 6, group=3)
        initializers["wg"] = rng.normal(size=(6, 1, 3, 3, 3)).astype(np.float32)
    else:
        nodes[2].output[0] = "y"
    return model(nodes, initializers, [2, 3, 5, 6, 7])


@pytest.mark.parametrize("graph,folds", [
    (dict(), 1), (dict(kind="two_convs"), 1),
    (dict(scale=(0.25,), offset=(-1.0,)), 1),  # one scale for every channel
    # What the scaled input's other readers would see change, or a kernel the scale does
    # not split by input channel; a zero scale (x + b / 0):
    (dict(kind="add_read_twice"), 0), (dict(kind="mul_read_twice"), 0),
    (dict(kind="mul_is_the_output"), 0),
    (dict(kind="grouped"), 0), (dict(scale=(0.5, 0.0, 1.0)), 0)])
def test_fold_input_scale_moves_the_scale_into_the_kernels(graph, folds, rng):
    proto = scaled_input_graph(**graph)
    assert assert_same_function(proto, onnx_graph.fold_input_scale, rng) == folds
    ops = [node.op_type for node in proto.graph.node]
    assert ("Mul" in ops) != folds
    if folds:
        assert ops[0] == "Add" and {"scale", "offset"}.isdisjoint(
            t.name for t in proto.graph.initializer)


def temporal_conv_graph(kernel=(3, 1, 1), strides=(2, 1, 1), pads=(1, 0, 0, 1, 0, 0), group=1,
                        then="Relu", batch=2):
    """x (N, 4, 6, 5, 7) -> Conv (+ bias) -> `then` ("Relu", "Relu twice": a Relu and a Sigmoid
    both read the conv, or None: the conv's output is the graph's)."""
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(8, 4 // group) + kernel).astype(np.float32)
    initializers = {"w": weights, "b": rng.normal(size=8).astype(np.float32)}
    conv_out = "y" if then is None else "c"
    nodes = [helper.make_node("Conv", ["x", "w", "b"], [conv_out], kernel_shape=list(kernel),
                              strides=list(strides), pads=list(pads), group=group)]
    if then == "Relu":
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    elif then == "Relu twice":
        nodes += [helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Sigmoid", ["c"], ["s"]),
                  helper.make_node("Add", ["r", "s"], ["y"])]
    return model(nodes, initializers, [batch, 4, 6, 5, 7])


@pytest.mark.parametrize("graph,rewrites", [
    (dict(), 1), (dict(then=None), 1), (dict(then="Relu twice"), 1),
    (dict(kernel=(5, 1, 1), strides=(1, 1, 1), pads=(2, 0, 0, 2, 0, 0)), 1),
    # Not a temporal conv, or not one the 2D view expresses:
    (dict(kernel=(1, 1, 1), pads=(0,) * 6), 0), (dict(kernel=(3, 3, 3), pads=(1,) * 6), 0),
    (dict(strides=(2, 2, 1)), 0), (dict(pads=(1, 1, 0, 1, 1, 0)), 0), (dict(group=4), 0)])
def test_temporal_convs_as_2d(graph, rewrites, rng):
    proto = temporal_conv_graph(**graph)
    change = lambda g: onnx_graph.temporal_convs_as_2d(g, onnx_graph.inferred_shapes(proto))  # noqa: E731
    assert assert_same_function(proto, change, rng) == rewrites
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    kernel = helper.get_attribute_value(next(a for a in convs[0].attribute
                                             if a.name == "kernel_shape"))
    assert len(kernel) == (2 if rewrites else 3)
    if rewrites and graph.get("then", "Relu") == "Relu":  # the Relu still follows its conv
        ops = [n.op_type for n in proto.graph.node]
        assert ops == ["Reshape", "Conv", "Relu", "Reshape"], ops


def test_temporal_convs_need_a_static_height_and_width(rng):
    proto = temporal_conv_graph()
    proto.graph.input[0].type.tensor_type.shape.dim[3].dim_param = "height"
    assert onnx_graph.temporal_convs_as_2d(proto.graph, onnx_graph.inferred_shapes(proto)) == 0


def clip_conv_graph(channels=3, kernel=(3, 7, 7), strides=(1, 2, 2), pads=(1, 3, 3, 1, 3, 3),
                    then=("Relu", "MaxPool"), pool_kernel=(1, 3, 3), batch=2, after="Mul",
                    layout=False, scale_rank=5):
    """x (N, C, 6, 20, 18) -> `after` (a Mul by a per-channel constant of rank `scale_rank`,
    as the preprocessing; a Relu: the conv no longer reads the clip) -> Conv (+ bias) -> the
    ops in `then`, each reading the one before (MaxPool: `pool_kernel`, stride (1, 2, 2), pads
    1 in space), as CSN's stem exports; with `layout`, x is (N, 6, 20, 18, C) and the export's
    layout Transpose to (N, C, T, H, W) comes first."""
    rng = np.random.default_rng(0)
    initializers = {"w": 0.1 * rng.normal(size=(8, channels) + kernel).astype(np.float32),
                    "b": rng.normal(size=8).astype(np.float32)}
    initializers["scale"] = np.linspace(0.5, 1.5, channels, dtype=np.float32).reshape(
        (1,) * (scale_rank - 4) + (channels, 1, 1, 1))
    names = ["c"] + [f"t{i}" for i in range(len(then))]
    names[-1] = "y"
    nodes = [helper.make_node("Transpose", ["x"], ["ncthw"], perm=[0, 4, 1, 2, 3])] \
        if layout else []
    clip = "ncthw" if layout else "x"
    nodes += [helper.make_node(after, [clip, "scale"] if after == "Mul" else [clip], ["pre"]),
              helper.make_node("Conv", ["pre", "w", "b"], [names[0]], kernel_shape=list(kernel),
                               strides=list(strides), pads=list(pads))]
    for i, op in enumerate(then):
        attrs = dict(kernel_shape=list(pool_kernel), strides=[1, 2, 2],
                     pads=[0, 1, 1, 0, 1, 1]) if op == "MaxPool" else {}
        nodes.append(helper.make_node(op, [names[i]], [names[i + 1]], **attrs))
    return model(nodes, initializers,
                 [batch, 6, 20, 18, channels] if layout else [batch, channels, 6, 20, 18])


@pytest.mark.parametrize("graph,rewrites,absorbed", [
    (dict(), 1, 2), (dict(then=("Relu",)), 1, 1), (dict(then=()), 1, 0),
    (dict(kernel=(3, 3, 3), strides=(2, 1, 1), pads=(1, 1, 1, 1, 1, 1)), 1, 2),
    (dict(kernel=(7, 7, 7), strides=(2, 2, 2), pads=(2, 3, 3, 3, 3, 3)), 1, 2),
    (dict(kernel=(2, 3, 3), pads=(0, 1, 1, 0, 1, 1)), 1, 2),
    (dict(pool_kernel=(3, 3, 3)), 1, 1),  # a pool across frames stays 3D
    (dict(then=("Sigmoid", "MaxPool")), 1, 0),
    # One tap in time (a spatial 1 x kh x kw conv stays 3D), or not the clip's conv:
    (dict(kernel=(1, 7, 7), pads=(0, 3, 3, 0, 3, 3)), 0, 0), (dict(after="Relu"), 0, 0)])
def test_clip_convs_as_2d(graph, rewrites, absorbed, rng):
    proto = clip_conv_graph(**graph)
    change = lambda g: onnx_graph.clip_convs_as_2d(g, onnx_graph.inferred_shapes(proto))  # noqa: E731
    assert assert_same_function(proto, change, rng) == rewrites
    ops = [n.op_type for n in proto.graph.node]
    if rewrites:
        conv = next(n for n in proto.graph.node if n.op_type == "Conv")
        assert len(helper.get_attribute_value(next(
            a for a in conv.attribute if a.name == "kernel_shape"))) == 2
        # The Conv and what it absorbed run in 2D, between the Reshapes.
        between = ops[ops.index("Conv") + 1:ops.index("Reshape", ops.index("Conv"))]
        assert len(between) == absorbed, ops
        assert ops[ops.index("Conv") + absorbed + 1:][:2] == ["Reshape", "Transpose"]


@pytest.mark.parametrize("scale_rank", [5, 4])
def test_the_clip_conv_takes_frames_from_the_layout_transpose(scale_rank, rng):
    """The layout Transpose itself writes (N, T, C, H, W), so the preprocessing runs over whole
    frames' channel planes: with a second Transpose after it, onnxruntime merges the two and
    runs it over a last axis of 3."""
    proto = clip_conv_graph(layout=True, scale_rank=scale_rank)
    change = lambda g: onnx_graph.clip_convs_as_2d(g, onnx_graph.inferred_shapes(proto))  # noqa: E731
    assert assert_same_function(proto, change, rng) == 1
    ops = [n.op_type for n in proto.graph.node]
    assert ops[:3] == ["Transpose", "Mul", "Pad"], ops
    assert ops.count("Transpose") == 2  # in, and back after the pool
    perm = helper.get_attribute_value(proto.graph.node[0].attribute[0])
    assert list(perm) == [0, 1, 4, 2, 3]
    scale = {t.name: t for t in proto.graph.initializer}[proto.graph.node[1].input[1]]
    assert list(scale.dims) == [1, 1, 3, 1, 1]


@pytest.mark.parametrize("graph,rewrite", [
    (temporal_conv_graph, onnx_graph.temporal_convs_as_2d),
    (clip_conv_graph, onnx_graph.clip_convs_as_2d)])
def test_the_2d_views_keep_the_batch_dynamic(graph, rewrite, rng):
    proto = graph(batch="batch")
    clips = [rng.normal(size=[n] + shape_of(proto)[1:]).astype(np.float32) for n in (3, 0)]
    expected = [run(proto, x) for x in clips]
    assert rewrite(proto.graph, onnx_graph.inferred_shapes(proto)) == 1
    for x, y in zip(clips, expected):
        np.testing.assert_allclose(run(proto, x), y, atol=1e-5)
    # After the view the batch is still the clip's by name: onnxruntime plans the memory of
    # tensors whose shapes it can resolve from the feeds before a run.
    inferred = onnx.shape_inference.infer_shapes(proto).graph.output[0]
    assert inferred.type.tensor_type.shape.dim[0].dim_param == "batch"


def every_layer_model(**unit):
    """A small classifier holding each layer the zoo exports, where it pads as the zoo does:
    symmetric stride-2 conv and pool, a gated separable Inception block, a depthwise unit,
    an ir-CSN bottleneck, the Inception head's average pool."""
    inputs = keras.Input(CLIP, name="video")
    x = keras.layers.Rescaling(1 / 127.5, -1, name="preprocessing")(inputs)
    x = layers.SepConv3D(8, (3, 7, 7), (2, 2, 2), padding="symmetric", name="stem", **unit)(x)
    x = layers.MaxPooling3D((1, 3, 3), (1, 2, 2), padding="symmetric", name="pool")(x)
    x = layers.InceptionBlock3D((4, 4, 8, 4, 4, 4), separable=True, gating=True,
                                padding="symmetric", name="mixed", **unit)(x)
    x = layers.Unit3D(20, 3, depthwise=True, padding="same", name="depthwise", **unit)(x)
    x = layers.ResidualBlock3D(8, "ir", (2, 2, 2), padding="symmetric", name="csn", **unit)(x)
    x = layers.AveragePooling3D((2, 2, 2), strides=1, name="avg")(x)
    x = keras.layers.GlobalAveragePooling3D()(x)
    x = keras.layers.Dense(5)(x)
    return keras.Model(inputs, keras.layers.Activation("softmax", name="predictions")(x))


def count(model, kind):
    return sum(isinstance(layer, kind) for layer in model._flatten_layers())


def test_every_layer_reaches_onnx_as_its_own_op(tmp_path, rng):
    model = every_layer_model()
    report = export.export_onnx(model, tmp_path / "m.onnx")
    onnx.checker.check_model(report["path"], full_check=True)
    proto = onnx.load(report["path"])
    ops = onnx_graph.op_counts(proto)
    convs = count(model, layers.Conv3D) + count(model, layers.DepthwiseConv3D)
    gates = count(model, layers.SelfGating)
    assert ops.pop("Conv") == convs + gates
    assert ops.pop("MaxPool") == count(model, layers.MaxPooling3D)
    assert ops.pop("AveragePool") == 1 and ops.pop("Sigmoid") == gates
    # The gates' multiplies, no other: the preprocessing's scale is in the stem's kernel.
    assert ops.pop("Mul") == gates
    assert ops.pop("Transpose") == 1  # NDHWC input to NCDHW, once, before anything else
    assert proto.graph.node[0].op_type == "Transpose"
    # The temporal convs (the separable units' k x 1 x 1) run as 2D convs over (T, H * W),
    # each between two Reshapes, which move no data; every other conv is 3D.
    kernels = [helper.get_attribute_value(next(a for a in n.attribute if a.name == "kernel_shape"))
               for n in proto.graph.node if n.op_type == "Conv"]
    temporal = [k for k in kernels if len(k) == 2]
    assert len(temporal) == 3 and all(k[0] > 1 and k[1] == 1 for k in temporal), kernels
    assert ops.pop("Reshape") == 2 * len(temporal)
    assert not LAYOUT_AND_SHAPE_OPS & set(ops) - {"Concat", "Squeeze"}, ops
    assert ops.get("Concat") == 1  # the Inception block's, no other
    depthwise = [n for n in proto.graph.node if n.op_type == "Conv" and
                 helper.get_attribute_value(next(a for a in n.attribute if a.name == "group")) > 1]
    assert len(depthwise) == count(model, layers.DepthwiseConv3D)
    clips = rng.integers(0, 256, size=(3,) + CLIP).astype("uint8")  # batch stays dynamic
    expected = export.load(model).run(clips)
    result = export.load(report["path"]).run(clips)
    for key in ("logits", "probabilities"):
        np.testing.assert_allclose(result[key], expected[key], atol=1e-4)


def test_open_clip_sizes_export_and_match_keras(tmp_path, rng):
    """Frames and size left open: pads TF computes at run time stay `auto_pad`, and the
    graph runs at any clip size."""
    from keras_video import zoo
    model = zoo.get("ir_csn_26", classes=5, **TINY)  # input (None, None, None, 3)
    path = export.export_onnx(model, tmp_path / "open.onnx")["path"]
    predictor = export.load(path)
    for shape in [(1, 8, 32, 32, 3), (2, 6, 40, 36, 3)]:
        clips = rng.integers(0, 256, size=shape).astype("uint8")
        np.testing.assert_allclose(predictor(clips), export.load(model)(clips), atol=1e-4)


def test_tflite_units_are_fused_convs(tmp_path, rng):
    """BatchNorm folds into each unit's conv in inference, and bias and ReLU run before the
    2D conv's output is reshaped back to 5D, so the converter fuses them into CONV_2D /
    DEPTHWISE_CONV_2D: the only multiplies left are the preprocessing's and the gates' (the
    average pool is one AVERAGE_POOL_2D over (time, pixels), with no 1 / frames)."""
    pytest.importorskip("ai_edge_litert")
    model = every_layer_model()
    report = export.export_tflite(model, tmp_path / "m.tflite")
    gates = count(model, layers.SelfGating)
    assert report["ops"]["MUL"] == 1 + gates, report["ops"]
    assert "RELU" not in report["ops"]
    clips = rng.integers(0, 256, size=(2,) + CLIP).astype("uint8")
    np.testing.assert_allclose(export.load(report["path"])(clips), export.load(model)(clips),
                               atol=1e-4)


def test_tflite_pads_of_symmetric_convs_reach_the_2d_conv(tmp_path, rng):
    """A "symmetric" conv pads its 2D view right before the CONV_2D (4D, zeros), where XNNPACK
    folds the PAD into the conv. A pad of the 5D tensor, before the reshape, was a copy of the
    whole tensor it could not fold: S3D's stem paid 5-10% of the file's time for two."""
    from ai_edge_litert.interpreter import Interpreter
    inputs = keras.Input(CLIP, name="video")
    x = layers.SepConv3D(8, (7, 7, 7), (2, 2, 2), padding="symmetric", name="stem")(inputs)
    x = layers.Unit3D(8, (3, 7, 7), (2, 2, 2), padding="symmetric", name="full")(x)
    x = keras.layers.Dense(5)(keras.layers.GlobalAveragePooling3D()(x))
    model = keras.Model(inputs, keras.layers.Activation("softmax", name="predictions")(x))
    report = export.export_tflite(model, tmp_path / "m.tflite")
    ops = Interpreter(model_path=report["path"])._get_ops_details()
    pads = [op for op in ops if op["op_name"] == "PAD"]
    # The 3 x 7 x 7 conv pads its time axis in 5D (its time taps are slices of that), and
    # its height and width in 4D.
    assert len(pads) == 4, report["ops"]
    readers = {}
    for op in ops:
        for index in op["inputs"]:
            readers.setdefault(index, []).append(op["op_name"])
    folded = [pad for pad in pads if readers[pad["outputs"][0]] == ["CONV_2D"]]
    assert len(folded) == 3
    clips = rng.integers(0, 256, size=(2,) + CLIP).astype("uint8")
    np.testing.assert_allclose(export.load(report["path"])(clips), export.load(model)(clips),
                               atol=1e-4)
