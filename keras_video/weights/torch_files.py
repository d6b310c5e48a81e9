"""Reads PyTorch checkpoints (`.pth` / `.pt`) into numpy without torch and without running code.

A `.pth` file is a pickle, and unpickling can call any Python function the file names. This
reader resolves only the few names a checkpoint of tensors needs (the tensor rebuild helpers,
storage types and `OrderedDict`); a file that asks for anything else is refused before anything
it names is called. Both of torch's layouts are read: the zip archive (torch >= 1.6) and the
older sequential "legacy" file.

Everything in the file is untrusted: each storage is checked against the bytes the file really
holds, and each tensor's size, stride and offset against its storage, before any array is made,
so that no file can make the reader view memory outside it. Failures are `ValueError`s that name
the file, of two kinds:

- `UnsafeCheckpointError` (also a `pickle.UnpicklingError`): the file asks for what could run
  code or read outside it: a Python object off the allow-list, a tensor not inside its storage.
- `InvalidCheckpointError`: the file is not a readable checkpoint: neither of torch's layouts,
  truncated, a storage missing or not the size its pickle declares, a damaged pickle.
"""
import collections
import io
import math
import os
import pickle
import reprlib
import sys
import zipfile

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_ZIP_MAGIC = b"PK\x03\x04"  # how torch.load tells the layouts apart: the first local header
_MAX_DIMS = 32  # the fewest numpy allows (numpy 1.x); torch checkpoints use far fewer
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}

_repr = reprlib.Repr()  # file-made values in messages stay short, however large or deep
_repr.maxlevel, _repr.maxstring, _repr.maxlong, _repr.maxother = 2, 40, 40, 40
_short = _repr.repr


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """The checkpoint asks for a Python object other than tensors and plain containers, or
    for a tensor that is not inside its storage."""


class InvalidCheckpointError(ValueError):
    """The file is not a readable PyTorch checkpoint: not one of torch's layouts, truncated,
    a storage missing or of the wrong size, or a damaged pickle."""


class _Sealed:
    """Base of the reader's objects that a pickle can reach. The BUILD opcode sets attributes
    on any object it is handed: on these that would let a file swap a storage's array or
    change the shared allow-list for every later file."""

    __slots__ = ()

    def __setstate__(self, state):
        raise UnsafeCheckpointError(f"the file tries to set attributes of {self!r}")


class _Global(_Sealed):
    """What an allow-listed name resolves to: a storage type (with its dtype) or a function."""

    __slots__ = ("name", "dtype", "function")

    def __init__(self, name, dtype=None, function=None):
        self.name, self.dtype, self.function = name, dtype, function

    def __call__(self, *args):
        if self.function is None:
            raise UnsafeCheckpointError(f"the file calls {self.name}, which is a storage type")
        return self.function(*args)

    def __repr__(self):
        return self.name


class _Storage(_Sealed):
    """A storage of the file: a flat array of exactly the elements the file holds for it."""

    __slots__ = ("key", "array")

    def __init__(self, key, array):
        self.key, self.array = key, array

    def __repr__(self):
        return f"storage {self.key!r}"


def _is_index_tuple(value):
    return type(value) is tuple and all(type(v) is int and v >= 0 for v in value)


