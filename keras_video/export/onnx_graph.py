"""The ONNX graph of an export: the model traced in its native 3D form, converted by tf2onnx,
then repaired and cleaned so that onnxruntime spends its time in the convs.

In the layers' default form every 3D conv and pool is a 2D op over frames, which reaches ONNX
wrapped in Reshape / Transpose / Cast nodes (and Slice / Concat / Compress for the pools'
mirrored padding). In the native 3D form (`keras_video.layers.forms`) each layer is one Conv,
MaxPool or AveragePool, and tf2onnx's transpose optimizer leaves a single layout Transpose at
the input. These passes then finish the graph:
- `set_conv_groups`: tf2onnx 1.17 reads the channel count of 2D layouts only, so the grouped 3D
  conv of a `DepthwiseConv3D` arrives with `group=1`;
- `drop_identity_reshapes`: where a layout Transpose meets a tensor of spatial size 1, tf2onnx
  writes a Reshape to the shape the tensor already has;
- `fold_pads`: padding TensorFlow's convs and pools cannot express ("symmetric", as PyTorch's)
  is an explicit Pad in front of them; ONNX Conv and MaxPool take it as their own `pads`;
- `hoist_transposes`: the input's layout Transpose comes after the preprocessing's per-channel
  multiply-add, which onnxruntime broadcasts slowly over a last axis of 3; moved above them,
  the two run over whole channel planes;
- `fold_input_scale`: the preprocessing's per-channel scale then moves into the first conv's
  kernel, leaving one Add (a pass over the whole clip fewer);
- `temporal_convs_as_2d`: onnxruntime runs a 3D Conv as im2col and a matrix multiply, which for
  a k-tap temporal (k x 1 x 1) kernel first copies its input k times; viewed as (N, C, T, H*W)
  (a Reshape: no data moves) the same conv is a 2D Conv with a (k, 1) kernel, which runs in
  onnxruntime's blocked (NCHWc) direct kernels at the machine's matmul rate;
- `clip_convs_as_2d`: the same im2col makes a stem conv that reads the clip with kt time taps
  (CSN's and R3D's 3 x 7 x 7, I3D's 7 x 7 x 7) copy it kt * kh * kw times; written as one 2D
  conv over frames whose channels stack the kt shifted frames (as the layers' 2D form does),
  with the ReLU and a frame max pool after it also in 2D, it runs in the blocked kernels too
  and the layout Transpose back to (N, C, T, H, W) moves the pooled tensor (ir-CSN-50's stem
  and pool: 72 -> 45 ms). The input's layout Transpose writes the frames-first order itself,
  so that the preprocessing still runs over channel planes, and the view back declares the
  clip's batch, which its Reshape's -1 would leave unknown to every later tensor.
The result is the graph one would write by hand: torchvision's S3D exports to the same Conv /
Relu / MaxPool / Concat sequence, with the stem and the temporal convs in their 2D views.
"""
import collections
import math

import numpy as np
import onnx
from onnx import helper, numpy_helper

from keras_video.layers import forms

# The pad value each consumer's own padding stands for: zeros for Conv; MaxPool ignores its
# padded positions, which is padding with -inf.
PAD_VALUES = {"Conv": 0.0, "MaxPool": -math.inf}


def convert(function, spec, opset):
    """`function` (a `tf.function` of one video argument) as an ONNX `ModelProto`: traced in
    the layers' native 3D form, converted by tf2onnx at `opset`, then repaired and cleaned by
    the passes below."""
    import tf2onnx
    with forms.native_3d():
        proto, _ = tf2onnx.convert.from_function(function, input_signature=[spec], opset=opset)
    shapes = inferred_shapes(proto)
    set_conv_groups(proto.graph, shapes)
    drop_identity_reshapes(proto.graph, shapes)
    fold_pads(proto.graph)
    hoist_transposes(proto.graph)
    fold_input_scale(proto.graph)
    temporal_convs_as_2d(proto.graph, inferred_shapes(proto))
    clip_convs_as_2d(proto.graph, inferred_shapes(proto))
    return proto


def inferred_shapes(proto):
    """Tensor name -> dims (an int where static, else None) from ONNX shape inference."""
    graph = onnx.shape_inference.infer_shapes(proto).graph
    return {info.name: [d.dim_value if d.HasField("dim_value") else None
                        for d in info.type.tensor_type.shape.dim]
            for info in list(graph.input) + list(graph.value_info) + list(graph.output)
            if info.type.tensor_type.HasField("shape")}


