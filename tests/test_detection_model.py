"""The action detector: RoIAlign against a by-hand bilinear implementation, the proposal
decoder against its own training targets, box coding, the losses' teacher forcing and
matching, gradients to every weight, serialization, the frame-level baseline's blindness to
the synthetic orbits, and export parity (slow)."""
import json

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_video.detection import layers, model as model_lib, synthetic
from keras_video.detection.model import action_detector

from conftest import TINY
from torch_reference import run_torch

CLIP = (8, 32, 32, 3)


def roi_align_by_hand(features, boxes, size, ratio, aligned):
    """RoIAlign from its definition, one sample point at a time (Detectron2's kernel)."""
    batch, height, width, channels = features.shape
    out = np.zeros(boxes.shape[:2] + (size, size, channels))

    def sample(image, y, x):
        if y < -1 or y > height or x < -1 or x > width:
            return np.zeros(channels)
        y, x = max(y, 0.0), max(x, 0.0)
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        if y0 >= height - 1:
            y0 = y1 = height - 1
            y = float(y0)
        else:
            y1 = y0 + 1
        if x0 >= width - 1:
            x0 = x1 = width - 1
            x = float(x0)
        else:
            x1 = x0 + 1
        ly, lx = y - y0, x - x0
        return ((1 - ly) * (1 - lx) * image[y0, x0] + (1 - ly) * lx * image[y0, x1]
                + ly * (1 - lx) * image[y1, x0] + ly * lx * image[y1, x1])

    offset = 0.5 if aligned else 0.0
    for b in range(batch):
        for k in range(boxes.shape[1]):
            x1, y1, x2, y2 = boxes[b, k] * [width, height, width, height]
            x1, y1, x2, y2 = x1 - offset, y1 - offset, x2 - offset, y2 - offset
            roi_w, roi_h = x2 - x1, y2 - y1
            if not aligned:
                roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
            for i in range(size):
                for j in range(size):
                    total = np.zeros(channels)
                    for iy in range(ratio):
                        for ix in range(ratio):
                            y = y1 + roi_h / size * (i + (iy + 0.5) / ratio)
                            x = x1 + roi_w / size * (j + (ix + 0.5) / ratio)
                            total += sample(features[b], y, x)
                    out[b, k, i, j] = total / ratio ** 2
    return out


def random_boxes(rng, shape, low=-0.2, high=1.2):
    corners = rng.uniform(low, high, shape + (2, 2))
    return np.concatenate([corners.min(axis=-2), corners.max(axis=-2)], -1).astype(np.float32)


@pytest.mark.parametrize("aligned", [True, False])
def test_roi_align_equals_bilinear_sampling_by_hand(rng, aligned):
    features = rng.normal(size=(2, 5, 7, 3)).astype(np.float32)
    # Boxes inside, across the edges, wholly outside, and degenerate (zero width).
    boxes = random_boxes(rng, (2, 6))
    boxes[0, 0] = [0.3, 0.3, 0.3, 0.8]
    boxes[1, 1] = [1.1, 1.1, 1.4, 1.3]
    got = layers.RoIAlign(3, 2, aligned)(features, boxes)
    want = roi_align_by_hand(features, boxes, 3, 2, aligned)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-5)


def test_roi_align_equals_torchvision(rng, tmp_path):
    features = rng.normal(size=(2, 6, 9, 4)).astype(np.float32)
    boxes = random_boxes(rng, (2, 5), 0.0, 1.0)
    got = layers.RoIAlign(4, 3)(features, boxes).numpy()
    rois = np.array([[b, *(boxes[b, k] * [9, 6, 9, 6])] for b in range(2) for k in range(5)],
                    np.float32)
    np.savez(tmp_path / "in.npz", features=features, rois=rois)
    run_torch(f"""
        import numpy as np
        data = np.load({str(tmp_path / "in.npz")!r})
        out = torchvision.ops.roi_align(torch.tensor(data["features"]).permute(0, 3, 1, 2),
                                        torch.tensor(data["rois"]), (4, 4), 1.0, 3,
                                        aligned=True)
        np.save({str(tmp_path / "out.npy")!r}, out.permute(0, 2, 3, 1).numpy())
        print(json.dumps({{"ok": True}}))
    """)
    want = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(got.reshape(10, 4, 4, 4), want, atol=1e-5)


