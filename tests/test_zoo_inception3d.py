import keras
import numpy as np
import pytest

from keras_video import profiling, zoo
from keras_video.layers import InceptionBlock3D, SelfGating, SepConv3D, Unit3D
from keras_video.zoo import inception3d

from conftest import CLIP, TINY
from export_helpers import error_against_spread, motion_clips
from torch_reference import run_torch

FAMILY = ["i3d", "s3d", "s3dg", "bottom_heavy_i3d", "top_heavy_i3d", "bottom_heavy_s3d",
          "top_heavy_s3d", "fast_s3d", "c2d"]


def test_registry_lists_the_family():
    assert set(FAMILY) <= set(zoo.list_models())
    assert zoo.get_builder("S3D-G".replace("-", "")) is zoo.S3DG
    with pytest.raises(ValueError, match="Available models: .*s3dg"):
        zoo.get("s4d")


def test_s3d_matches_torchvision_parameter_and_mac_counts(full_size):
    """torchvision's S3D_Weights.KINETICS400_V1: num_params 8,320,048, _ops 17.979 GMACs
    (16x224x224); our hook count of torchvision's convs gives 17,978,771,456 exactly."""
    assert profiling.count_params(full_size.model("s3d"))["trainable_params"] == 8_320_048
    assert full_size.macs("s3d", 16, 224) == 17_978_771_456


def test_s3d_counts_match_live_torchvision(full_size):
    ref = run_torch("""
        model, macs = torchvision.models.video.s3d().eval(), []
        def hook(module, inputs, output):
            macs.append(output.numel() * module.weight[0].numel())
        for module in model.modules():
            if isinstance(module, torch.nn.Conv3d):
                module.register_forward_hook(hook)
        with torch.no_grad():
            model(torch.zeros(1, 3, 16, 224, 224))
        print(json.dumps({"params": sum(p.numel() for p in model.parameters()),
                          "macs": sum(macs)}))
    """)
    assert profiling.count_params(full_size.model("s3d"))["trainable_params"] == ref["params"]
    assert full_size.macs("s3d", 16, 224) == ref["macs"]


def _temporal_blocks(model):
    """Names of the blocks with a temporal kernel extent > 1."""
    blocks = set()
    for layer in model.layers:
        for w in layer.weights:
            if w.name == "kernel" and len(w.shape) == 5 and w.shape[0] > 1:
                blocks.add(layer.name)
    return blocks


ALL_BLOCKS = set(inception3d.TEMPORAL_BLOCKS)
LOWER = {"Conv3d_1a_7x7", "Conv3d_2c_3x3", "Mixed_3b", "Mixed_3c"}


@pytest.mark.parametrize("name,expected", [
    ("i3d", ALL_BLOCKS), ("s3d", ALL_BLOCKS), ("s3dg", ALL_BLOCKS),
    ("bottom_heavy_i3d", LOWER), ("bottom_heavy_s3d", LOWER),
    ("top_heavy_i3d", ALL_BLOCKS - LOWER), ("top_heavy_s3d", ALL_BLOCKS - LOWER),
    ("fast_s3d", {"Mixed_5b", "Mixed_5c"}), ("c2d", set()),
])
def test_temporal_kernels_sit_where_each_design_puts_them(name, expected):
    assert _temporal_blocks(zoo.get(name, **TINY)) == expected


def test_temporal_switches_cover_any_range():
    model = zoo.S3D(temporal_conv_startat="Mixed_4b", temporal_conv_endat="Mixed_4d", **TINY)
    assert _temporal_blocks(model) == {"Mixed_4b", "Mixed_4c", "Mixed_4d"}
    with pytest.raises(ValueError, match="temporal_conv_startat must be None or one of"):
        zoo.S3D(temporal_conv_startat="Mixed_9z")


def _gates(model):
    found = []
    for layer in model.layers:
        if isinstance(layer, SelfGating):
            found.append(layer.name)
        if isinstance(layer, InceptionBlock3D):
            found += [f"{layer.name}/{g.name}" for b in layer.branches for g in b
                      if isinstance(g, SelfGating)]
    return found


def test_s3dg_gating_placement_follows_tf_slim():
    """Slim's s3dg: a gate after Conv2d_2c_3x3 and at the end of every branch of every Mixed
    block from gating_startat on; none on the stem, Conv3d_2b or the head."""
    gates = _gates(zoo.S3DG(**TINY))
    expected = ["Conv3d_2c_3x3_gating"] + [f"{block}/Branch_{i}_gating"
                                           for block in inception3d.MIXED for i in range(4)]
    assert gates == expected
    later = _gates(zoo.S3DG(gating_startat="Mixed_4b", **TINY))
    assert later == [g for g in expected if g.split("/")[0] >= "Mixed_4b"]
    assert _gates(zoo.S3D(**TINY)) == []
    model = zoo.S3DG(**TINY)  # the stem's gate sits right after Conv3d_2c_3x3
    assert model.get_layer("Conv3d_2c_3x3_gating").input is \
        model.get_layer("Conv3d_2c_3x3").output