def set_conv_groups(graph, shapes):
    """Sets each Conv's `group` to its input channels over its kernel's input channels (where
    both are known), as the TensorFlow op it came from implied. Returns how many it changed."""
    kernels = {tensor.name: tuple(tensor.dims) for tensor in graph.initializer}
    changed = 0
    for node in graph.node:
        if node.op_type != "Conv" or node.input[1] not in kernels:
            continue
        channels = (shapes.get(node.input[0]) or [None, None])[1]
        per_group = kernels[node.input[1]][1]
        if channels is None or channels % per_group:
            continue
        groups = channels // per_group
        group = _attribute(node, "group")
        if (group.i if group is not None else 1) != groups:
            if group is not None:
                node.attribute.remove(group)
            node.attribute.append(helper.make_attribute("group", groups))
            changed += 1
    return changed


def drop_identity_reshapes(graph, shapes):
    """Removes each Reshape to the shape its input already has (tf2onnx writes one in place of
    a layout Transpose on a tensor whose spatial sizes are all 1). Returns how many."""
    constants = {tensor.name: tensor for tensor in graph.initializer}
    outputs = {output.name for output in graph.output}
    dropped = []
    for node in graph.node:
        allowzero = _attribute(node, "allowzero")
        if node.op_type != "Reshape" or node.input[1] not in constants or \
                node.output[0] in outputs or (allowzero is not None and allowzero.i):
            continue
        before = shapes.get(node.input[0])
        target = [int(d) for d in numpy_helper.to_array(constants[node.input[1]])]
        if before is None or len(before) != len(target) or None in before[1:] or \
                before[1:] != target[1:] or target[0] not in (-1, 0, before[0]):
            continue
        for reader in graph.node:
            for i, name in enumerate(reader.input):
                if name == node.output[0]:
                    reader.input[i] = node.input[0]
        dropped.append(node)
    for node in dropped:
        graph.node.remove(node)
    _drop_unread_initializers(graph, {node.input[1] for node in dropped})
    return len(dropped)


def fold_pads(graph):
    """Removes each constant-mode `Pad` whose only reader is a Conv (padding zeros) or a
    single-output MaxPool (padding -inf), directly or through one Transpose, by adding its
    spatial pads to that node's `pads`. Pads of other values, modes or axes, and pads read by
    anything else, stay. Edits `graph` (a `GraphProto`) in place; returns how many it folded."""
    constants = {tensor.name: tensor for tensor in graph.initializer}
    readers, outputs = _readers(graph), {output.name for output in graph.output}

    def only_reader(name):
        nodes = readers.get(name, [])
        return nodes[0] if len(nodes) == 1 and name not in outputs else None

    folded = []
    for pad in [node for node in graph.node if node.op_type == "Pad"]:
        begin_end = _constant_pads(pad, constants)
        if begin_end is None:
            continue
        value, (begin, end) = begin_end
        target, transpose = only_reader(pad.output[0]), None
        if target is not None and target.op_type == "Transpose":
            transpose, target = target, only_reader(target.output[0])
            perm = list(helper.get_attribute_value(_attribute(transpose, "perm")))
            begin, end = [begin[i] for i in perm], [end[i] for i in perm]
        if target is None or not _takes_pads(target, value) or any(begin[:2]) or any(end[:2]):
            continue
        spatial = len(begin) - 2
        pads = _attribute(target, "pads")
        current = list(pads.ints) if pads is not None else [0] * (2 * spatial)
        merged = [a + b for a, b in zip(current, begin[2:] + end[2:])]
        _set_pads(target, merged)
        reader = transpose if transpose is not None else target
        reader.input[0] = pad.input[0]
        if transpose is not None:  # its output is now the unpadded tensor: drop the stale shape
            _drop_value_info(graph, transpose.output[0])
        folded.append(pad)
    for pad in folded:
        graph.node.remove(pad)
    _drop_unread_initializers(graph, {name for pad in folded for name in pad.input[1:]})
    return len(folded)


ELEMENTWISE_WITH_CONSTANT = ("Mul", "Add", "Sub", "Div")


