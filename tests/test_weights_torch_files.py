import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from keras_video.weights import torch_files

import pth_writer
from pth_writer import Storage, Tensor
from torch_reference import run_torch

# Storages of marker values (no element is 0 or repeats), so that a value read from anywhere
# else shows.
FLOATS = np.arange(1, 25, dtype="<f4") + 1000.5
HAND_STORAGES = {
    "0": Storage("FloatStorage", FLOATS.tobytes(), 24),
    "1": Storage("LongStorage", (np.arange(6, dtype="<i8") + 7 * 2**40).tobytes(), 6),
    "2": Storage("BoolStorage", bytes([1, 0, 1]), 3),
    "3": Storage("HalfStorage", np.array([1.5, -2, 3.25, 4], "<f2").tobytes(), 4),
}
HAND_TENSORS = {  # geometries torch writes: views at offsets, transposes, size-1 dims, empties
    "contiguous": Tensor("0", 0, (2, 3, 4), (12, 4, 1)),
    "transposed_at_offset": Tensor("0", 5, (3, 2), (1, 3)),
    "row_of_a_size_1_dim": Tensor("0", 2, (1, 6), (99, 1)),  # that dim's stride is never used
    "expanded_size_1_dim": Tensor("0", 10, (1, 4), (0, 1)),  # x[None].expand(1, -1)
    "last_element": Tensor("0", 23, (1,), (1,)),
    "scalar": Tensor("1", 3, (), ()),
    "longs": Tensor("1", 0, (6,), (1,)),
    "mask": Tensor("2", 0, (3,), (1,)),
    "half": Tensor("3", 0, (2, 2), (1, 2)),
    "empty_at_the_end": Tensor("0", 24, (0, 3), (3, 1)),
}

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
    for layout in ("zip", "legacy"):  # what torch makes of the files pth_writer writes
        hand = torch.load(f"{OUT}/hand_{layout}.pth", weights_only=True)
        np.savez(f"{OUT}/hand_{layout}.npz", **{k: v.numpy() for k, v in hand.items()})
    print(json.dumps({"ok": True}))
"""


@pytest.fixture(scope="module")
def torch_files_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("pth")
    for layout in ("zip", "legacy"):
        (out / f"hand_{layout}.pth").write_bytes(
            pth_writer.dumps(HAND_TENSORS, HAND_STORAGES, layout))
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


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_reads_hand_written_files_as_torch_does(torch_files_dir, layout):
    """The files the tests below write by hand are ones torch reads, and read the same."""
    expected = np.load(torch_files_dir / f"hand_{layout}.npz")
    state = torch_files.read_state_dict(torch_files_dir / f"hand_{layout}.pth")
    assert list(state) == list(HAND_TENSORS) == list(expected)
    for key in expected:
        assert state[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(state[key], expected[key], err_msg=key)
    assert state["row_of_a_size_1_dim"].tolist() == [FLOATS[2:8].tolist()]


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


def _write(tmp_path, layout, tensors, storages, name="bad.pth"):
    path = tmp_path / f"{layout}_{name}"
    path.write_bytes(pth_writer.dumps(tensors, storages, layout))
    return path


FOUR = {"0": Storage("FloatStorage", FLOATS[:4].tobytes(), 4)}
BAD_GEOMETRIES = {  # offset, size, stride of a tensor on FOUR's 4 floats
    "reads past the end": (0, (64,), (1,)),
    "steps past the end": (0, (4,), (1 << 40,)),  # this one crashed the process (exit 139)
    "starts at the end": (4, (1,), (1,)),
    "ends one past the end": (2, (3,), (1,)),
    "overflows int64": (0, (2, 2), (2**63, 1)),
    "negative offset": (-1, (2,), (1,)),
    "negative stride": (3, (4,), (-1,)),
    "negative size": (0, (-2,), (1,)),
    "fewer strides than sizes": (0, (2, 2), (1,)),
    "float size": (0, (2.0,), (1,)),
    "bool stride": (0, (2,), (True,)),
    "list size": (0, [2], [1]),
    "string offset": ("0", (2,), (1,)),
    "repeats elements": (0, (1000,), (0,)),
    "more dimensions than numpy has": (0, (1,) * 65, (1,) * 65),
    "empty, but a shape too large for numpy": (0, (0, 2**62, 2**62), (1, 1, 1)),
}


@pytest.mark.parametrize("layout", ["zip", "legacy"])
@pytest.mark.parametrize("case", list(BAD_GEOMETRIES))
def test_refuses_tensors_not_inside_their_storage(tmp_path, layout, case):
    offset, size, stride = BAD_GEOMETRIES[case]
    path = _write(tmp_path, layout, {"w": Tensor("0", offset, size, stride)}, FOUR)
    with pytest.raises(torch_files.UnsafeCheckpointError,
                       match=f"^{path}: the tensor of size .* in storage '0'"):
        torch_files.read_state_dict(path)


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_refuses_a_tensor_built_on_a_tensor(tmp_path, layout):
    """A tensor is no storage: viewing one through another's strides would escape both."""
    inner = Tensor("0", 0, (2,), (3,))
    path = _write(tmp_path, layout, {"w": Tensor(inner, 1, (2,), (5,))}, FOUR)
    with pytest.raises(torch_files.UnsafeCheckpointError, match="built on .*, not on a storage"):
        torch_files.read_state_dict(path)


