"""The action detector: a zoo backbone's 5D feature map, pooled over time, RoIAlign on the key
frame's boxes and a classifier with box refinement; actor boxes come from an anchor-free
localisation head on the same features, or from the caller (external proposals).

The S3D paper's JHMDB / UCF101-24 detector (Xie et al. 2018, section 5.2) on S3D-G's Mixed_4f,
as a `keras.Model` that trains with `fit` and exports. Design:

- Temporal pooling: the mean over the feature map's time axis before RoIAlign (MMAction2's
  SlowFast / AVA heads do the same). RoIAlign is linear in the features and the key frame's box
  is the same at every time step, so this equals RoIAlign at each time step then the mean,
  exactly, at 1 / T' of the cost. (A tube of per-frame boxes, or a max over time, would need
  the per-step version.)
- Actor localisation ("learned" proposals): CenterNet's heads (a centre heatmap, log box size
  and centre offset) on the feature map's key-frame time step, decoded by 3 x 3 peak
  extraction and top-K, no anchors and no NMS op, so that every runtime runs it.
- Head: RoIAlign `roi_size` x `roi_size` on the pooled map, spatial max pool, dropout, one
  classifier (softmax: one action per actor, JHMDB / UCF101-24; sigmoid: multi-label, AVA) and
  class-agnostic box deltas (Faster R-CNN parametrisation) that refine the RoI.
- Training (`compute_loss`): the focal heatmap loss and L1 size / offset losses at the
  ground-truth centres; the head is trained on the ground-truth boxes (teacher forcing) and
  on the proposals that overlap a ground-truth box by IoU >= 0.5 (Faster R-CNN adds the ground
  truth to the proposals the same way), so that it learns both to classify clean boxes and to
  correct the proposals it will be given.

Inputs: a video `(B, T, H, W, 3)` (RGB in [0, 255] with the backbone's preprocessing), or
`{"video": ..., "boxes": (B, K, 4)}`: external proposals, normalised `x1, y1, x2, y2`, padded
with empty boxes. Outputs (`predict`, the exported signatures): `boxes` `(B, K, 4)` refined,
normalised to the frame; `scores` `(B, K)`, the actor score (external proposals: 1 for a box,
0 for padding); `probabilities` `(B, K, classes)`. A detection of class c scores
`scores * probabilities[..., c]`.
"""
import keras
from keras import ops

from keras_video import zoo
from keras_video.detection import layers

OUTPUTS = ("boxes", "scores", "probabilities")
PROPOSALS = ("learned", "external")
# Stride-16 feature maps of each family, as the S3D paper's detector (Mixed_4f) and the
# SlowFast / MMAction2 AVA detectors (the res4 stage, before the last downsampling).
_FEATURE_LAYER_PREFIXES = (("Mixed_4f", True), ("res4_", False))
# CenterNet's heatmap bias: sigmoid(-2.19) = 0.1, so that the focal loss starts stable.
_HEATMAP_PRIOR = -2.19
_DEFAULT_LOSS_WEIGHTS = dict(heatmap=1.0, size=1.0, offset=1.0, classification=1.0, box=1.0)
# A proposal takes a ground-truth box's label and box targets from this IoU on.
_FOREGROUND_IOU = 0.5


def default_feature_layer(backbone):
    """The stride-16 layer the detector reads by default: "Mixed_4f" for the Inception family,
    the last block of stage res4 for the ResNet3D family."""
    names = [layer.name for layer in backbone.layers]
    for prefix, exact in _FEATURE_LAYER_PREFIXES:
        found = [n for n in names if (n == prefix if exact else n.startswith(prefix))]
        if found:
            return found[-1]
    raise ValueError(f"{backbone.name} has no Mixed_4f or res4_* layer: pass feature_layer, one "
                     f"of its 5D layers")