def hoist_transposes(graph):
    """Moves each Transpose above the elementwise ops with a constant second operand that
    feed it alone (`T(x * c)` becomes `T(x) * T(c)`, the constant broadcast to full rank
    and permuted), repeatedly. Returns how many moves it made."""
    constants = {tensor.name: tensor for tensor in graph.initializer}
    outputs = {output.name for output in graph.output}
    moves = 0
    while True:
        producers = {name: node for node in graph.node for name in node.output}
        reads = collections.Counter(name for node in graph.node for name in node.input)
        move = None
        for transpose in (node for node in graph.node if node.op_type == "Transpose"):
            op = producers.get(transpose.input[0])
            if op is None or op.op_type not in ELEMENTWISE_WITH_CONSTANT or \
                    op.input[1] not in constants or reads[op.output[0]] != 1 or \
                    op.output[0] in outputs:
                continue
            perm = list(helper.get_attribute_value(_attribute(transpose, "perm")))
            value = numpy_helper.to_array(constants[op.input[1]])
            if value.ndim <= len(perm):
                move = transpose, op, perm, value
                break
        if move is None:
            return moves
        transpose, op, perm, value = move
        name = f"{op.input[1]}_{'_'.join(map(str, perm))}"
        if name not in constants:
            constants[name] = numpy_helper.from_array(_permuted(value, perm), name)
            graph.initializer.append(constants[name])
        data, permuted, result, old = op.input[0], op.output[0], transpose.output[0], op.input[1]
        transpose.input[0], transpose.output[0] = data, permuted
        op.input[0], op.input[1], op.output[0] = permuted, name, result
        _drop_value_info(graph, permuted)
        nodes = list(graph.node)  # keep the graph topologically sorted: transpose first
        nodes.remove(transpose)
        nodes.insert(nodes.index(op), transpose)
        del graph.node[:]
        graph.node.extend(nodes)
        _drop_unread_initializers(graph, {old})
        moves += 1


def fold_input_scale(graph):
    """Folds each per-channel Mul by a constant (`x * s`, `s` of shape (1, C, 1, ...)) that
    feeds only an Add of a per-channel constant (`+ b`) which ungrouped Convs alone read into
    those Convs' kernels: `x * s + b` becomes `x + b / s`, and each kernel's input channel c is
    multiplied by s[c]. The function is the same (up to rounding) because a Conv pads with
    zeros, which the scale leaves zeros. That is the preprocessing in front of the stem conv:
    the Mul was a pass over the whole clip. Returns how many it folded."""
    constants = {tensor.name: tensor for tensor in graph.initializer}
    readers, outputs = _readers(graph), {output.name for output in graph.output}

    def per_channel(name):
        """The constant's value where it varies along axis 1 alone (or nowhere), else None."""
        if name not in constants:
            return None
        value = numpy_helper.to_array(constants[name])
        if value.ndim < 2 or any(d != 1 for i, d in enumerate(value.shape) if i != 1):
            return None
        return value

    folded = 0
    for mul in [node for node in graph.node if node.op_type == "Mul"]:
        scale, mul_readers = per_channel(mul.input[1]), readers.get(mul.output[0], [])
        if (scale is None or not np.all(np.isfinite(scale)) or np.any(scale == 0)
                or len(mul_readers) != 1 or mul.output[0] in outputs
                or mul_readers[0].op_type != "Add" or mul_readers[0].input[0] != mul.output[0]):
            continue
        add = mul_readers[0]
        offset = per_channel(add.input[1])
        convs = readers.get(add.output[0], [])
        if (offset is None or offset.ndim != scale.ndim
                or offset.shape[1] not in (1, scale.shape[1]) or not convs
                or add.output[0] in outputs
                or any(conv.op_type != "Conv" or list(conv.input).count(add.output[0]) != 1
                       or conv.input[0] != add.output[0]
                       or conv.input[1] not in constants or len(readers[conv.input[1]]) != 1
                       or _attributes(conv).get("group", 1) != 1
                       or scale.shape[1] not in (1, constants[conv.input[1]].dims[1])
                       for conv in convs)):
            continue
        for conv in convs:
            kernel = constants[conv.input[1]]
            weights = numpy_helper.to_array(kernel)
            channel_scale = scale.reshape((1, -1) + (1,) * (weights.ndim - 2))
            kernel.CopyFrom(numpy_helper.from_array(
                (weights * channel_scale).astype(weights.dtype), kernel.name))
        shifted = numpy_helper.from_array((offset / scale).astype(offset.dtype),
                                          f"{add.input[1]}_over_scale")
        graph.initializer.append(shifted)
        old = (mul.input[1], add.input[1])
        add.input[0], add.input[1] = mul.input[0], shifted.name
        graph.node.remove(mul)
        _drop_value_info(graph, mul.output[0])
        _drop_unread_initializers(graph, set(old))
        folded += 1
    return folded