def _rebuild_tensor(storage, offset, size, stride, *_):
    """torch._utils._rebuild_tensor_v2: a read-only strided view of a flat storage (a view,
    because a legacy file's storages are filled only after its object pickle is read), made
    only once the size, stride and offset are known to stay inside the storage."""
    if type(storage) is not _Storage:
        raise UnsafeCheckpointError(f"a tensor is built on {_short(storage)}, not on a storage")

    def refuse(why):
        return UnsafeCheckpointError(f"the tensor of size {_short(size)}, stride "
                                     f"{_short(stride)} and offset {_short(offset)} in "
                                     f"{storage!r}{why}")

    if not (_is_index_tuple(size) and _is_index_tuple(stride) and len(size) == len(stride)
            and len(size) <= _MAX_DIMS):
        raise refuse(f": size and stride must be tuples of as many non-negative ints (at most "
                     f"{_MAX_DIMS})")
    if type(offset) is not int or offset < 0:
        raise refuse(": the offset must be a non-negative int")
    array = storage.array
    count = math.prod(size)  # Python ints: nothing below can overflow
    if count == 0:  # reads nothing, whatever its offset and strides (torch's rule too)
        if math.prod(n for n in size if n) * array.itemsize > sys.maxsize:
            raise refuse(": the shape is too large for numpy")
        return np.empty(size, array.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= array.size:
        raise refuse(f" reaches element {last}, but the storage holds {array.size}")
    if count > array.size:  # only overlapping strides (torch's expand) get here
        raise refuse(f" has {count} elements, more than its storage's {array.size}: tensors "
                     "that repeat elements are not read, since a small file could then ask "
                     "for any amount of memory. Save it .contiguous().")
    # A dimension of length 1 never steps: its stride (which may be anything) is not used.
    strides = tuple(s * array.itemsize if n > 1 else 0 for n, s in zip(size, stride))
    return np.lib.stride_tricks.as_strided(array[offset:], size, strides, writeable=False)


def _rebuild_parameter(data, *_):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,  # a type pickles cannot alter
    ("torch._utils", "_rebuild_tensor_v2"): _Global("torch._utils._rebuild_tensor_v2",
                                                    function=_rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): _Global("torch._utils._rebuild_parameter",
                                                    function=_rebuild_parameter),
}
_ALLOWED.update({("torch", name): _Global(f"torch.{name}", dtype=np.dtype(dtype))
                 for name, dtype in _STORAGE_DTYPES.items()})


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, load_storage, legacy):
        super().__init__(file)
        self._load_storage, self._legacy = load_storage, legacy

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise UnsafeCheckpointError(
                f"the file asks for {module}.{name}; only tensors and plain containers are "
                "read from PyTorch files, so that loading cannot run code. If you trust the "
                "file, load it with torch.load(weights_only=False) and save its state_dict() "
                "of tensors with torch.save.")
        return _ALLOWED[(module, name)]

    def persistent_load(self, pid):
        # torch's ids: ("storage", type, key, location, numel), and a legacy file's add a view
        length = 6 if self._legacy else 5
        if not (self._load_storage and type(pid) is tuple and len(pid) == length
                and type(pid[0]) is str and pid[0] == "storage"):
            raise UnsafeCheckpointError(f"unknown persistent id {_short(pid)}")
        _, storage_type, key, _location, numel = pid[:5]
        if not (type(storage_type) is _Global and storage_type.dtype is not None):
            raise UnsafeCheckpointError(f"{_short(storage_type)} is not a storage type")
        if not (type(key) is str and type(numel) is int and numel >= 0):
            raise InvalidCheckpointError(f"malformed storage id {_short(pid)}")
        if self._legacy and pid[5] is not None:
            raise InvalidCheckpointError(f"storage {key!r} is a view of another storage, which "
                                         "only old torch versions wrote and this reader does "
                                         "not read; re-save the file with a newer torch")
        return self._load_storage(key, storage_type.dtype, numel)


def _unpickle(file, source, load_storage=None, legacy=False):
    """The next pickle in `file`, read through the allow-list; every failure names `source`."""
    try:
        return _Unpickler(file, load_storage, legacy).load()
    except (UnsafeCheckpointError, InvalidCheckpointError) as error:
        raise type(error)(f"{source}: {error}") from None
    except Exception as error:  # a damaged pickle fails in many ways: EOFError, TypeError, ...
        raise InvalidCheckpointError(f"{source}: the file is damaged, its pickle cannot be read "
                                     f"({type(error).__name__}: {_short(str(error))})") from error


def _check_bools(storage, source):
    """numpy's bools must be bytes 0 or 1: others are undefined behaviour in its kernels."""
    if storage.array.dtype == np.bool_ and storage.array.view(np.uint8).max(initial=0) > 1:
        raise InvalidCheckpointError(f"{source}{storage!r} of bools holds bytes other than 0 "
                                     "and 1")


def _same_storage(storage, dtype, numel):
    if storage.array.dtype != dtype or storage.array.size != numel:
        raise InvalidCheckpointError(
            f"{storage!r} is declared as {storage.array.size} x {storage.array.dtype} and as "
            f"{numel} x {dtype}")
    return storage


def _zip_member(archive, path, name):
    try:
        return archive.read(name)
    except Exception as error:  # zipfile fails in many ways on a damaged archive
        raise InvalidCheckpointError(f"{path}: {name} in the archive cannot be read "
                                     f"({type(error).__name__}: {_short(str(error))})") from error