def feature_extractor(backbone, feature_layer=None, input_shape=None, weights=None,
                      localization_layer=None, **kwargs):
    """A model from the video to the 5D feature map `(B, T', H', W', C)` of `feature_layer`
    (and, with `localization_layer`, a second output: that layer's map).

    `backbone` is a zoo registry name (built with `include_top=False`, `input_shape`,
    `weights` and the builder keywords `kwargs`, e.g. `width_multiplier`) or a Keras model."""
    if isinstance(backbone, str):
        net = zoo.get(backbone, include_top=False, weights=weights, input_shape=input_shape,
                      **kwargs)
    elif isinstance(backbone, keras.Model):
        if weights is not None or kwargs:
            raise ValueError("weights and builder keywords apply to a zoo name; a model passed "
                             "as backbone is used as it is")
        net = backbone
    else:
        raise TypeError(f"backbone must be a zoo model name or a keras.Model, got {backbone!r}")
    layer_name = feature_layer or default_feature_layer(net)
    names = [layer_name] + ([localization_layer] if localization_layer else [])
    outputs = []
    for name in names:
        try:
            output = net.get_layer(name).output
        except ValueError:
            raise ValueError(f"{net.name} has no layer {name!r}") from None
        if len(output.shape) != 5:
            raise ValueError(f"layer {name!r} gives shape {output.shape}; the detector needs a "
                             "5D (batch, time, height, width, channels) feature map")
        outputs.append(output)
    return keras.Model(net.inputs, outputs if len(outputs) > 1 else outputs[0],
                       name=f"{net.name}_{'_'.join(names)}")