def temporal_convs_as_2d(graph, shapes):
    """Rewrites each ungrouped Conv with a (k, 1, 1) kernel, k > 1, stride 1 and no padding
    in space, whose input's height and width are static, as Reshape to (N, C, T, H*W), a 2D
    Conv with a (k, 1) kernel and Reshape back. Where a Relu alone reads the conv, the Reshape
    back follows the Relu, so that onnxruntime still fuses the two. Returns how many."""
    kernels = {tensor.name: tensor for tensor in graph.initializer}
    readers = _reads(graph)
    nodes, rewritten = list(graph.node), 0
    for conv in [node for node in nodes if node.op_type == "Conv"]:
        kernel = kernels.get(conv.input[1])
        size = (shapes.get(conv.input[0]) or [None] * 5)[3:]
        attributes = _attributes(conv)
        strides = list(attributes.get("strides", [1, 1, 1]))
        pads = list(attributes.get("pads", [0] * 6))
        if (kernel is None or len(kernel.dims) != 5 or list(kernel.dims[3:]) != [1, 1]
                or kernel.dims[2] < 2 or readers[kernel.name] != 1
                or attributes.get("group", 1) != 1 or attributes.get("auto_pad", b"NOTSET")
                not in (b"NOTSET", b"VALID") or strides[1:] != [1, 1]
                or any(pads[1:3] + pads[4:]) or len(size) != 2 or None in size):
            continue
        del kernel.dims[4]  # (O, I, k, 1, 1) -> (O, I, k, 1): the same values
        name = conv.output[0]
        view = f"{name}/as_2d_input"
        to_2d, to_3d = f"{name}/shape_2d", f"{name}/shape_3d"
        graph.initializer.extend([
            numpy_helper.from_array(np.array([0, 0, 0, size[0] * size[1]], np.int64), to_2d),
            numpy_helper.from_array(np.array([0, 0, 0, *size], np.int64), to_3d)])
        nodes.insert(nodes.index(conv), helper.make_node("Reshape", [conv.input[0], to_2d],
                                                         [view], name=view))
        conv.input[0] = view
        dilation = list(attributes.get("dilations", [1, 1, 1]))[0]
        _set_2d_window(conv, [kernel.dims[2], 1], [strides[0], 1], [pads[0], 0, pads[3], 0],
                       dilations=[dilation, 1])
        # The 4D tensor ends at the conv, or at a Relu that alone reads it (fused with it).
        last, follower = conv, _only_reader(nodes, readers, name)
        if follower is not None and follower.op_type == "Relu":
            last = follower
            conv.output[0] = last.input[0] = f"{name}/as_2d"
            _drop_value_info(graph, name)  # the 5D conv output is gone
        result = last.output[0]
        last.output[0] = f"{result}/as_2d_output"
        nodes.insert(nodes.index(last) + 1, helper.make_node(
            "Reshape", [last.output[0], to_3d], [result], name=f"{result}/as_3d"))
        rewritten += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return rewritten


