"""Reads PyTorch checkpoints (`.pth` / `.pt`) into numpy without torch and without running code.

A `.pth` file is a pickle, and unpickling can call any Python function the file names. This
reader resolves only the few names a checkpoint of tensors needs (the tensor rebuild helpers,
storage types and `OrderedDict`); a file that asks for anything else is refused with
`UnsafeCheckpointError` before anything it names is called. Both of torch's layouts are read:
the zip archive (torch >= 1.6) and the older sequential "legacy" file.
"""
import collections
import io
import pickle
import zipfile

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The checkpoint asks for a Python object other than tensors and plain containers."""


class _StorageType:
    def __init__(self, name):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor(storage, offset, size, stride, *_):
    """torch._utils._rebuild_tensor_v2: a strided view of a flat storage. A view, because a
    legacy file's storages are filled only after its object pickle is read."""
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * storage.itemsize for s in stride))


def _rebuild_parameter(data, *_):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}
_ALLOWED.update({("torch", name): _StorageType(name) for name in _STORAGE_DTYPES})


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, load_storage, source):
        super().__init__(file)
        self._load_storage, self._source = load_storage, source

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise UnsafeCheckpointError(
                f"{self._source} asks for {module}.{name}; only tensors and plain containers "
                "are read from PyTorch files, so that loading cannot run code. If you trust "
                "the file, load it with torch.load(weights_only=False) and save its "
                "state_dict() of tensors with torch.save.")
        return _ALLOWED[(module, name)]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise UnsafeCheckpointError(f"{self._source}: unknown persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise UnsafeCheckpointError(f"{self._source}: {storage_type!r} is not a storage type")
        return self._load_storage(str(key), storage_type.dtype, int(numel))


def _read_zip(path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise ValueError(f"{path} is a zip file but not a PyTorch checkpoint (no data.pkl)")
        root = pickles[0][: -len("data.pkl")]
        order = "little"
        if root + "byteorder" in names:
            order = archive.read(root + "byteorder").decode().strip()
        cache = {}

        def load_storage(key, dtype, numel):
            if key not in cache:
                raw = archive.read(f"{root}data/{key}")
                cache[key] = np.frombuffer(raw, dtype.newbyteorder("<" if order == "little"
                                                                   else ">"))[:numel]
            return cache[key]

        data = io.BytesIO(archive.read(pickles[0]))
        return _Unpickler(data, load_storage, path).load()


def _read_legacy(path):
    with open(path, "rb") as f:
        def safe_load():  # every pickle in the file goes through the allow-list
            return _Unpickler(f, None, path).load()

        try:
            magic = safe_load()
        except UnsafeCheckpointError:
            raise
        except Exception:  # not a pickle at all
            magic = None
        if magic != _LEGACY_MAGIC:
            raise ValueError(f"{path} is not a PyTorch checkpoint (neither a zip archive nor a "
                             "legacy torch.save file)")
        safe_load(), safe_load()  # protocol version, system info
        storages = {}

        def load_storage(key, dtype, numel):
            return storages.setdefault(key, np.empty(numel, dtype))

        result = _Unpickler(f, load_storage, path).load()
        for key in safe_load():  # then each storage: its element count and its bytes
            storage = storages[str(key)]
            size = int.from_bytes(f.read(8), "little")
            storage[:] = np.frombuffer(f.read(size * storage.itemsize), storage.dtype)
    return result


def read_checkpoint(path):
    """The object saved in a PyTorch file, with every tensor as a numpy array (a view of the
    file's storage, read-only for zip files)."""
    path = str(path)
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    return _read_legacy(path)


def read_state_dict(path):
    """`{name: numpy array}` of a checkpoint, unwrapping the usual containers (`state_dict`,
    `model`, `model_state`) and a DataParallel `module.` prefix."""
    obj = read_checkpoint(path)
    for key in ("state_dict", "model_state", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise ValueError(f"{path} holds no state dict of tensors")
    prefix = "module." if obj and all(k.startswith("module.") for k in obj) else ""
    return {k[len(prefix):]: np.array(v) for k, v in obj.items()}
