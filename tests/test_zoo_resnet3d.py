import keras
import numpy as np
import pytest

from keras_video import profiling, zoo

from conftest import CLIP, TINY
from torch_reference import run_torch

TORCHVISION = ["r3d_18", "mc3_18", "r2plus1d_18"]
CSNS = [f"{kind}_csn_{depth}" for kind in ("ir", "ip") for depth in (26, 50, 101, 152)]


@pytest.mark.parametrize("name,params,gmacs", [
    # torchvision weights metadata: num_params and _ops (GMACs) at 16x112x112.
    ("r3d_18", 33_371_472, 40.697), ("mc3_18", 11_695_440, 43.343),
    ("r2plus1d_18", 31_505_325, 40.519),
])
def test_torchvision_resnets_match_published_counts(name, params, gmacs, full_size):
    model = full_size.model(name)
    assert profiling.count_params(model)["trainable_params"] == params
    assert round(full_size.macs(name, 16, 112) / 1e9, 3) == gmacs


def test_torchvision_resnets_match_live_counts(full_size):
    ref = run_torch("""
        result = {}
        for name in ["r3d_18", "mc3_18", "r2plus1d_18"]:
            model, macs = getattr(torchvision.models.video, name)().eval(), []
            def hook(module, inputs, output):
                macs.append(output.numel() * module.weight[0].numel())
            for module in model.modules():
                if isinstance(module, (torch.nn.Conv3d, torch.nn.Linear)):
                    module.register_forward_hook(hook)
            with torch.no_grad():
                model(torch.zeros(1, 3, 16, 112, 112))
            result[name] = [sum(p.numel() for p in model.parameters()), sum(macs)]
        print(json.dumps(result))
    """)
    for name, (params, macs) in ref.items():
        model = full_size.model(name)
        assert profiling.count_params(model)["trainable_params"] == params, name
        assert full_size.macs(name, 16, 112) == macs, name


@pytest.mark.parametrize("name,params,gmacs_256", [
    # MMAction2 csn metafile: ir-CSN-152 29,703,568 params; ip-CSN-152 33.02M; ir-CSN-50
    # 13.13M. VMZ model zoo: ir-CSN-152 96.7 and ip-CSN-152 108.8 GFLOPs (multiply-adds) for a
    # 32-frame clip; they equal our counts at a 256x256 crop (VMZ's test crop).
    ("ir_csn_152", 29_703_568, 96.7), ("ip_csn_152", 33.02e6, 108.8), ("ir_csn_50", 13.13e6, None),
])
def test_csns_match_published_counts(name, params, gmacs_256, full_size):
    trainable = profiling.count_params(full_size.model(name))["trainable_params"]
    assert trainable == params if isinstance(params, int) else round(trainable / 1e4) * 1e4 == params
    if gmacs_256:
        assert round(full_size.macs(name, 32, 256) / 1e9, 1) == gmacs_256


def test_csns_are_cheaper_than_their_dense_counterpart(full_size):
    """The point of channel separation: ir-CSN-50's 3x3x3 convs cost C MACs per output where a
    ResNet3D-50's cost 27 C^2 (Tran et al. 2019)."""
    stages = [[w.shape for w in layer.weights if w.name == "kernel" and w.shape[:3] == (3, 3, 3)]
              for layer in full_size.model("ir_csn_50").layers if layer.name.startswith("res")]
    assert all(shape[-1] == 1 for block in stages for shape in block)  # depthwise kernels
    assert full_size.macs("ir_csn_50", 16, 112) < full_size.macs("r3d_18", 16, 112)


# CSN-101 / -152 repeat CSN-50's blocks more times (and take about a minute each to save and
# load at any width): under -m slow.
@pytest.mark.parametrize("name", TORCHVISION + [
    pytest.param(n, marks=pytest.mark.slow) if n.endswith(("101", "152")) else n for n in CSNS])
def test_tiny_forward_and_keras_round_trip(name, tmp_path, rng):
    model = zoo.get(name, input_shape=CLIP, classes=5, **TINY)
    x = rng.integers(0, 256, size=(2,) + CLIP).astype("uint8")
    y = model(x).numpy()  # eager: tracing a graph for two clips costs more than it saves
    assert y.shape == (2, 5)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(restored(x).numpy(), y, rtol=1e-5, atol=1e-6)


def test_builder_arguments():
    features = zoo.IRCSN50(include_top=False, pooling="avg", **TINY)
    assert features.outputs[0].shape == (None, 256)
    with pytest.raises(TypeError, match="unknown keyword"):
        zoo.IRCSN50(middle="ip")
    # A misspelt keyword is matched to the one meant, among all the builder takes.
    with pytest.raises(TypeError, match=r"\['clases'\] \(did you mean 'classes'\?\); it "
                                        r"takes .*dropout_rate.*include_top.*width_multiplier"):
        zoo.get("r3d_18", clases=3)
    # So is a misspelt model name; a model that is not a name is one line too.
    with pytest.raises(ValueError, match=r"Unknown model 'r3d18' \(did you mean 'r3d_18'\?\)"):
        zoo.get("r3d18")
    with pytest.raises(TypeError, match="named by a string such as 's3d', not None"):
        zoo.get(None)


def test_the_keywords_an_unknown_one_is_matched_against_are_the_builders_own():
    # base.COMMON_KEYWORDS is written out for the error message; it must follow the graph
    # functions' signatures (and the builder's own weights and name).
    import inspect

    from keras_video.zoo import base
    from keras_video.zoo.inception3d import model as inception3d
    from keras_video.zoo.resnet3d import model as resnet3d
    for graph in (resnet3d._resnet3d, inception3d._inception3d):
        named = [p.name for p in inspect.signature(graph).parameters.values()
                 if p.default is not inspect.Parameter.empty]
        assert {"weights", "name", *named} == set(base.COMMON_KEYWORDS), graph.__name__