def clip_convs_as_2d(graph, shapes):
    """Rewrites each ungrouped, undilated 3D Conv with two or more taps in time that reads the
    clip itself (the graph's input, through its layout Transpose and the preprocessing's
    elementwise ops) as one 2D Conv over frames: to (N, T, C, H, W) (by the layout Transpose
    itself where it can), the kt time-shifted copies stacked as channels (Pad, strided Slices,
    Concat), Reshape to (N * T', kt * C, H, W), the 2D Conv with the kernel's taps as input
    channels, a Relu and a (1, kh, kw) MaxPool that alone follow it also in 2D, then Reshape
    and Transpose back.
    Returns how many."""
    kernels = {tensor.name: tensor for tensor in graph.initializer}
    readers = _reads(graph)
    nodes, rewritten = list(graph.node), 0
    producers = {name: node for node in nodes for name in node.output}
    inputs = {graph_input.name for graph_input in graph.input}
    for conv in [node for node in nodes if node.op_type == "Conv"]:
        kernel = kernels.get(conv.input[1])
        shape = shapes.get(conv.input[0]) or []
        attributes = _attributes(conv)
        clip = _clip_read_by(conv, producers, kernels, inputs)
        if (kernel is None or len(kernel.dims) != 5 or kernel.dims[2] < 2 or len(shape) != 5
                or None in shape[1:] or readers[kernel.name] != 1
                or attributes.get("group", 1) != 1
                or any(d != 1 for d in attributes.get("dilations", [1, 1, 1]))
                or attributes.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID")
                or clip is None):
            continue
        chain = [conv]  # the conv, and the Relu and frame pool that run in 2D with it
        follower = _only_reader(nodes, readers, conv.output[0])
        if follower is not None and follower.op_type == "Relu":
            chain.append(follower)
            follower = _only_reader(nodes, readers, follower.output[0])
            if follower is not None and _is_frame_pool(follower):
                chain.append(follower)
        result = chain[-1].output[0]
        out_shape = shapes.get(result) or []
        if len(out_shape) != 5 or None in out_shape[1:]:
            continue
        channels, _, height, width = shape[1:]
        kt, kh, kw = kernel.dims[2:]
        st, sh, sw = attributes.get("strides", [1, 1, 1])
        t0, h0, w0, t1, h1, w1 = attributes.get("pads", [0] * 6)
        out_frames = out_shape[2]
        name, added = conv.output[0], []

        def constant(suffix, values):
            tensor = numpy_helper.from_array(np.asarray(values, np.int64), f"{name}/{suffix}")
            graph.initializer.append(tensor)
            return tensor.name

        def add(op, inputs, suffix, **attrs):
            added.append(helper.make_node(op, inputs, [f"{name}/{suffix}"],
                                          name=f"{name}/{suffix}", **attrs))
            return added[-1].output[0]

        if _frames_first_at_the_layout(graph, conv, producers, readers, kernels):
            x = conv.input[0]
        else:
            x = add("Transpose", [conv.input[0]], "frames_first", perm=[0, 2, 1, 3, 4])
        if t0 or t1:
            x = add("Pad", [x, constant("time_pads", [0, t0, 0, 0, 0, 0, t1, 0, 0, 0])],
                    "time_padded")
        axis, step = constant("time_axis", [1]), constant("time_step", [st])
        taps = [add("Slice", [x, constant(f"start_{j}", [j]),
                              constant(f"end_{j}", [j + st * (out_frames - 1) + 1]), axis, step],
                    f"tap_{j}") for j in range(kt)]
        x = add("Concat", taps, "taps", axis=2)
        x = add("Reshape", [x, constant("shape_2d", [-1, kt * channels, height, width])],
                "as_2d_input")
        position = nodes.index(conv)
        nodes[position:position] = added
        # (O, I, kt, kh, kw) -> (O, kt * I, kh, kw): input channel tap * I + i, as stacked.
        weights = numpy_helper.to_array(kernel)
        stacked = weights.transpose(0, 2, 1, 3, 4).reshape(weights.shape[0], -1, kh, kw)
        kernel.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(stacked), kernel.name))
        conv.input[0] = x
        _set_2d_window(conv, [kh, kw], [sh, sw], [h0, w0, h1, w1])
        if len(chain) == 3:
            pool = _attributes(chain[2])
            pads = list(pool.get("pads", [0] * 6))
            _set_2d_window(chain[2], list(pool["kernel_shape"])[1:],
                           list(pool.get("strides", [1, 1, 1]))[1:], pads[1:3] + pads[4:])
        for node in chain:
            for output in node.output:
                _drop_value_info(graph, output)
        # The chain runs on 4D tensors; its 5D result comes out of the Transpose back.
        chain[-1].output[0] = f"{result}/as_2d_output"
        out_channels, out_height, out_width = out_shape[1], out_shape[3], out_shape[4]
        back = [helper.make_node("Reshape", [chain[-1].output[0], constant(
                    "shape_3d", [-1, out_frames, out_channels, out_height, out_width])],
                    [f"{name}/frames_first_output"], name=f"{name}/as_3d"),
                helper.make_node("Transpose", [f"{name}/frames_first_output"], [result],
                                 name=f"{name}/channels_first", perm=[0, 2, 1, 3, 4])]
        position = nodes.index(chain[-1]) + 1
        nodes[position:position] = back
        # Reshape's -1 leaves shape inference an unknown batch from here on; declared as the
        # clip's, onnxruntime can plan every later tensor's memory before a run (allocated
        # during it, ir-CSN-50's residual ReLUs took twice as long).
        graph.value_info.append(helper.make_tensor_value_info(
            f"{name}/frames_first_output", kernel.data_type,
            [_batch_dim(graph, clip), out_frames, out_channels, out_height, out_width]))
        rewritten += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return rewritten