SHORT = {"0": Storage("FloatStorage", FLOATS[:4].tobytes(), 8)}  # declares 8, holds 4
BAD_STORAGES = {  # layout -> case -> (storages of the tensor w = storage '0'[:4], error)
    "zip": {
        "shorter than declared": (SHORT, "storage '0' holds 16 bytes, but the "
                                  r"pickle declares 8 x float32 \(32 bytes\)"),
        "missing": ({"0": Storage("FloatStorage", None, 4)}, "storage '0' is missing"),
    },
    "legacy": {
        "shorter than declared": (SHORT, "storage '0' is truncated"),
        "count not the declared one": ({"0": Storage("FloatStorage", FLOATS[:4].tobytes(), 4,
                                                     count=3)},
                                       "storage '0' holds 3 elements, but the pickle declares 4"),
        "not in the file": ({"0": Storage("FloatStorage", None, 4)},
                            r"storages the file lists \(\[\]\) are not the ones its tensors use"),
        "larger than the file": ({"0": Storage("FloatStorage", FLOATS[:4].tobytes(), 10**12)},
                                 "storage '0' declares 1000000000000 x float32"),
    },
}


@pytest.mark.parametrize("layout, case", [(layout, case) for layout in BAD_STORAGES
                                          for case in BAD_STORAGES[layout]])
def test_refuses_storages_not_as_declared(tmp_path, layout, case):
    """A storage must hold exactly the elements its pickle declares: a short one would be read
    past its end, and a legacy storage the file never fills would hand out stale memory."""
    storages, message = BAD_STORAGES[layout][case]
    path = _write(tmp_path, layout, {"w": Tensor("0", 0, (4,), (1,))}, storages)
    with pytest.raises(torch_files.InvalidCheckpointError, match=f"^{path}: .*{message}"):
        torch_files.read_state_dict(path)


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_refuses_damage(tmp_path, layout):
    storages = {"0": Storage("BoolStorage", bytes([1, 0, 2, 1]), 4)}
    path = _write(tmp_path, layout, {"w": Tensor("0", 0, (4,), (1,))}, storages)
    with pytest.raises(torch_files.InvalidCheckpointError, match="bools holds bytes other"):
        torch_files.read_state_dict(path)
    one_storage_two_types = {"a": Tensor("0", 0, (4,), (1,)),
                             "b": Tensor("0", 0, (4,), (1,), storage_type="IntStorage")}
    path = _write(tmp_path, layout, one_storage_two_types, FOUR)
    with pytest.raises(torch_files.InvalidCheckpointError,
                       match="storage '0' is declared as 4 x float32 and as 4 x int32"):
        torch_files.read_state_dict(path)
    whole = pth_writer.dumps({"w": Tensor("0", 0, (4,), (1,))}, FOUR, layout)
    (tmp_path / "cut.pth").write_bytes(whole[:-3])
    with pytest.raises(torch_files.InvalidCheckpointError):
        torch_files.read_state_dict(tmp_path / "cut.pth")


def test_refuses_damaged_zip_members(tmp_path):
    whole = bytearray(pth_writer.dumps({"w": Tensor("0", 0, (4,), (1,))}, FOUR, "zip"))
    whole[whole.index(FLOATS[:4].tobytes()) + 1] ^= 0x10  # a storage byte: its CRC fails
    (tmp_path / "flipped.pth").write_bytes(whole)
    with pytest.raises(torch_files.InvalidCheckpointError, match="archive/data/0 .*CRC"):
        torch_files.read_state_dict(tmp_path / "flipped.pth")