def test_i3d_follows_deepmind_conventions():
    model = zoo.I3D(**TINY)
    units = [l for l in model.layers if isinstance(l, Unit3D)]
    assert units and all(u.bn is not None and not u.bn.scale for u in units)
    assert all(u.padding == "same" for u in units)
    assert tuple(model.get_layer("Conv3d_1a_7x7").conv.kernel.shape[:3]) == (7, 7, 7)
    s3d = zoo.S3D(**TINY)
    assert isinstance(s3d.get_layer("Conv3d_1a_7x7"), SepConv3D)


def frame_dependence(model, x, rng):
    """`(input frames, feature frames)`: True where changing that one input frame of the clip
    `x` (1, T, H, W, 3) changes that frame of the model's features."""
    frames = x.shape[1]
    perturbed = np.repeat(x, frames, axis=0)
    for t in range(frames):
        perturbed[t, t] = rng.uniform(0, 255, size=x.shape[2:])
    base, changed = np.asarray(model(x)), np.asarray(model(perturbed))
    return np.abs(changed - base).max(axis=(2, 3, 4)) > 1e-4 * np.abs(base).max()


def test_c2d_is_frame_level(rng):
    """Each frame of C2D's features depends on one input frame, every 8th (its temporal
    strides), and on nothing else. At 32 frames there are 4 feature frames, so mixing across
    time shows; at 8 frames the strides leave a single feature frame and would hide it."""
    shape = (32, 32, 32, 3)
    x = rng.uniform(0, 255, size=(1,) + shape).astype("float32")
    c2d = frame_dependence(zoo.C2D(include_top=False, input_shape=shape, **TINY), x, rng)
    expected = np.zeros((32, 4), bool)
    expected[np.arange(0, 32, 8), np.arange(4)] = True
    np.testing.assert_array_equal(c2d, expected)
    # The same measurement sees S3D's temporal kernels: each feature frame, several frames.
    s3d = frame_dependence(zoo.S3D(include_top=False, input_shape=shape, **TINY), x, rng)
    assert (s3d.sum(axis=0) > 1).all()


def test_c2d_sees_time_symmetric_frames_only_with_2k_plus_1_frames(rng):
    """C2D's temporal strides make it look at frames 0, 8, 16 of a 17-frame clip, the same set
    as for the clip played backwards, so its output cannot depend on the arrow of time; at 16
    frames it sees frames 0 and 8 of the clip but 15 and 7 of its reverse."""
    for frames, invariant in ((9, True), (17, True), (16, False)):
        model = zoo.C2D(input_shape=(frames, 32, 32, 3), classes=5, dropout_rate=0.0, **TINY)
        x = rng.uniform(0, 255, size=(2, frames, 32, 32, 3)).astype("float32")
        forward, backward = model(x).numpy(), model(x[:, ::-1]).numpy()
        assert np.allclose(forward, backward, atol=1e-6) == invariant, frames


@pytest.mark.parametrize("name", FAMILY)
def test_tiny_forward_and_keras_round_trip(name, tmp_path, rng):
    model = zoo.get(name, input_shape=CLIP, classes=7, **TINY)
    x = rng.integers(0, 256, size=(2,) + CLIP).astype("uint8")
    y = model(x).numpy()  # eager: tracing a graph for two clips costs more than it saves
    assert y.shape == (2, 7)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored(x).numpy(), y, rtol=1e-5, atol=1e-6)


def test_builder_arguments(tmp_path, rng):
    x = rng.uniform(0, 255, size=(2,) + CLIP).astype("float32")
    features = zoo.S3DG(include_top=False, input_shape=CLIP, **TINY)
    assert features(x).shape == (2, 1, 1, 1, 128)
    assert zoo.S3DG(include_top=False, pooling="avg", **TINY)(x).shape == (2, 128)
    assert zoo.S3DG(include_top=False, pooling="max", **TINY)(x).shape == (2, 128)
    logits = zoo.S3DG(classes=3, classifier_activation=None, input_shape=CLIP, **TINY)
    assert not np.allclose(logits(x).numpy().sum(axis=1), 1.0)
    assert zoo.I3D(**TINY).inputs[0].shape == (None, None, None, None, 3)
    flow = zoo.I3D(input_shape=(None, None, None, 2), include_preprocessing=False, **TINY)
    assert flow.inputs[0].shape[-1] == 2
    with pytest.raises(ValueError, match="include_preprocessing=False"):
        zoo.I3D(input_shape=(None, None, None, 2))
    with pytest.raises(ValueError, match="pooling"):
        zoo.S3D(include_top=False, pooling="mean")
    with pytest.raises(ValueError, match="input_shape"):
        zoo.S3D(input_shape=(32, 32, 3))
    with pytest.raises(TypeError, match="unknown keyword"):
        zoo.S3D(temporal_startat="Mixed_4b")
    assert zoo.get("s3dg", name="mine", **TINY).name == "mine"