def _set_2d_window(node, kernel_shape, strides, pads, dilations=None):
    """Replaces a Conv's or MaxPool's 3D window attributes (an `auto_pad` of NOTSET or VALID
    among them, which the explicit pads express) with 2D ones; `group` and the rest stay."""
    for attribute in [a for a in node.attribute
                      if a.name in ("kernel_shape", "strides", "pads", "dilations", "auto_pad")]:
        node.attribute.remove(attribute)
    node.attribute.extend([helper.make_attribute("kernel_shape", kernel_shape),
                           helper.make_attribute("strides", strides),
                           helper.make_attribute("pads", pads)])
    if dilations is not None:
        node.attribute.append(helper.make_attribute("dilations", dilations))


def _clip_read_by(node, producers, constants, inputs):
    """The graph input that is `node`'s first input, or that it reads through Transposes and
    elementwise ops with a constant operand (the export's layout change and preprocessing);
    None where it reads anything else."""
    name = node.input[0]
    while name not in inputs:
        producer = producers.get(name)
        if producer is None or not (producer.op_type == "Transpose" or (
                producer.op_type in ELEMENTWISE_WITH_CONSTANT and producer.input[1] in constants)):
            return None
        name = producer.input[0]
    return name


def _batch_dim(graph, name):
    """Axis 0 of graph input `name`: its size, or its symbolic name."""
    dim = next(i for i in graph.input if i.name == name).type.tensor_type.shape.dim[0]
    return dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None)


def name_input_dims(proto, names):
    """Names the first input's open axes (batch, frames, height, width: `names` in order) and
    renames them wherever the graph's shapes use their old symbolic names; each output's open
    first axis, the batch of a classifier, takes the input's batch name."""
    renamed = {}
    for axis, name in zip(proto.graph.input[0].type.tensor_type.shape.dim, names):
        if not axis.HasField("dim_value"):
            if axis.dim_param:
                renamed[axis.dim_param] = name
            axis.dim_param = name
    for info in list(proto.graph.value_info) + list(proto.graph.output):
        for axis in info.type.tensor_type.shape.dim:
            if axis.dim_param in renamed:
                axis.dim_param = renamed[axis.dim_param]
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0]
    for output in proto.graph.output:
        dims = output.type.tensor_type.shape.dim
        if dims and batch.dim_param and not dims[0].HasField("dim_value"):
            dims[0].dim_param = batch.dim_param


def _frames_first_at_the_layout(graph, conv, producers, readers, constants):
    """Where `conv` reads the clip through the layout Transpose and elementwise ops that
    alone read each other, makes that Transpose write (N, T, C, H, W) and permutes the ops'
    constants to match; returns whether it did. A Transpose to frames after the ops instead
    would let onnxruntime merge the two Transposes and run the ops ahead of them, broadcast
    over a last axis of 3 (ir-CSN-50's preprocessing Add: 5.6 ms against 0.4 ms)."""
    chain, name = [], conv.input[0]
    while name in producers and producers[name].op_type != "Transpose":
        chain.append(producers[name])
        name = producers[name].input[0]
    transpose = producers.get(name)
    if transpose is None or any(readers[node.output[0]] != 1 for node in [transpose] + chain):
        return False
    perm = list(helper.get_attribute_value(_attribute(transpose, "perm")))
    swap = [0, 2, 1, 3, 4]
    for node in chain:
        value = numpy_helper.to_array(constants[node.input[1]])
        permuted = numpy_helper.from_array(_permuted(value, swap), f"{node.input[1]}_frames_first")
        graph.initializer.append(permuted)
        node.input[1], old = permuted.name, node.input[1]
        _drop_unread_initializers(graph, {old})
        _drop_value_info(graph, node.output[0])
    transpose.ClearField("attribute")
    transpose.attribute.append(helper.make_attribute("perm", [perm[i] for i in swap]))
    _drop_value_info(graph, transpose.output[0])
    return True