@keras.saving.register_keras_serializable(package="keras_video")
class ActionDetector(keras.Model):
    """Spatio-temporal action detector; see the module docstring. Build it with
    `action_detector(...)`; `backbone` here is the feature extractor model."""

    # What `keras_video.presets` reads to save a detector as a preset directory: the class
    # count from the classifier, the clip (frames, size, value range) from the backbone.
    classifier_layer = "classifier"

    @property
    def video_network(self):
        return self.backbone

    def __init__(self, backbone, classes, multi_label=False, proposals="learned", max_boxes=8,
                 roi_size=7, sampling_ratio=2, dropout_rate=0.5, localization_units=None,
                 localization_upsampling=1, loss_weights=None, **kwargs):
        super().__init__(**kwargs)
        _check_arguments(classes, proposals, dropout_rate, localization_upsampling,
                         loss_weights)
        self.backbone = backbone
        self.classes, self.multi_label, self.proposals = classes, bool(multi_label), proposals
        self.max_boxes, self.roi_size = int(max_boxes), int(roi_size)
        self.sampling_ratio, self.dropout_rate = int(sampling_ratio), float(dropout_rate)
        self.localization_units = localization_units
        self.localization_upsampling = int(localization_upsampling)
        self.loss_weights = {**_DEFAULT_LOSS_WEIGHTS, **(loss_weights or {})}

        if len(backbone.outputs) not in (1, 2):
            raise ValueError(f"the backbone must give the RoI feature map and optionally the "
                             f"localisation map; it has {len(backbone.outputs)} outputs")
        if len(backbone.outputs) == 2 and proposals != "learned":
            raise ValueError("a localisation map is for learned proposals only")
        channels = backbone.outputs[-1].shape[-1]  # the localisation map's
        self.context = layers.TemporalPooling("mean", name="temporal_mean")
        self.roi_align = layers.RoIAlign(roi_size, sampling_ratio, name="roi_align")
        self.dropout = keras.layers.Dropout(dropout_rate, name="roi_dropout")
        self.classifier = keras.layers.Dense(classes, dtype="float32", name="classifier")
        # Small initial deltas: the refinement starts as the identity (Detectron2's std 0.001).
        self.box_head = keras.layers.Dense(
            4, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
            dtype="float32", name="box_deltas")
        if proposals == "learned":
            self.key_frame = layers.TemporalPooling("key", name="key_frame")
            self.upsample = keras.layers.UpSampling2D(
                self.localization_upsampling, interpolation="bilinear",
                name="localization_upsample") if self.localization_upsampling > 1 else None
            self.localization = keras.layers.Conv2D(
                localization_units or channels, 3, padding="same", activation="relu",
                name="localization")
            self.heatmap_head = keras.layers.Conv2D(
                1, 1, bias_initializer=keras.initializers.Constant(_HEATMAP_PRIOR),
                dtype="float32", name="centre_heatmap")
            self.size_head = keras.layers.Conv2D(2, 1, dtype="float32", name="box_size")
            self.offset_head = keras.layers.Conv2D(2, 1, dtype="float32", name="centre_offset")
            self.proposer = layers.CentreProposals(self.max_boxes, name="proposals")
        self._trackers = {key: keras.metrics.Mean(name=f"{key}_loss")
                          for key in self._loss_names()}

    def _loss_names(self):
        return ("heatmap", "size", "offset", "classification", "box") \
            if self.proposals == "learned" else ("classification", "box")

    # --- forward --------------------------------------------------------------------------
    def _unpack(self, inputs):
        if isinstance(inputs, dict):
            unknown = set(inputs) - {"video", "boxes"}
            if unknown or "video" not in inputs:
                raise ValueError(f"inputs are a video or a dict with 'video' and optionally "
                                 f"'boxes'; got keys {sorted(inputs)}")
            video, boxes = inputs["video"], inputs.get("boxes")
        else:
            video, boxes = inputs, None
        if boxes is None and self.proposals == "external":
            raise ValueError("this detector takes external proposals: call it with "
                             "{'video': clips, 'boxes': (batch, K, 4) normalised boxes}")
        return video, boxes

    def localize(self, features, training=None):
        """The localisation head's maps (heatmap logits, log size, offset) on the key frame."""
        x = self.key_frame(features)
        if self.upsample is not None:
            x = self.upsample(x)
        x = self.localization(x, training=training)
        return self.heatmap_head(x), self.size_head(x), self.offset_head(x)

    def classify(self, context, rois, training=None):
        """Class logits `(B, K, classes)` and box deltas `(B, K, 4)` of `rois` on the
        time-pooled feature map `context`."""
        x = ops.max(self.roi_align(context, rois), axis=(2, 3))
        x = self.dropout(x, training=training)
        return self.classifier(x), self.box_head(x)

    def call(self, inputs, training=None):
        video, rois = self._unpack(inputs)
        features = self.backbone(video, training=training)
        # Two outputs: the RoI map, then the (finer) localisation map.
        features, located = features if isinstance(features, (list, tuple)) else \
            (features, features)
        context = self.context(features)
        outputs = {}
        if rois is not None:  # external proposals: padding rows are empty boxes
            rois = ops.cast(rois, "float32")
            scores = ops.cast(layers.box_area(rois) > 0, "float32")
        if self.proposals == "learned":
            heatmap, size, offset = self.localize(located, training)
            proposals, objectness = self.proposer(heatmap, size, offset)
            outputs.update(heatmap=heatmap, box_size=size, box_offset=offset)
            if rois is None:
                rois, scores = ops.stop_gradient(proposals), objectness
        logits, deltas = self.classify(context, rois, training)
        activation = ops.sigmoid if self.multi_label else ops.softmax
        outputs.update(boxes=layers.decode_deltas(rois, deltas), scores=scores,
                       probabilities=activation(logits), class_logits=logits, box_deltas=deltas,
                       rois=rois, context=context)
        return outputs

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        outputs = self(x, training=False)
        return {key: outputs[key] for key in OUTPUTS}

    # --- training -------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The detector's loss from `y = {"boxes" (B, N, 4), "labels", "box_mask" (B, N)}`
        (labels: int `(B, N)` class indices, or `(B, N, classes)` multi-hot with
        `multi_label`), as `keras_video.detection.pipeline` yields it."""
        if sample_weight is not None:
            raise ValueError("the detector weighs boxes by y['box_mask'], not sample_weight")
        if not isinstance(y, dict) or not {"boxes", "labels", "box_mask"} <= set(y):
            raise ValueError("y must be a dict with 'boxes', 'labels' and 'box_mask' "
                             "(keras_video.detection.pipeline)")
        boxes = ops.cast(y["boxes"], "float32")
        mask = ops.cast(y["box_mask"], "float32")
        labels = y["labels"]
        weights = self.loss_weights
        terms = {}

        # The head on the ground-truth boxes.
        logits, deltas = self.classify(y_pred["context"], boxes, training)
        class_sum = ops.sum(self._class_loss(logits, labels) * mask)
        box_sum = ops.sum(_smooth_l1(deltas, ops.zeros_like(deltas)) * mask)
        # ... and on the RoIs of the forward pass (proposals, or the external boxes) that
        # overlap a ground-truth box.
        rois = y_pred["rois"]
        iou = layers.pairwise_iou(rois, boxes) * mask[:, None, :]
        matched = ops.cast(ops.max(iou, axis=-1) >= _FOREGROUND_IOU, "float32")
        pick = ops.one_hot(ops.argmax(iou, axis=-1), ops.shape(boxes)[1], dtype="float32")
        target_boxes = ops.matmul(pick, boxes)  # (B, K, N) @ (B, N, 4)
        target_labels = _pick_labels(pick, labels, self.multi_label)
        class_sum += ops.sum(self._class_loss(y_pred["class_logits"], target_labels) * matched)
        box_sum += ops.sum(_smooth_l1(y_pred["box_deltas"],
                                      layers.encode_deltas(rois, target_boxes)) * matched)
        count = ops.maximum(ops.sum(mask) + ops.sum(matched), 1.0)
        terms["classification"] = class_sum / count
        terms["box"] = box_sum / count

        if self.proposals == "learned":
            heatmap = y_pred["heatmap"]
            height, width = ops.shape(heatmap)[1], ops.shape(heatmap)[2]
            target, index, log_size, offset = layers.centre_targets(boxes, mask, height, width)
            terms["heatmap"] = ops.mean(layers.centre_focal_loss(heatmap[..., 0], target))
            pick = ops.one_hot(index, height * width, dtype="float32")  # (B, N, H * W)
            boxes_count = ops.maximum(ops.sum(mask), 1.0)
            for key, pred, truth in (("size", y_pred["box_size"], log_size),
                                     ("offset", y_pred["box_offset"], offset)):
                at_centre = ops.matmul(pick, ops.reshape(pred, (-1, height * width, 2)))
                error = ops.sum(ops.abs(at_centre - truth), axis=-1) * mask
                terms[key] = ops.sum(error) / boxes_count

        total = 0.0
        for key, value in terms.items():
            self._trackers[key].update_state(value)
            total = total + weights[key] * value
        if self.losses:  # kernel regularizers of the backbone
            total = total + ops.sum(self.losses)
        return total

    def _class_loss(self, logits, labels):
        """Per-box classification loss `(B, K)`."""
        if self.multi_label:
            labels = ops.cast(labels, "float32")
            return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True), axis=-1)
        labels = ops.maximum(ops.cast(labels, "int32"), 0)  # padding (-1) is masked out
        return ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)

    # --- Keras plumbing -------------------------------------------------------------------
    def build(self, input_shape):
        shape = input_shape["video"] if isinstance(input_shape, dict) else input_shape
        features = self.backbone.compute_output_shape(tuple(shape))
        features, located = (features[0], features[1]) if isinstance(features[0], (list, tuple)) \
            else (features, features)
        channels = features[-1]
        if self.proposals == "learned":
            grid = (located[0],) + tuple(located[2:])
            if self.upsample is not None:
                grid = self.upsample.compute_output_shape(grid)
            self.localization.build(grid)
            head = tuple(grid[:-1]) + (self.localization.filters,)
            for conv in (self.heatmap_head, self.size_head, self.offset_head):
                conv.build(head)
        self.classifier.build((None, None, channels))
        self.box_head.build((None, None, channels))
        self.built = True

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "classes": self.classes, "multi_label": self.multi_label,
            "proposals": self.proposals, "max_boxes": self.max_boxes,
            "roi_size": self.roi_size, "sampling_ratio": self.sampling_ratio,
            "dropout_rate": self.dropout_rate, "localization_units": self.localization_units,
            "localization_upsampling": self.localization_upsampling,
            "loss_weights": self.loss_weights,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


def _check_arguments(classes, proposals, dropout_rate, localization_upsampling, loss_weights):
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"classes must be a positive int, got {classes!r}")
    if proposals not in PROPOSALS:
        raise ValueError(f"proposals must be one of {PROPOSALS}, got {proposals!r}")
    if not 0 <= dropout_rate < 1:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")
    if int(localization_upsampling) < 1:
        raise ValueError(f"localization_upsampling must be >= 1, got {localization_upsampling}")
    unknown = set(loss_weights or {}) - set(_DEFAULT_LOSS_WEIGHTS)
    if unknown:
        raise ValueError(f"unknown loss_weights {sorted(unknown)}; the losses are "
                         f"{sorted(_DEFAULT_LOSS_WEIGHTS)}")


def _smooth_l1(prediction, target, beta=1.0 / 9.0):
    """Per-box smooth L1 summed over the 4 deltas `(B, K)` (Detectron2's box loss, beta 1/9)."""
    error = ops.abs(prediction - target)
    loss = ops.where(error < beta, 0.5 * error ** 2 / beta, error - 0.5 * beta)
    return ops.sum(loss, axis=-1)


def _pick_labels(pick, labels, multi_label):
    """The labels of the ground-truth boxes chosen by the one-hot `pick` `(B, K, N)`."""
    if multi_label:
        return ops.matmul(pick, ops.cast(labels, "float32"))
    values = ops.cast(ops.maximum(ops.cast(labels, "int32"), 0), "float32")
    return ops.cast(ops.round(ops.sum(pick * values[:, None, :], axis=-1)), "int32")


def action_detector(backbone="s3dg", *, classes, feature_layer=None, multi_label=False,
                    proposals="learned", max_boxes=8, input_shape=(16, 224, 224, 3),
                    roi_size=7, sampling_ratio=2, dropout_rate=0.5, localization_units=None,
                    localization_layer=None, localization_upsampling=1, loss_weights=None,
                    weights=None, name=None, **backbone_kwargs):
    """Builds an `ActionDetector` on a zoo backbone.

    - `backbone`: a zoo registry name ("s3dg", "i3d", "c2d", "r2plus1d_18", ...), built with
      `include_top=False`, `input_shape`, `weights` (the zoo's: None, a registered name such as
      "kinetics400", "imagenet", or a backbone weights file) and `backbone_kwargs` (builder
      keywords such as `width_multiplier`); or a Keras model taking the video.
    - `feature_layer`: the 5D layer the detector reads (default: "Mixed_4f" for the Inception
      family, the last res4 block for ResNet3D: stride 16).
    - `classes`, `multi_label` (sigmoid per class, AVA; else softmax, JHMDB / UCF101-24).
    - `proposals`: "learned" (the detector finds the actors; external boxes are still accepted)
      or "external" (boxes must be given; no localisation head).
    - `max_boxes`: proposals per clip, and the ground-truth boxes per clip the pipeline pads to.
    - `roi_size`, `sampling_ratio`: RoIAlign's output bins per side and samples per bin side.
    - `dropout_rate`: before the classifier.
    - Localisation head: `localization_layer` (another 5D layer of the backbone for it to read,
      e.g. the stride-8 "Mixed_3c" where actors are small in the frame; default: the
      `feature_layer`), `localization_units` (default: its channels) and
      `localization_upsampling` (bilinear, before the head's conv: finer centres on small
      maps).
    - `loss_weights` override the losses' weights (heatmap, size, offset, classification,
      box).
    Full detector weights load with `keras.saving.load_model` or `model.load_weights`.
    """
    # Checked before the backbone is built (seconds for the larger networks).
    _check_arguments(classes, proposals, dropout_rate, localization_upsampling, loss_weights)
    if localization_layer and proposals != "learned":
        raise ValueError("localization_layer is for learned proposals only")
    extractor = feature_extractor(backbone, feature_layer, input_shape, weights,
                                  localization_layer, **backbone_kwargs)
    name = name or f"{backbone if isinstance(backbone, str) else extractor.name}_action_detector"
    model = ActionDetector(extractor, classes, multi_label=multi_label, proposals=proposals,
                           max_boxes=max_boxes, roi_size=roi_size,
                           sampling_ratio=sampling_ratio, dropout_rate=dropout_rate,
                           localization_units=localization_units,
                           localization_upsampling=localization_upsampling,
                           loss_weights=loss_weights, name=name)
    video = extractor.inputs[0].shape
    model.build(video if proposals == "learned" else {"video": video, "boxes": (None, None, 4)})
    return model


def class_names_of(model, class_names=None):
    """`class_names` (else the detector's preset's, else "class_0", ...) checked against the
    detector's number of classes."""
    preset = getattr(model, "preset", None)
    if class_names is None and preset is not None and preset.classes == model.classes:
        class_names = preset.class_names
    if class_names is None:
        return [f"class_{i}" for i in range(model.classes)]
    class_names = [str(name) for name in class_names]
    if len(class_names) != model.classes:
        raise ValueError(f"{len(class_names)} class names for a detector of {model.classes} "
                         "classes")
    return class_names
