"""Layers and box arithmetic of the action detector, in `keras.ops` only, so that they run on
every Keras backend and export to SavedModel, ONNX and TFLite builtins alike.

Boxes are `(x1, y1, x2, y2)` in [0, 1], fractions of the frame's width and height: they do not
change when the frame is resized, and a box means the same on the input frame and on a feature
map of any stride.
"""
import keras
from keras import ops

# Faster R-CNN's delta weights (dx, dy, dw, dh): the deltas of a box head are about unit scale.
DELTA_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
# exp() of a size delta or log-size is clipped here: log(1000 / 16), Detectron2's bound.
_MAX_LOG_SCALE = 4.135


def box_area(boxes):
    return ops.maximum(boxes[..., 2] - boxes[..., 0], 0.0) * \
        ops.maximum(boxes[..., 3] - boxes[..., 1], 0.0)


def pairwise_iou(a, b):
    """IoU of every box of `a` `(..., N, 4)` with every box of `b` `(..., M, 4)`: `(..., N, M)`."""
    a, b = a[..., :, None, :], b[..., None, :, :]
    width = ops.maximum(ops.minimum(a[..., 2], b[..., 2]) - ops.maximum(a[..., 0], b[..., 0]), 0.0)
    height = ops.maximum(ops.minimum(a[..., 3], b[..., 3]) - ops.maximum(a[..., 1], b[..., 1]), 0.0)
    overlap = width * height
    union = box_area(a) + box_area(b) - overlap
    return overlap / ops.maximum(union, 1e-9)


def _centre_size(boxes):
    width, height = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * width, boxes[..., 1] + 0.5 * height, width, height


def encode_deltas(rois, targets):
    """Faster R-CNN box deltas that move `rois` onto `targets` (both `(..., 4)`)."""
    wx, wy, ww, wh = DELTA_WEIGHTS
    rx, ry, rw, rh = _centre_size(rois)
    tx, ty, tw, th = _centre_size(targets)
    rw, rh = ops.maximum(rw, 1e-6), ops.maximum(rh, 1e-6)
    return ops.stack([wx * (tx - rx) / rw, wy * (ty - ry) / rh,
                      ww * ops.log(ops.maximum(tw, 1e-6) / rw),
                      wh * ops.log(ops.maximum(th, 1e-6) / rh)], axis=-1)


def decode_deltas(rois, deltas):
    """The boxes `deltas` make of `rois` (inverse of `encode_deltas`), clipped to the frame."""
    wx, wy, ww, wh = DELTA_WEIGHTS
    rx, ry, rw, rh = _centre_size(rois)
    cx = rx + deltas[..., 0] / wx * rw
    cy = ry + deltas[..., 1] / wy * rh
    w = rw * ops.exp(ops.minimum(deltas[..., 2] / ww, _MAX_LOG_SCALE))
    h = rh * ops.exp(ops.minimum(deltas[..., 3] / wh, _MAX_LOG_SCALE))
    boxes = ops.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], axis=-1)
    return ops.clip(boxes, 0.0, 1.0)


def _bin_weights(start, length, size, output_size, sampling_ratio):
    """`(B, K, output_size, size)` for `start` and `length` `(B, K)`: row b is the mean of the
    bilinear weights that the `sampling_ratio` sample points of bin b put on each of the `size`
    feature positions.

    Positions follow torchvision's `roi_align` kernel: a sample outside [-1, size] contributes
    nothing; one in [-1, 0) or (size - 1, size] takes the edge value; others interpolate
    between their two neighbours (the triangle kernel `max(0, 1 - |p - i|)`)."""
    steps = (ops.arange(output_size * sampling_ratio, dtype="float32") + 0.5) / sampling_ratio
    points = start[..., None] + (length / output_size)[..., None] * steps  # (B, K, S * R)
    inside = ops.cast((points >= -1.0) & (points <= ops.cast(size, "float32")), "float32")
    points = ops.clip(points, 0.0, ops.cast(size, "float32") - 1.0)
    grid = ops.arange(size, dtype="float32")
    weights = ops.relu(1.0 - ops.abs(points[..., None] - grid)) * inside[..., None]
    batch, count = ops.shape(start)[0], ops.shape(start)[1]
    weights = ops.reshape(weights, (batch, count, output_size, sampling_ratio, size))
    return ops.mean(weights, axis=3)


