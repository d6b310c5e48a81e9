"""Property-based tests of the `.pth` reader (hypothesis): on files mutated from valid ones it
never crashes, never returns a value that is not in the file, and raises only its documented
errors; on every in-bounds geometry it returns exactly what indexing the storage gives.

The default run is bounded and derandomized (the same examples each run, a few seconds);
`-m slow` runs many more, freshly drawn.
"""
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_video.weights import torch_files

import pth_writer
from pth_writer import Storage, Tensor

byte_bounds = getattr(np.lib, "array_utils", np).byte_bounds  # numpy 2 moved it

CI = settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(CI, max_examples=5000, derandomize=False, print_blob=True)
DOCUMENTED = (torch_files.UnsafeCheckpointError, torch_files.InvalidCheckpointError)

# Marker values: every element's bytes are unique, so a value from outside the file shows.
MARKERS = {
    "FloatStorage": np.arange(24, dtype="<f4") + 1000.5,
    "LongStorage": np.arange(6, dtype="<i8") + 0x0123_4567_89AB_0000,
    "BoolStorage": np.array([True, False, True]),
    "HalfStorage": np.array([1.5, -2, 3.25, 4], "<f2"),
}
KEYS = {"FloatStorage": "0", "LongStorage": "1", "BoolStorage": "2", "HalfStorage": "3"}
TENSORS = {
    "a": Tensor("0", 0, (2, 3, 4), (12, 4, 1)),
    "b": Tensor("0", 5, (3, 2), (1, 3)),
    "c": Tensor("1", 0, (6,), (1,)),
    "d": Tensor("2", 1, (2,), (1,)),
    "e": Tensor("3", 0, (2, 2), (1, 2)),
    "f": Tensor("0", 24, (0, 3), (3, 1)),
}
TYPE_NAMES = list(MARKERS) + ["IntStorage", "CharStorage", "DoubleStorage", "BFloat16Storage"]


def _storages():
    return {KEYS[name]: Storage(name, values.tobytes(), values.size)
            for name, values in MARKERS.items()}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "example.pth"


# Mostly well-typed geometry near the storages' sizes (what reaches the bounds checks), then
# integers at int64's and uint64's edges, then values of the wrong type.
small_ints = st.integers(0, 30)
edge_ints = st.one_of(st.integers(-3, 30), st.sampled_from(
    [2**31, 2**32 - 1, 2**62, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), 10**30]))
odd_values = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False, width=32),
                       st.text(max_size=3), st.lists(st.integers(0, 4), max_size=3))
offsets = st.one_of(small_ints, edge_ints, odd_values)
index_tuples = st.one_of(st.lists(small_ints, max_size=4).map(tuple),
                         st.lists(edge_ints, max_size=4).map(tuple),
                         st.one_of(st.lists(edge_ints, max_size=4), odd_values,
                                   st.just((1,) * 65)))


