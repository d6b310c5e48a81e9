import pickle
import textwrap
import zipfile

import numpy as np
import pytest

from keras_video.weights import torch_files

from torch_reference import run_torch

WRITE = """
    import collections
    import numpy as np
    big = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5)
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.randn(4, 3, 3, 7, 7)
    sd["transposed"] = big.transpose(0, 2)        # strided view
    sd["offset_view"] = big[1, 1:3]               # view into a shared storage at an offset
    sd["bn.num_batches_tracked"] = torch.tensor(7)
    sd["half"] = torch.randn(3).half()
    sd["mask"] = torch.tensor([True, False])
    sd["double"] = torch.randn(2).to(torch.float64)
    torch.save(sd, OUT + "/zip.pth")
    torch.save({"state_dict": sd, "meta": {"epoch": 3}}, OUT + "/legacy.pth",
               _use_new_zipfile_serialization=False)
    torch.save(torch.nn.DataParallel(torch.nn.Conv3d(2, 3, 1)).state_dict(), OUT + "/dp.pth")
    np.savez(OUT + "/expected.npz", **{k: v.numpy() for k, v in sd.items()})
    print(json.dumps({"ok": True}))
"""


@pytest.fixture(scope="module")
def torch_files_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("pth")
    run_torch(f"OUT = {str(out)!r}\n" + textwrap.dedent(WRITE))
    return out


@pytest.mark.parametrize("name", ["zip.pth", "legacy.pth"])
def test_reads_both_torch_layouts_exactly(torch_files_dir, name):
    expected = np.load(torch_files_dir / "expected.npz")
    state = torch_files.read_state_dict(torch_files_dir / name)
    assert list(state) == list(expected)
    for key in expected:
        assert state[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(state[key], expected[key])


def test_unwraps_data_parallel_prefix(torch_files_dir):
    assert sorted(torch_files.read_state_dict(torch_files_dir / "dp.pth")) == ["bias", "weight"]


class _Payload:
    """Unpickling this would create `marker`: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_refuses_files_that_ask_for_code(tmp_path):
    marker = tmp_path / "ran"
    archive = tmp_path / "evil.pth"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps({"w": _Payload(str(marker))}, protocol=2))
        z.writestr("evil/version", "3\n")
    with pytest.raises(torch_files.UnsafeCheckpointError, match="asks for .*open"):
        torch_files.read_state_dict(archive)
    legacy = tmp_path / "evil_legacy.pth"
    with open(legacy, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, f)
        pickle.dump(_Payload(str(marker)), f)
    with pytest.raises(torch_files.UnsafeCheckpointError):
        torch_files.read_state_dict(legacy)
    assert not marker.exists()


def test_other_files_are_reported(tmp_path):
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
        torch_files.read_state_dict(tmp_path / "notes.txt")
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="no data.pkl"):
        torch_files.read_state_dict(tmp_path / "a.zip")