def test_roi_align_gradient_is_the_sampling_weights(rng):
    """RoIAlign is linear in the features: the gradient of out . g is the adjoint, computed
    here from the by-hand implementation on unit feature maps."""
    features = tf.constant(rng.normal(size=(1, 4, 5, 1)).astype(np.float32))
    boxes = np.array([[[0.1, 0.2, 0.7, 0.9]]], np.float32)
    weights = rng.normal(size=(1, 1, 2, 2, 1))
    with tf.GradientTape() as tape:
        tape.watch(features)
        value = tf.reduce_sum(layers.RoIAlign(2, 2)(features, boxes) * weights)
    grad = tape.gradient(value, features).numpy()
    want = np.zeros((1, 4, 5, 1))
    for y in range(4):
        for x in range(5):
            unit = np.zeros((1, 4, 5, 1))
            unit[0, y, x, 0] = 1
            want[0, y, x, 0] = np.sum(roi_align_by_hand(unit, boxes, 2, 2, True) * weights)
    np.testing.assert_allclose(grad, want, atol=1e-6)
    assert np.count_nonzero(grad) > 0


def test_box_deltas_invert(rng):
    rois = random_boxes(rng, (3, 5), 0.05, 0.95) + np.array([0, 0, 0.01, 0.01], np.float32)
    targets = np.clip(rois + rng.normal(0, 0.03, rois.shape).astype(np.float32), 0, 1)
    targets = np.concatenate([np.minimum(targets[..., :2], targets[..., 2:]) - 0.005,
                              np.maximum(targets[..., :2], targets[..., 2:]) + 0.005], -1)
    targets = np.clip(targets, 0, 1)
    decoded = layers.decode_deltas(rois, layers.encode_deltas(rois, targets))
    np.testing.assert_allclose(decoded.numpy(), targets, atol=1e-5)


def test_pairwise_iou():
    a = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]], np.float32)
    b = np.array([[0.25, 0.0, 0.75, 0.5], [0.0, 0.0, 0.0, 0.0]], np.float32)
    np.testing.assert_allclose(layers.pairwise_iou(a, b).numpy(), [[1 / 3, 0], [0, 0]],
                               atol=1e-6)


def test_proposals_decode_the_training_targets(rng):
    """Maps that equal the targets of `centre_targets` (the heatmap as large logits) decode
    back into the ground-truth boxes, with score ~1, and nothing else above the prior."""
    boxes = np.array([[[0.10, 0.20, 0.30, 0.45], [0.55, 0.50, 0.95, 0.90],
                       [0.0, 0.0, 0.0, 0.0]]], np.float32)
    mask = np.array([[1.0, 1.0, 0.0]], np.float32)
    heat, index, log_size, offset = layers.centre_targets(boxes, mask, 8, 8)
    heat = heat.numpy()
    assert heat.max() == 1.0 and np.sum(heat == 1.0) == 2  # one peak per real box
    logits = np.where(heat >= 1.0, 10.0, -10.0)[..., None].astype(np.float32)
    size = np.zeros((1, 8, 8, 2), np.float32)
    shift = np.zeros((1, 8, 8, 2), np.float32)
    for n in range(2):
        r, c = divmod(int(index[0, n]), 8)
        size[0, r, c], shift[0, r, c] = log_size[0, n], offset[0, n]
    got, scores = layers.CentreProposals(3)(logits, size, shift)
    order = np.argsort(got.numpy()[0, :2, 0])
    np.testing.assert_allclose(got.numpy()[0, :2][order], boxes[0, :2], atol=1e-5)
    assert scores.numpy()[0, :2].min() > 0.99 and scores.numpy()[0, 2] < 1e-3