@keras.saving.register_keras_serializable(package="keras_video")
class RoIAlign(keras.layers.Layer):
    """RoIAlign (He et al. 2017) of `boxes` `(B, K, 4)` (normalised `x1, y1, x2, y2`) on
    `features` `(B, H, W, C)`: `(B, K, output_size, output_size, C)`.

    Each output bin is the mean of `sampling_ratio` x `sampling_ratio` bilinear samples spread
    evenly inside it; with `aligned=True` a box's pixel coordinates are shifted by half a pixel
    (Detectron2's and torchvision's `aligned=True`). Bilinear interpolation is separable and so
    is the bin mean, so each box's output is `Y @ F @ X^T` with `Y` `(S, H)` and `X` `(S, W)`
    the bins' interpolation weights over rows and columns: two matrix products per box and no
    gather, crop or resize op, which is why the layer exports to TFLite builtins and ONNX as it
    is (`tf.image.crop_and_resize` is a Flex op in TFLite). The sampling ratio is fixed (no
    adaptive `ceil(roi / bin)` as torchvision's `sampling_ratio=-1`: that would make the
    graph's shape depend on the boxes). Cost per box: `S * H * W * C + S * S * W * C`
    multiply-adds, small next to the backbone for stride-16 maps.
    """

    def __init__(self, output_size=7, sampling_ratio=2, aligned=True, **kwargs):
        super().__init__(**kwargs)
        if int(output_size) < 1 or int(sampling_ratio) < 1:
            raise ValueError(f"output_size and sampling_ratio must be >= 1, got {output_size} "
                             f"and {sampling_ratio}")
        self.output_size, self.sampling_ratio = int(output_size), int(sampling_ratio)
        self.aligned = bool(aligned)

    def call(self, features, boxes):
        size, ratio = self.output_size, self.sampling_ratio
        shape = ops.shape(features)
        batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
        count = ops.shape(boxes)[1]
        boxes = ops.cast(boxes, "float32")
        offset = 0.5 if self.aligned else 0.0
        x1 = boxes[..., 0] * ops.cast(width, "float32") - offset
        y1 = boxes[..., 1] * ops.cast(height, "float32") - offset
        roi_w = (boxes[..., 2] - boxes[..., 0]) * ops.cast(width, "float32")
        roi_h = (boxes[..., 3] - boxes[..., 1]) * ops.cast(height, "float32")
        if not self.aligned:  # the legacy kernel makes every box at least one pixel
            roi_w, roi_h = ops.maximum(roi_w, 1.0), ops.maximum(roi_h, 1.0)
        rows = _bin_weights(y1, roi_h, height, size, ratio)     # (B, K, S, H)
        columns = _bin_weights(x1, roi_w, width, size, ratio)  # (B, K, S, W)
        values = ops.cast(features, "float32")
        # Rows first: (B, K * S, H) @ (B, H, W * C) -> (B, K, S, W, C).
        by_rows = ops.matmul(ops.reshape(rows, (batch, count * size, height)),
                             ops.reshape(values, (batch, height, width * channels)))
        by_rows = ops.reshape(by_rows, (batch * count, size, width, channels))
        # Then columns, one (S, W) @ (W, C) product per box and row bin.
        by_rows = ops.reshape(by_rows, (batch * count * size, width, channels))
        columns = ops.broadcast_to(ops.reshape(columns, (batch * count, 1, size, width)),
                                   (batch * count, size, size, width))
        out = ops.matmul(ops.reshape(columns, (batch * count * size, size, width)), by_rows)
        out = ops.reshape(out, (batch, count, size, size, channels))
        return ops.cast(out, self.compute_dtype)

    def compute_output_shape(self, features_shape, boxes_shape):
        return (features_shape[0], boxes_shape[1], self.output_size, self.output_size,
                features_shape[-1])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size,
                "sampling_ratio": self.sampling_ratio, "aligned": self.aligned}


