"""Writes PyTorch checkpoint files by hand, in both of torch's layouts, without importing torch.

Tests describe every storage and every tensor's size, stride and offset, so they can write the
files torch writes and also the ones it never would (a tensor reaching outside its storage, a
storage shorter than declared). `test_weights_torch_files` checks that torch reads the valid ones
as this module means them.
"""
import collections
import dataclasses
import io
import pickle
import zipfile

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


@dataclasses.dataclass
class Storage:
    type_name: str      # torch's storage class: "FloatStorage", "LongStorage", ...
    data: bytes         # the element bytes, little-endian; None: referenced but not in the file
    numel: int          # the element count the pickle declares
    count: int = None   # the count a legacy file writes before the bytes (default: numel)


@dataclasses.dataclass
class Tensor:
    storage: object     # key in the storages (or a Tensor, which torch never writes)
    offset: object      # the values _rebuild_tensor_v2 receives; any picklable value
    size: object
    stride: object
    storage_type: str = None  # the type its storage id names (default: the storage's own)


class _Global:
    """A `module.name` reference written as a GLOBAL opcode, without importing the module."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self):  # the pickler accepts only callables as a reduce function
        raise NotImplementedError


class _StorageRef:
    def __init__(self, key, type_name):
        self.key, self.type_name = key, type_name


class _TensorRef:
    def __init__(self, tensor):
        self.tensor = tensor

    def __reduce__(self):
        t = self.tensor
        storage = (_TensorRef(t.storage) if isinstance(t.storage, Tensor)
                   else _StorageRef(t.storage, t.storage_type))
        return (_Global("torch._utils", "_rebuild_tensor_v2"),
                (storage, t.offset, t.size, t.stride, False, collections.OrderedDict()))


class _Pickler(pickle._Pickler):
    """The pure-Python pickler, whose dispatch table can be extended: torch's globals are
    written by name, and storages as torch's persistent ids."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, storages, legacy):
        super().__init__(file, protocol=2)
        self.storages, self.legacy = storages, legacy

    def _save_global(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())

    dispatch[_Global] = _save_global

    def persistent_id(self, obj):
        if not isinstance(obj, _StorageRef):
            return None
        storage = self.storages[obj.key]
        type_name = obj.type_name or storage.type_name
        pid = ("storage", _Global("torch", type_name), obj.key, "cpu", storage.numel)
        return pid + (None,) if self.legacy else pid  # legacy ids end with a view (none)


def _dumps(obj, storages, legacy):
    out = io.BytesIO()
    _Pickler(out, storages, legacy).dump(obj)
    return out.getvalue()


def tensors_to_pickle(obj):
    """`obj` with every `Tensor` in (nested) dicts replaced by what pickles as a torch tensor."""
    if isinstance(obj, Tensor):
        return _TensorRef(obj)
    if isinstance(obj, dict):
        return type(obj)((k, tensors_to_pickle(v)) for k, v in obj.items())
    return obj


def dumps(obj, storages, layout):
    """The bytes of a checkpoint holding `obj` (dicts of `Tensor`s), whose storages are
    `storages` (`{key: Storage}`): `layout` "zip" (torch >= 1.6) or "legacy"."""
    obj = tensors_to_pickle(obj)
    out = io.BytesIO()
    if layout == "zip":
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("archive/data.pkl", _dumps(obj, storages, legacy=False))
            archive.writestr("archive/byteorder", "little")
            for key, storage in storages.items():
                if storage.data is not None:
                    archive.writestr(f"archive/data/{key}", storage.data)
            archive.writestr("archive/version", "3\n")
        return out.getvalue()
    for header in (LEGACY_MAGIC, LEGACY_PROTOCOL,
                   {"protocol_version": LEGACY_PROTOCOL, "little_endian": True,
                    "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(header, out, protocol=2)
    out.write(_dumps(obj, storages, legacy=True))
    pickle.dump(sorted(k for k, storage in storages.items() if storage.data is not None), out,
                protocol=2)
    out.write(storage_bytes(storages, layout))
    return out.getvalue()


def storage_bytes(storages, layout):
    """The storages' part of the file: the bytes a reader may take tensor values from (in a
    legacy file, each storage's element count and then its bytes, in key order)."""
    if layout == "zip":
        return b"".join(s.data for _, s in sorted(storages.items()) if s.data is not None)
    out = b""
    for _, storage in sorted(storages.items()):
        if storage.data is not None:
            count = storage.numel if storage.count is None else storage.count
            out += (count % 2**64).to_bytes(8, "little") + storage.data  # int64; any count wraps
    return out