def test_proposals_keep_local_maxima_only_and_pad_small_maps():
    heat = np.full((1, 2, 2, 1), -10.0, np.float32)
    heat[0, 0, 0], heat[0, 0, 1] = 3.0, 2.0  # neighbours: only the higher is a peak
    zeros = np.zeros((1, 2, 2, 2), np.float32)
    boxes, scores = layers.CentreProposals(6)(heat, zeros, zeros)
    scores = scores.numpy()[0]
    assert scores[0] == pytest.approx(1 / (1 + np.exp(-3.0)), abs=1e-6)
    assert np.all(scores[1:] < 1e-3)  # the neighbour is suppressed, 2 of 6 rows are padding
    np.testing.assert_array_equal(boxes.numpy()[0, 4:], 0.0)


def test_focal_loss_is_centernets(rng):
    """The penalty-reduced focal loss by hand: positives -(1-p)^2 log p, others
    -(1-y)^4 p^2 log(1-p), summed and divided by the number of positives."""
    target = rng.uniform(0, 0.9, (2, 4, 4)).astype(np.float32)
    target[0, 1, 2] = target[0, 3, 3] = 1.0  # two peaks; the second map has none
    logits = rng.normal(0, 2, (2, 4, 4)).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    positive = target == 1
    loss = np.where(positive, -(1 - p) ** 2 * np.log(p),
                    -(1 - target) ** 4 * p ** 2 * np.log(1 - p)).sum(axis=(1, 2))
    want = loss / np.maximum(positive.sum(axis=(1, 2)), 1)
    np.testing.assert_allclose(layers.centre_focal_loss(logits, target).numpy(), want, rtol=1e-5)


@pytest.fixture(scope="module")
def detector():
    keras.utils.set_random_seed(1)
    return action_detector("s3dg", classes=3, input_shape=CLIP, max_boxes=3, roi_size=3,
                           dropout_rate=0.0, localization_upsampling=2, **TINY)


def test_outputs_and_default_feature_layer(detector, rng):
    assert detector.backbone.outputs[0].shape[1:4] == (2, 2, 2)  # Mixed_4f: stride 16, T / 4
    assert detector.backbone.layers[-1].name == "Mixed_4f"
    clips = rng.uniform(0, 255, (2,) + CLIP).astype(np.float32)
    out = {k: v.numpy() for k, v in detector(clips).items() if k in model_lib.OUTPUTS}
    assert set(out) == set(model_lib.OUTPUTS)
    assert out["boxes"].shape == (2, 3, 4) and out["scores"].shape == (2, 3)
    np.testing.assert_allclose(out["probabilities"].sum(-1), 1.0, atol=1e-5)
    assert (out["boxes"] >= 0).all() and (out["boxes"] <= 1).all()
    assert (out["boxes"][..., 2:] >= out["boxes"][..., :2]).all()