@keras.saving.register_keras_serializable(package="keras_video")
class TemporalPooling(keras.layers.Layer):
    """`(B, T, H, W, C)` -> `(B, H, W, C)`: the mean over time ("mean"), or the time step that
    holds the clip's key frame ("key": step `T // 2`, the key frame being the clip's frame
    `frames // 2` and every temporal stride of the zoo's backbones a power of two)."""

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("mean", "key"):
            raise ValueError(f"mode must be 'mean' or 'key', got {mode!r}")
        self.mode = mode

    def call(self, x):
        if self.mode == "mean":
            return ops.mean(x, axis=1)
        return x[:, ops.shape(x)[1] // 2]

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="keras_video")
class CentreProposals(keras.layers.Layer):
    """Anchor-free actor proposals (CenterNet, Zhou et al. 2019) from the localisation head's
    maps: `heatmap` logits `(B, H, W, 1)`, `size` `(B, H, W, 2)` (log width and height in
    cells) and `offset` `(B, H, W, 2)` (the centre's offset from its cell's centre, in cells).

    Returns `boxes` `(B, K, 4)` (normalised `x1, y1, x2, y2`) and `scores` `(B, K)` of the `K`
    highest local maxima of the sigmoid heatmap. A cell is kept only where it equals the max of
    its 3 x 3 neighbourhood: CenterNet's peak extraction, which stands in for NMS and, unlike
    `tf.image.non_max_suppression`, is a max pool that every runtime has. Where the map has
    fewer than `K` cells, the missing proposals are empty boxes with score 0.
    """

    def __init__(self, max_boxes, **kwargs):
        super().__init__(**kwargs)
        if int(max_boxes) < 1:
            raise ValueError(f"max_boxes must be >= 1, got {max_boxes}")
        self.max_boxes = int(max_boxes)

    def call(self, heatmap, size, offset):
        heat = ops.sigmoid(ops.cast(heatmap, "float32"))
        peaks = ops.max_pool(heat, 3, strides=1, padding="same")
        heat = heat * ops.cast(heat >= peaks, "float32")
        shape = ops.shape(heat)
        batch, height, width = shape[0], shape[1], shape[2]
        cells = height * width
        flat = ops.reshape(heat, (batch, cells))
        # Pad to K cells so that top_k always has K candidates (zero-score empty boxes).
        pad = ops.maximum(self.max_boxes - cells, 0)
        flat = ops.pad(flat, ((0, 0), (0, pad)))
        scores, index = ops.top_k(flat, self.max_boxes)
        valid = ops.cast(index < cells, "float32")
        index = ops.minimum(index, cells - 1)
        row = ops.cast(index // width, "float32")
        column = ops.cast(index % width, "float32")
        picks = ops.one_hot(index, cells, dtype="float32")  # (B, K, H * W): a matmul, no gather
        size = ops.matmul(picks, ops.reshape(ops.cast(size, "float32"), (batch, cells, 2)))
        offset = ops.matmul(picks, ops.reshape(ops.cast(offset, "float32"), (batch, cells, 2)))
        w_cells, h_cells = ops.cast(width, "float32"), ops.cast(height, "float32")
        cx = (column + 0.5 + offset[..., 0]) / w_cells
        cy = (row + 0.5 + offset[..., 1]) / h_cells
        half_w = 0.5 * ops.exp(ops.minimum(size[..., 0], _MAX_LOG_SCALE)) / w_cells
        half_h = 0.5 * ops.exp(ops.minimum(size[..., 1], _MAX_LOG_SCALE)) / h_cells
        boxes = ops.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=-1)
        boxes = ops.clip(boxes, 0.0, 1.0) * valid[..., None]
        return boxes, scores * valid

    def compute_output_shape(self, heatmap_shape, size_shape, offset_shape):
        return (heatmap_shape[0], self.max_boxes, 4), (heatmap_shape[0], self.max_boxes)

    def get_config(self):
        return {**super().get_config(), "max_boxes": self.max_boxes}


def centre_targets(boxes, mask, height, width):
    """CenterNet's targets on an `height x width` map for `boxes` `(B, N, 4)` with `mask`
    `(B, N)`: the heatmap `(B, H, W)`, and per box its centre cell (flat index `(B, N)`), log
    size in cells `(B, N, 2)` and centre offset in cells `(B, N, 2)`.

    The heatmap is the max over boxes of a Gaussian around each centre cell (exactly 1 there),
    sigma `max(sqrt(w * h) / 6, 1 / 3)` cells: CenterNet's size-adaptive radius, with a floor
    that keeps one-cell objects a one-cell peak."""
    w_cells, h_cells = ops.cast(width, "float32"), ops.cast(height, "float32")
    cx, cy, bw, bh = _centre_size(ops.cast(boxes, "float32"))
    column = ops.clip(ops.floor(cx * w_cells), 0.0, w_cells - 1.0)
    row = ops.clip(ops.floor(cy * h_cells), 0.0, h_cells - 1.0)
    bw_cells = ops.maximum(bw * w_cells, 1e-3)
    bh_cells = ops.maximum(bh * h_cells, 1e-3)
    sigma = ops.maximum(ops.sqrt(bw_cells * bh_cells) / 6.0, 1.0 / 3.0)
    ys = ops.arange(height, dtype="float32")[None, None, :, None]
    xs = ops.arange(width, dtype="float32")[None, None, None, :]
    distance = (ys - row[..., None, None]) ** 2 + (xs - column[..., None, None]) ** 2
    gaussian = ops.exp(-distance / (2.0 * sigma[..., None, None] ** 2))
    gaussian = gaussian * ops.cast(mask, "float32")[..., None, None]
    heatmap = ops.max(gaussian, axis=1)
    index = ops.cast(row * w_cells + column, "int32")
    log_size = ops.stack([ops.log(bw_cells), ops.log(bh_cells)], axis=-1)
    offset = ops.stack([cx * w_cells - column - 0.5, cy * h_cells - row - 0.5], axis=-1)
    return heatmap, index, log_size, offset


def centre_focal_loss(logits, target, alpha=2.0, beta=4.0):
    """CenterNet's penalty-reduced focal loss per example `(B,)`, summed over the map and
    divided by the number of peaks (at least 1, so an empty frame still learns its background):
    `logits` and `target` `(B, H, W)`."""
    logits, target = ops.cast(logits, "float32"), ops.cast(target, "float32")
    positive = ops.cast(target >= 1.0 - 1e-4, "float32")
    log_p = ops.log_sigmoid(logits)
    log_not_p = ops.log_sigmoid(-logits)
    p = ops.sigmoid(logits)
    loss = -positive * (1.0 - p) ** alpha * log_p \
        - (1.0 - positive) * (1.0 - target) ** beta * p ** alpha * log_not_p
    peaks = ops.maximum(ops.sum(positive, axis=(1, 2)), 1.0)
    return ops.sum(loss, axis=(1, 2)) / peaks