def _permuted(value, perm):
    """A constant operand broadcast to the rank of `perm` and transposed by it."""
    return np.ascontiguousarray(
        value.reshape((1,) * (len(perm) - value.ndim) + value.shape).transpose(perm))


def _only_reader(nodes, readers, name):
    found = [n for n in nodes if name in n.input]
    return found[0] if len(found) == 1 and readers[name] == 1 else None


def _is_frame_pool(node):
    """A MaxPool that pools within frames only: a (1, kh, kw) kernel, stride 1 in time."""
    if node.op_type != "MaxPool" or len([o for o in node.output if o]) != 1:
        return False
    attributes = _attributes(node)
    pads = list(attributes.get("pads", [0] * 6))
    return (list(attributes["kernel_shape"])[0] == 1
            and list(attributes.get("strides", [1, 1, 1]))[0] == 1
            and pads[0] == pads[3] == 0 and not attributes.get("ceil_mode", 0)
            and all(d == 1 for d in attributes.get("dilations", [1, 1, 1]))
            and attributes.get("auto_pad", b"NOTSET") in (b"NOTSET", b"VALID")
            and attributes.get("storage_order", 0) == 0)


def _constant_pads(pad, constants):
    """`(value, (begin, end))` of a constant-mode Pad with constant pads, else None."""
    mode = _attribute(pad, "mode")
    if mode is not None and helper.get_attribute_value(mode) != b"constant":
        return None
    inputs = list(pad.input) + [""] * (4 - len(pad.input))
    if inputs[1] not in constants or inputs[3]:  # dynamic pads, or an `axes` input
        return None
    if inputs[2] and inputs[2] not in constants:
        return None
    value = float(numpy_helper.to_array(constants[inputs[2]])) if inputs[2] else 0.0
    pads = [int(p) for p in numpy_helper.to_array(constants[inputs[1]])]
    if any(p < 0 for p in pads):  # negative pads crop
        return None
    rank = len(pads) // 2
    return value, (pads[:rank], pads[rank:])


def _takes_pads(node, value):
    if PAD_VALUES.get(node.op_type) != value:
        return False
    if node.op_type == "MaxPool" and len([o for o in node.output if o]) > 1:
        return False  # its indices would count positions in the padded tensor
    auto_pad = _attribute(node, "auto_pad")
    return auto_pad is None or helper.get_attribute_value(auto_pad) in (b"NOTSET", b"VALID")


def _attribute(node, name):
    return next((a for a in node.attribute if a.name == name), None)


def _attributes(node):
    """A node's attributes as a dict of their values."""
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _readers(graph):
    """Tensor name -> the nodes that read it, in graph order."""
    readers = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    return readers


def _reads(graph):
    """How many times each tensor is read, a graph output counting as one read."""
    reads = collections.Counter(name for node in graph.node for name in node.input)
    reads.update(output.name for output in graph.output)
    return reads


def _set_pads(node, pads):
    """Explicit `pads` (replacing an `auto_pad` of NOTSET or VALID, which they express)."""
    for attribute in [a for a in node.attribute if a.name in ("pads", "auto_pad")]:
        node.attribute.remove(attribute)
    node.attribute.append(helper.make_attribute("pads", pads))


def _drop_value_info(graph, name):
    for info in [v for v in graph.value_info if v.name == name]:
        graph.value_info.remove(info)


def _drop_unread_initializers(graph, names):
    read = {name for node in graph.node for name in node.input}
    read |= {output.name for output in graph.output}
    for tensor in [t for t in graph.initializer if t.name in names and t.name not in read]:
        graph.initializer.remove(tensor)


def op_counts(proto):
    """ONNX op type -> count in a `ModelProto`'s main graph."""
    return dict(collections.Counter(node.op_type for node in proto.graph.node))