def test_resnet_feature_layer_and_backbone_weights_file(tmp_path):
    """The ResNet3D default is the last res4 block; a backbone weights file loads into it."""
    from keras_video import zoo

    keras.utils.set_random_seed(3)
    source = zoo.get("r3d_18", include_top=False, input_shape=CLIP, **TINY)
    source.save_weights(tmp_path / "backbone.weights.h5")
    extractor = model_lib.feature_extractor("r3d_18", input_shape=CLIP,
                                            weights=str(tmp_path / "backbone.weights.h5"),
                                            **TINY)
    assert extractor.layers[-1].name == "res4_block1"
    for a, b in zip(extractor.get_layer("res3_block0").weights,
                    source.get_layer("res3_block0").weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_external_boxes_are_classified_as_given(detector, rng):
    clips = rng.uniform(0, 255, (1,) + CLIP).astype(np.float32)
    boxes = np.array([[[0.1, 0.1, 0.6, 0.7], [0.0, 0.0, 0.0, 0.0]]], np.float32)
    out = detector({"video": clips, "boxes": boxes})
    np.testing.assert_array_equal(out["rois"].numpy(), boxes)
    np.testing.assert_array_equal(out["scores"].numpy(), [[1.0, 0.0]])  # padding scores 0


def test_keras_round_trip(detector, rng, tmp_path):
    clips = rng.uniform(0, 255, (2,) + CLIP).astype(np.float32)
    before = detector(clips)
    detector.save(tmp_path / "detector.keras")
    loaded = keras.saving.load_model(tmp_path / "detector.keras")
    assert isinstance(loaded, model_lib.ActionDetector)
    as_json = lambda model: json.dumps(model.get_config(), sort_keys=True)  # noqa: E731
    assert as_json(loaded) == as_json(detector)  # (tuples come back as lists)
    after = loaded(clips)
    for key in model_lib.OUTPUTS:
        np.testing.assert_array_equal(after[key], before[key])


def targets(boxes, labels, mask):
    return {"boxes": np.asarray(boxes, np.float32), "labels": np.asarray(labels, np.int32),
            "box_mask": np.asarray(mask, np.float32)}


def test_every_weight_gets_a_gradient(detector, rng):
    clips = rng.uniform(0, 255, (2,) + CLIP).astype(np.float32)
    y = targets([[[0.1, 0.1, 0.5, 0.6], [0, 0, 0, 0]], [[0.4, 0.3, 0.9, 0.8], [0, 0, 0.3, 0.4]]],
                [[2, -1], [0, 1]], [[1, 0], [1, 1]])
    with tf.GradientTape() as tape:
        pred = detector(clips, training=True)
        loss = detector.compute_loss(clips, y, pred, training=True)
    grads = tape.gradient(loss, detector.trainable_variables)
    missing = [v.path for v, g in zip(detector.trainable_variables, grads)
               if g is None or not np.any(g.numpy())]
    assert not missing, missing
    assert np.isfinite(float(loss))


@pytest.fixture(scope="module")
def external():
    keras.utils.set_random_seed(2)
    return action_detector("c2d", classes=3, input_shape=CLIP, proposals="external",
                           max_boxes=2, roi_size=2, dropout_rate=0.0, **TINY)


def test_classification_loss_is_teacher_forced_and_matched(external, rng):
    """With external boxes, the head's loss is the cross-entropy on the ground-truth boxes and
    on the given boxes that overlap one by IoU >= 0.5 (here: one of two), and nothing else."""
    clips = rng.uniform(0, 255, (1,) + CLIP).astype(np.float32)
    gt = np.array([[[0.1, 0.1, 0.5, 0.5], [0, 0, 0, 0]]], np.float32)
    given = np.array([[[0.12, 0.1, 0.5, 0.52], [0.6, 0.6, 0.9, 0.9]]], np.float32)
    y = targets(gt, [[2, -1]], [[1, 0]])
    x = {"video": clips, "boxes": given}
    pred = external(x, training=False)
    tracker = {m.name: m for m in external.metrics}["classification_loss"]
    tracker.reset_state()
    external.compute_loss(x, y, pred, training=False)
    logits_gt, _ = external.classify(pred["context"], gt[:, :1])
    logits_given = pred["class_logits"][:, :1]
    ce = lambda logits: float(keras.ops.sparse_categorical_crossentropy(  # noqa: E731
        np.array([[2]]), logits, from_logits=True)[0, 0])
    assert float(tracker.result()) == pytest.approx((ce(logits_gt) + ce(logits_given)) / 2,
                                                    rel=1e-5)


def test_bad_arguments_say_what_is_wrong(external):
    with pytest.raises(ValueError, match="external proposals"):
        external(np.zeros((1,) + CLIP, np.float32))

    def build(**kwargs):
        return action_detector("c2d", **{"classes": 2, "input_shape": CLIP, **TINY, **kwargs})

    with pytest.raises(ValueError, match="proposals must be"):
        build(proposals="rpn")
    with pytest.raises(ValueError, match="classes must be a positive int"):
        build(classes=0)
    with pytest.raises(ValueError, match="unknown loss_weights"):
        build(loss_weights={"iou": 1})
    with pytest.raises(ValueError, match="for learned proposals only"):
        build(proposals="external", localization_layer="Mixed_3c")
    with pytest.raises(ValueError, match="no layer 'Mixed_9z'"):
        model_lib.feature_extractor(external.backbone, "Mixed_9z")
    pooled = keras.Sequential([keras.Input(CLIP), keras.layers.GlobalAveragePooling3D(
        name="pool")])
    with pytest.raises(ValueError, match="needs a 5D"):
        model_lib.feature_extractor(pooled, "pool")


def test_frame_level_detector_cannot_tell_the_orbits_apart(detector):
    """At key frame 0 of a looping 8-frame scene, the clip frames C2D's temporal strides keep
    at Mixed_4f (clip frames 0 and 4), and the key frame its localisation head reads on
    Mixed_3c, are the same for every orbit class: C2D's output is too. S3D-G, which sees every
    frame, gives each class its own output."""
    scenes = [synthetic.make_scene([c], 8, 32, synthetic.scene_rng(5, 0))[0] for c in range(4)]
    clips = np.stack([np.roll(s, 4, axis=0) for s in scenes]).astype(np.float32)  # key at 4
    keras.utils.set_random_seed(4)
    c2d = action_detector("c2d", classes=3, input_shape=CLIP, max_boxes=3, roi_size=3,
                          localization_layer="Mixed_3c", **TINY)
    frame_level = {k: v.numpy() for k, v in c2d(clips).items()}
    for key in model_lib.OUTPUTS:
        for c in range(1, 4):
            np.testing.assert_allclose(frame_level[key][c], frame_level[key][0], atol=1e-5)
    probabilities = detector(clips)["probabilities"].numpy()
    assert np.abs(probabilities[1:] - probabilities[:1]).max() > 1e-4


@pytest.mark.slow
def test_exports_match_keras(detector, rng, tmp_path):
    """SavedModel (uint8 video), ONNX and TFLite (builtin ops only) give Keras' outputs."""
    from keras_video.detection import export

    clips = np.round(rng.uniform(0, 255, (2,) + CLIP)).astype(np.float32)
    want = {k: v.numpy() for k, v in export.detector_outputs(detector, clips).items()}
    path = export.export_savedmodel(detector, tmp_path / "serving", class_names=["a", "b", "c"])
    served = tf.saved_model.load(path)
    got = served.signatures["serving_default"](video=tf.constant(clips.astype(np.uint8)))
    for key in want:
        np.testing.assert_allclose(got[key].numpy(), want[key], atol=1e-5)
    labels = np.array(["a", "b", "c"])[want["label_ids"]]
    np.testing.assert_array_equal(got["labels"].numpy().astype(str), labels)
    from keras_video.inference import metadata
    described = metadata.savedmodel_metadata(path)
    assert (described["class_names"], described["task"]) == (["a", "b", "c"], "detection")
    assert described["clip"]["frames"] == CLIP[0] and path.endswith("1")
    in_graph = json.loads(served.signatures["metadata"]()["metadata"].numpy())
    assert in_graph.pop("model_sha256") == "0" * 64  # the graph cannot hold its own digest
    assert in_graph == {k: v for k, v in described.items() if k != "model_sha256"}

    ort = pytest.importorskip("onnxruntime")
    export.export_onnx(detector, tmp_path / "detector.onnx")
    session = ort.InferenceSession(str(tmp_path / "detector.onnx"),
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    for name, value in zip(names, session.run(None, {"video": clips})):
        np.testing.assert_allclose(value, want[name], atol=1e-5)
    props = session.get_modelmeta().custom_metadata_map
    assert json.loads(props["class_names"]) == ["class_0", "class_1", "class_2"]
    metadata.verify((tmp_path / "detector.onnx").read_bytes(), "detector.onnx")

    interpreter = pytest.importorskip("ai_edge_litert.interpreter")
    result = export.export_tflite(detector, tmp_path / "detector.tflite")
    assert "CUSTOM" not in result["ops"] and "FlexCropAndResize" not in result["ops"]
    content = (tmp_path / "detector.tflite").read_bytes()
    assert metadata.tflite_metadata(content, "detector.tflite")["task"] == "detection"
    runner = interpreter.Interpreter(str(tmp_path / "detector.tflite")).get_signature_runner()
    got = runner(video=clips[:1])
    for key in want:
        np.testing.assert_allclose(got[key], want[key][:1], atol=1e-5)