def _read_zip(path):
    try:
        archive = zipfile.ZipFile(path)
    except Exception as error:
        raise InvalidCheckpointError(f"{path} is a damaged zip archive "
                                     f"({type(error).__name__}: {_short(str(error))})") from error
    with archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise InvalidCheckpointError(f"{path} is a zip file but not a PyTorch checkpoint "
                                         "(no data.pkl)")
        root = pickles[0][: -len("data.pkl")]
        order = "little"
        if root + "byteorder" in names:
            order = _zip_member(archive, path, root + "byteorder").decode("ascii", "replace")
        if order.strip() not in ("little", "big"):
            raise InvalidCheckpointError(f"{path}: unknown byte order {_short(order)}")
        byteorder = "<" if order.strip() == "little" else ">"
        storages = {}

        def load_storage(key, dtype, numel):
            dtype = dtype.newbyteorder(byteorder)
            if key in storages:
                return _same_storage(storages[key], dtype, numel)
            name = f"{root}data/{key}"
            try:
                size = archive.getinfo(name).file_size
            except KeyError:
                raise InvalidCheckpointError(f"storage {key!r} is missing (no {name})") from None
            if size != numel * dtype.itemsize:
                raise InvalidCheckpointError(
                    f"storage {key!r} holds {size} bytes, but the pickle declares {numel} x "
                    f"{dtype} ({numel * dtype.itemsize} bytes)")
            raw = _zip_member(archive, path, name)
            if len(raw) != size:  # zipfile checks its CRC; this, the length it reads
                raise InvalidCheckpointError(f"storage {key!r} is truncated")
            storages[key] = _Storage(key, np.frombuffer(raw, dtype))
            _check_bools(storages[key], "")  # (the unpickling names the file)
            return storages[key]

        data = _zip_member(archive, path, pickles[0])
        return _unpickle(io.BytesIO(data), path, load_storage)


def _read_legacy(path):
    """The sequential file: magic number, protocol and system-info pickles, the object pickle,
    a pickled list of storage keys, then each storage as its element count and its bytes."""
    with open(path, "rb") as f:
        try:
            magic = _unpickle(f, path)
        except UnsafeCheckpointError:
            raise
        except InvalidCheckpointError:  # not a pickle at all
            magic = None
        if type(magic) is not int or magic != _LEGACY_MAGIC:
            raise InvalidCheckpointError(f"{path} is not a PyTorch checkpoint (neither a zip "
                                         "archive nor a legacy torch.save file)")
        protocol = _unpickle(f, path)
        if type(protocol) is not int or protocol != _LEGACY_PROTOCOL:
            raise InvalidCheckpointError(f"{path}: unknown legacy protocol {_short(protocol)}")
        _unpickle(f, path)  # system info: legacy storages are little-endian whatever it says
        # Storages come after the object pickle: each is allocated when first referenced, so
        # all of them together may not claim more bytes than the rest of the file holds.
        available = os.fstat(f.fileno()).st_size - f.tell()
        storages, claimed = {}, 0

        def load_storage(key, dtype, numel):
            nonlocal claimed
            dtype = dtype.newbyteorder("<")
            if key in storages:
                return _same_storage(storages[key], dtype, numel)
            claimed += numel * dtype.itemsize
            if claimed > available:
                raise InvalidCheckpointError(
                    f"storage {key!r} declares {numel} x {dtype}, which with the storages "
                    f"before it is {claimed} bytes, but only {available} follow: the file is "
                    "truncated or damaged")
            storages[key] = _Storage(key, np.empty(numel, dtype))
            return storages[key]

        result = _unpickle(f, path, load_storage, legacy=True)
        keys = _unpickle(f, path)
        if not (type(keys) is list and all(type(k) is str for k in keys)
                and len(set(keys)) == len(keys) and set(keys) == set(storages)):
            raise InvalidCheckpointError(
                f"{path}: the storages the file lists ({_short(keys)}) are not the ones its "
                f"tensors use ({_short(sorted(storages))})")
        for key in keys:  # every element of every storage is filled from the file, or fails
            storage = storages[key]
            header = f.read(8)
            count = int.from_bytes(header, "little", signed=True)
            if len(header) != 8 or count != storage.array.size:
                raise InvalidCheckpointError(
                    f"{path}: {storage!r} holds {count if len(header) == 8 else 'no'} "
                    f"elements, but the pickle declares {storage.array.size}")
            if f.readinto(storage.array.view(np.uint8)) != storage.array.nbytes:
                raise InvalidCheckpointError(f"{path}: {storage!r} is truncated")
            _check_bools(storage, f"{path}: ")
    return result


def read_checkpoint(path):
    """The object saved in a PyTorch file, with every tensor as a read-only numpy array (a
    view of the file's storage). Raises `UnsafeCheckpointError` or `InvalidCheckpointError`
    (both `ValueError`s) for a file that is refused."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        is_zip = f.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
    return _read_zip(path) if is_zip else _read_legacy(path)


def read_state_dict(path):
    """`{name: numpy array}` of a checkpoint, unwrapping the usual containers (`state_dict`,
    `model`, `model_state`) and a DataParallel `module.` prefix. The arrays are copies,
    independent of the file."""
    obj = read_checkpoint(path)
    for key in ("state_dict", "model_state", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not (isinstance(obj, dict) and all(isinstance(k, str) for k in obj)
            and all(isinstance(v, np.ndarray) for v in obj.values())):
        raise ValueError(f"{path} holds no state dict of tensors")
    prefix = "module." if obj and all(k.startswith("module.") for k in obj) else ""
    return {k[len(prefix):]: np.array(v) for k, v in obj.items()}
