"""What every exported file carries about its model, inside the file itself: class names, the
clip spec, provenance, and a sha256 of the model's bytes.

The same JSON object goes into each format's own metadata slot:
- ONNX: the `keras_video` entry of `metadata_props`;
- TFLite: a `keras_video` entry of the flatbuffer's `metadata` (a buffer of UTF-8 JSON);
- SavedModel: `assets.extra/keras_video.json` (and in the graph, as a constant).
A file copied alone to another machine keeps its labels and clip spec. The digest lets a
loader refuse a damaged file (a flipped bit in a weight gives confident wrong outputs): for a
single file it is the sha256 of the file's bytes with the digest's own 64 hex digits read as
zeros; for a SavedModel, of its `saved_model.pb` and variable files.
"""
import hashlib
import json
import os

KEY = "keras_video"
FORMAT_VERSION = 1
DIGEST_FIELD = b'"model_sha256": "'
_PLACEHOLDER = b"0" * 64
SAVEDMODEL_FILE = os.path.join("assets.extra", "keras_video.json")


class CorruptModelError(ValueError):
    """An exported file whose metadata is unreadable or whose bytes no longer match their
    digest."""


def describe(preset_info, **extra):
    """The metadata object of an export: a preset's facts (`Preset.info()`) and `extra`."""
    return {"format_version": FORMAT_VERSION, **preset_info, **extra,
            "model_sha256": _PLACEHOLDER.decode()}


def encode(metadata):
    """The metadata as JSON bytes, the digest field last and still a placeholder."""
    values = {k: v for k, v in metadata.items() if k != "model_sha256"}
    text = json.dumps(values, sort_keys=True)[:-1] + ', "model_sha256": "' + "0" * 64 + '"}'
    return text.encode("utf-8")


def _digest_span(content):
    start = content.rfind(DIGEST_FIELD)
    if start < 0:
        return None
    start += len(DIGEST_FIELD)
    return start, start + 64


def seal(content):
    """`content` (a whole file holding `encode`d metadata) with its digest filled in."""
    start, end = _digest_span(content)
    if content[start:end] != _PLACEHOLDER:
        raise ValueError("the metadata's digest is already filled in")
    digest = hashlib.sha256(content).hexdigest().encode()
    return content[:start] + digest + content[end:]


def verify(content, where):
    """Raises `CorruptModelError` when a sealed file's bytes differ from its digest; files
    without one (older exports) pass."""
    span = _digest_span(content)
    if span is None:
        return
    start, end = span
    recorded = content[start:end].decode("ascii", "replace")
    actual = hashlib.sha256(content[:start] + _PLACEHOLDER + content[end:]).hexdigest()
    if actual != recorded:
        raise CorruptModelError(f"{where} is damaged: its bytes no longer match the sha256 "
                                "recorded in it; export the model again or copy it anew")


def decode(text, where):
    """The metadata object from its JSON text; a clear error names the file."""
    try:
        metadata = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptModelError(f"{where}: its keras-video metadata is not valid JSON "
                                f"({error}); export the model again") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("format_version"), int):
        raise CorruptModelError(f"{where}: its keras-video metadata is not an object with a "
                                "format_version; export the model again")
    if metadata["format_version"] > FORMAT_VERSION:
        raise CorruptModelError(f"{where} was written by a newer keras-video (metadata format "
                                f"{metadata['format_version']}); upgrade keras-video")
    return metadata


# TFLite: a `metadata` entry of the flatbuffer (schema: ai_edge_litert.schema_py_generated).

def _tflite_schema():
    from ai_edge_litert import schema_py_generated
    return schema_py_generated


def tflite_with_metadata(content, metadata):
    """The flatbuffer `content` with `metadata` added under the name `keras_video`, sealed."""
    import flatbuffers
    import numpy as np
    schema = _tflite_schema()
    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(encode(metadata), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata = (model.metadata or []) + [entry]
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return seal(bytes(builder.Output()))


def tflite_metadata(content, where):
    """The metadata in a TFLite flatbuffer, None for a file without it."""
    schema = _tflite_schema()
    try:
        model = schema.Model.GetRootAs(content, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() == KEY.encode():
                data = model.Buffers(entry.Buffer()).DataAsNumpy()
                return decode(bytes(data), where)
    except CorruptModelError:
        raise
    except Exception as error:  # the flatbuffer itself is damaged
        raise CorruptModelError(f"{where} is not a readable TFLite file ({error})") from None
    return None


# SavedModel: a JSON file beside the graph, and the digest of the graph and variables.

def savedmodel_digest(path):
    digest = hashlib.sha256()
    names = ["saved_model.pb"] + sorted(
        os.path.join("variables", name) for name in os.listdir(os.path.join(path, "variables")))
    for name in names:
        digest.update(name.encode() + b"\0")
        with open(os.path.join(path, name), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def write_savedmodel(path, metadata):
    metadata = {**metadata, "model_sha256": savedmodel_digest(path)}
    with open(os.path.join(path, SAVEDMODEL_FILE), "w", encoding="utf-8") as f:
        json.dump(metadata, f, sort_keys=True)


def savedmodel_metadata(path):
    """The metadata of a SavedModel folder (checked against its files), None without it."""
    file = os.path.join(path, SAVEDMODEL_FILE)
    if not os.path.isfile(file):
        return None
    with open(file, "rb") as f:
        metadata = decode(f.read(), file)
    if metadata.get("model_sha256") not in (None, savedmodel_digest(path)):
        raise CorruptModelError(f"{path} is damaged: its saved_model.pb or variables no longer "
                                f"match the sha256 in {SAVEDMODEL_FILE}; export it again")
    return metadata