def test_weights_argument(tmp_path, rng):
    model = zoo.S3DG(input_shape=CLIP, classes=5, **TINY)
    path = tmp_path / "s3dg.weights.h5"
    model.save_weights(path)
    loaded = zoo.S3DG(input_shape=CLIP, classes=5, weights=str(path), **TINY)
    x = rng.uniform(0, 255, size=(1,) + CLIP).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    with pytest.raises(ValueError, match="Registered weights for 's3dg'.*weights=None"):
        zoo.S3DG(weights="kinetics9000", **TINY)


@pytest.mark.parametrize("name,mean,std", [("i3d", 0.5, 0.5),
                                           ("s3d", (0.43216, 0.394666, 0.37645),
                                            (0.22803, 0.22145, 0.216989))])
def test_preprocessing_normalises_rgb_like_the_weights(name, mean, std, rng):
    with_pre = zoo.get(name, input_shape=CLIP, **TINY)
    without = zoo.get(name, input_shape=CLIP, include_preprocessing=False, **TINY)
    without.set_weights([w for layer in with_pre.layers if layer.name != "preprocessing"
                         for w in layer.get_weights()])
    rgb = rng.integers(0, 256, size=(1,) + CLIP).astype("uint8")
    normalised = (rgb / 255.0 - np.asarray(mean)) / np.asarray(std)
    np.testing.assert_allclose(with_pre(rgb), without(normalised.astype("float32")),
                               rtol=1e-4, atol=1e-6)


# The README's model table: trainable params and GMACs at 16x224x224.
README_COUNTS = {
    "i3d": (12_689_984, 27.79), "s3d": (8_320_048, 17.98), "s3dg": (9_545_056, 17.98),
    "bottom_heavy_i3d": (7_008_320, 25.00), "top_heavy_i3d": (11_684_288, 12.01),
    "bottom_heavy_s3d": (6_341_040, 17.01), "top_heavy_s3d": (7_988_912, 10.19),
    "fast_s3d": (6_859_696, 9.31), "c2d": (6_002_624, 9.22),
}


def test_full_size_family_counts(full_size):
    counts = {name: {**profiling.count_params(full_size.model(name)),
                     "gmacs": full_size.macs(name, 16, 224) / 1e9} for name in FAMILY}
    for name, (params, gmacs) in README_COUNTS.items():
        assert counts[name]["trainable_params"] == params, name
        assert round(counts[name]["gmacs"], 2) == gmacs, name
    assert counts["i3d"]["gmacs"] > 1.5 * counts["s3d"]["gmacs"]  # paper: S3D ~1.5x cheaper
    assert counts["top_heavy_i3d"]["gmacs"] < counts["bottom_heavy_i3d"]["gmacs"]
    # S3D-G adds one C x C gate (with bias) at each gated output: Conv3d_2c and 36 branches.
    gate_params = 192 * 193 + sum(w * (w + 1) for block in inception3d.MIXED.values()
                                  for w in (block[0], block[2], block[4], block[5]))
    assert counts["s3dg"]["trainable_params"] - counts["s3d"]["trainable_params"] == gate_params


# The largest bfloat16 logit error as a fraction of the logits' clip-to-clip spread (both
# centred per clip), measured on these tiny models: i3d 0.37, s3dg 0.17. Giving every clip the
# mean logits scores 3.1-4.6, and giving each clip another clip's logits 4.9-5.1.
BF16_ERROR = 0.75


@pytest.mark.parametrize("name", ["s3dg", "i3d"])
def test_mixed_precision_computes_the_float32_function(name):
    """Under mixed_bfloat16, with the float32 model's weights, the logits stay float32 and equal
    the float32 model's to bfloat16's precision, as a fraction of how much they vary between
    clips."""
    kwargs = dict(input_shape=CLIP, classes=5, classifier_activation=None, **TINY)
    clips = motion_clips(6, *CLIP[:2]).astype("float32")
    model = zoo.get(name, **kwargs)
    expected = np.asarray(model(clips))
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = zoo.get(name, **kwargs)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert any(layer.compute_dtype == "bfloat16" for layer in mixed.layers)
    mixed.set_weights(model.get_weights())
    logits = mixed(clips)
    assert logits.dtype == "float32"
    error = error_against_spread(logits, expected, shift_invariant=True)
    assert error < BF16_ERROR, error