def _pickle_str(text):
    data = text.encode()
    return pickle.BINUNICODE + len(data).to_bytes(4, "little") + data


def test_pickles_cannot_alter_the_allow_list(tmp_path):
    """BUILD sets attributes on the object it is given: here on the shared FloatStorage type,
    which would change how every later file in the process is read."""
    build = (pickle.PROTO + b"\x02" + pickle.GLOBAL + b"torch\nFloatStorage\n" + pickle.NONE
             + pickle.EMPTY_DICT + _pickle_str("dtype") + _pickle_str("float64")
             + pickle.SETITEM + pickle.TUPLE2 + pickle.BUILD + pickle.STOP)
    with zipfile.ZipFile(tmp_path / "build.pth", "w") as z:
        z.writestr("archive/data.pkl", build)
    with pytest.raises(torch_files.UnsafeCheckpointError, match="tries to set attributes of "
                                                                "torch.FloatStorage"):
        torch_files.read_checkpoint(tmp_path / "build.pth")
    good = _write(tmp_path, "zip", {"w": Tensor("0", 0, (4,), (1,))}, FOUR, "good.pth")
    np.testing.assert_array_equal(torch_files.read_state_dict(good)["w"], FLOATS[:4])


DAMAGED_PICKLES = {  # what breaks in the unpickler -> a pickle (after PROTO 2) that does it
    "TypeError": pickle.GLOBAL + b"torch._utils\n_rebuild_tensor_v2\n" + pickle.EMPTY_TUPLE
    + pickle.REDUCE + pickle.STOP,  # called without arguments
    "TypeError (unhashable key)": pickle.EMPTY_DICT + pickle.EMPTY_LIST + pickle.NONE
    + pickle.SETITEM + pickle.STOP,
    "EOFError": pickle.EMPTY_DICT,  # no STOP: the file ends first
    "UnpicklingError": b"\xff",
}


@pytest.mark.parametrize("case", list(DAMAGED_PICKLES))
def test_damaged_pickles_are_invalid_checkpoints(tmp_path, case):
    with zipfile.ZipFile(tmp_path / "damaged.pth", "w") as z:
        z.writestr("archive/data.pkl", pickle.PROTO + b"\x02" + DAMAGED_PICKLES[case])
    with pytest.raises(torch_files.InvalidCheckpointError,
                       match=f"damaged.pth: the file is damaged, its pickle cannot be read "
                             f"\\({case.split()[0]}"):
        torch_files.read_checkpoint(tmp_path / "damaged.pth")


def test_refuses_persistent_ids_that_are_not_storages(tmp_path):
    for pid in (pickle.NONE, pickle.MARK + _pickle_str("storage") + pickle.GLOBAL
                + b"collections\nOrderedDict\n" + _pickle_str("0") + _pickle_str("cpu")
                + pickle.BININT1 + b"\x04" + pickle.TUPLE):
        with zipfile.ZipFile(tmp_path / "pid.pth", "w") as z:
            z.writestr("archive/data.pkl", pickle.PROTO + b"\x02" + pid + pickle.BINPERSID
                       + pickle.STOP)
        with pytest.raises(torch_files.UnsafeCheckpointError,
                           match="unknown persistent id|not a storage type"):
            torch_files.read_checkpoint(tmp_path / "pid.pth")


def test_convert_command_refuses_a_malicious_file_in_one_line(tmp_path):
    """`keras-video convert` on a file of allow-listed names whose tensor steps far past its
    4-float storage: a one-line error and exit status 1, not a segmentation fault (139)."""
    bad = _write(tmp_path, "zip", {"w": Tensor("0", 0, (4,), (1 << 40,))}, FOUR)
    result = subprocess.run([sys.executable, "-m", "keras_video_cli", "convert", str(bad),
                             "--model", "s3d", "--to", str(tmp_path / "out.weights.h5")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stderr[-2000:]
    # The stages' progress lines, the failed one marked, then the error in one line.
    *stages, error = result.stderr.strip().splitlines()
    assert stages[-1].endswith("into it ... failed"), result.stderr[-2000:]
    assert error.startswith(f"keras-video: error: {bad}: the tensor of size (4,)"), error
    assert not (tmp_path / "out.weights.h5").exists()