@st.composite
def mutated_files(draw):
    """(file bytes, the bytes its values may come from): a valid checkpoint with its pickle's
    geometry and storages mutated, then maybe truncated or bit-flipped."""
    layout = draw(st.sampled_from(["zip", "legacy"]))
    tensors = {name: Tensor(t.storage, t.offset, t.size, t.stride)
               for name, t in TENSORS.items()}
    storages = _storages()
    for tensor in draw(st.lists(st.sampled_from(list(tensors.values())), min_size=1,
                                max_size=3)):
        field = draw(st.sampled_from(["geometry"] * 3 + ["offset", "size", "stride",
                                                         "storage_type", "nested"]))
        if field == "geometry":  # sizes and strides of one length: what the bounds decide
            ndim = draw(st.integers(0, 4))
            tensor.size, tensor.stride = (tuple(draw(st.lists(ints, min_size=ndim,
                                                              max_size=ndim)))
                                          for ints in (st.integers(-1, 6), st.integers(-2, 30)))
            tensor.offset = draw(st.integers(-2, 30))
        elif field == "offset":
            tensor.offset = draw(offsets)
        elif field == "storage_type":
            tensor.storage_type = draw(st.sampled_from(TYPE_NAMES))
        elif field == "nested":  # a tensor as another's storage
            tensor.storage = Tensor(tensor.storage, *draw(st.tuples(
                offsets, index_tuples, index_tuples)))
        else:
            setattr(tensor, field, draw(index_tuples))
    for storage in draw(st.lists(st.sampled_from(list(storages.values())), max_size=1)):
        change = draw(st.sampled_from(["type", "numel", "count", "cut", "drop"]))
        if change == "type":
            storage.type_name = draw(st.sampled_from(TYPE_NAMES))
        elif change == "numel":
            storage.numel = draw(st.one_of(st.integers(0, 64), edge_ints.filter(
                lambda n: n >= 0)))
        elif change == "count":
            storage.count = draw(edge_ints)
        elif change == "drop":
            storage.data = None
        elif change == "cut" and storage.data is not None:
            storage.data = storage.data[:draw(st.integers(0, len(storage.data)))]
    data = bytearray(pth_writer.dumps(tensors, storages, layout))
    damage = draw(st.sampled_from(["none"] * 4 + ["cut", "flip"]))  # mostly reach the tensors
    if damage == "cut":
        del data[draw(st.integers(0, len(data))):]
    elif damage == "flip":
        for _ in range(draw(st.integers(1, 3))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    # Where returned values may come from: the storages' bytes, or (once bytes are damaged,
    # and the reader can no longer tell storage bytes from others) anywhere in the file.
    sources = pth_writer.storage_bytes(storages, layout) if damage == "none" else bytes(data)
    return bytes(data), sources


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _arrays(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _arrays(value)


def _memory_owner(array):
    """The array whose memory `array` views, through numpy's views and the object that
    as_strided wraps its array in."""
    while True:
        base = array.base
        if not isinstance(base, np.ndarray):
            base = getattr(base, "base", None)
            if not isinstance(base, np.ndarray):
                return array
        array = base


def _check_mutated(example, path):
    data, sources = example
    path.write_bytes(data)
    try:
        obj = torch_files.read_checkpoint(path)
    except DOCUMENTED:
        return
    except Exception as error:  # noqa: BLE001 - the point: nothing else may escape
        pytest.fail(f"undocumented {type(error).__name__}: {error}")
    for array in _arrays(obj):
        if array.size:  # its memory lies inside the storage array it views...
            low, high = byte_bounds(array)
            owner_low, owner_high = byte_bounds(_memory_owner(array))
            assert owner_low <= low <= high <= owner_high, "a view past its storage"
        for element in array.reshape(-1):  # ... and every value was read from the file
            assert element.tobytes() in sources, (
                f"{element!r} ({element.tobytes().hex()}) is not in the file's storages")


@CI
@given(example=mutated_files())
def test_mutated_files_are_read_or_refused_safely(scratch, example):
    _check_mutated(example, scratch)


@pytest.mark.slow
@SLOW
@given(example=mutated_files())
def test_mutated_files_are_read_or_refused_safely_many(scratch, example):
    _check_mutated(example, scratch)


@st.composite
def in_bounds_tensors(draw):
    """(layout, storage type, storage length, offset, size, stride) with every element of
    the tensor inside the storage and no more elements than it."""
    size = tuple(draw(st.lists(st.integers(0, 4), max_size=4)))
    stride = tuple(draw(st.lists(st.integers(0, 12), min_size=len(size), max_size=len(size))))
    count = int(np.prod(size))
    span = sum((n - 1) * s for n, s in zip(size, stride)) + 1 if count else 0
    length = max(span, count) + draw(st.integers(0, 5))
    offset = draw(st.integers(0, length - span)) if count else draw(st.integers(0, 1000))
    return (draw(st.sampled_from(["zip", "legacy"])), draw(st.sampled_from(["FloatStorage",
            "LongStorage", "HalfStorage"])), length, offset, size, stride)


def _check_in_bounds(example, path):
    layout, type_name, length, offset, size, stride = example
    values = (np.arange(length) + 1).astype(MARKERS[type_name].dtype)
    path.write_bytes(pth_writer.dumps({"w": Tensor("0", offset, size, stride)},
                                      {"0": Storage(type_name, values.tobytes(), length)},
                                      layout))
    tensor = torch_files.read_state_dict(path)["w"]
    expected = np.array([values[offset + sum(i * s for i, s in zip(index, stride))]
                         for index in np.ndindex(*size)], values.dtype).reshape(size)
    assert tensor.dtype == values.dtype and tensor.shape == size
    np.testing.assert_array_equal(tensor, expected)


@CI
@given(example=in_bounds_tensors())
def test_in_bounds_tensors_read_as_indexing_gives(scratch, example):
    _check_in_bounds(example, scratch)


@pytest.mark.slow
@SLOW
@given(example=in_bounds_tensors())
def test_in_bounds_tensors_read_as_indexing_gives_many(scratch, example):
    _check_in_bounds(example, scratch)


def test_the_mutations_reach_every_refusal(scratch):
    """The fuzzing is not idle: its examples meet both documented errors and successes."""
    seen = set()

    @settings(CI, max_examples=150)
    @given(example=mutated_files())
    def collect(example):
        scratch.write_bytes(example[0])
        try:
            torch_files.read_checkpoint(scratch)
            seen.add("read")
        except DOCUMENTED as error:
            seen.add(type(error).__name__)

    collect()
    assert seen == {"read", "UnsafeCheckpointError", "InvalidCheckpointError"}
    assert issubclass(torch_files.UnsafeCheckpointError, pickle.UnpicklingError)
