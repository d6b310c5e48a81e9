"""Getting upstream weight files: download (hash-checked) or a local mirror, and the cache of
converted Keras weights so that each conversion runs once per machine.

`KERAS_VIDEO_WEIGHTS_MIRROR=/dir` makes every file come from `/dir/<filename>` (the names in
`keras_video.presets.get(name).weights.files`) instead of the network, for machines without
internet.
Downloads and converted weights live under `$KERAS_HOME` (default `~/.keras`), as Keras's own.
"""
import dataclasses
import hashlib
import os
import tempfile
import warnings
import zipfile

import keras
import numpy as np

MIRROR_ENV = "KERAS_VIDEO_WEIGHTS_MIRROR"


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """One upstream file. `sha256` is the full digest where it is published; otherwise
    `sha256_prefix` is the digest prefix the publisher put in the file name (torchvision's and
    OpenMMLab's convention); `filename` keeps same-named files of one model apart."""
    url: str
    filename: str
    sha256: str = None
    sha256_prefix: str = None


def keras_home():
    return os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_hash(path, source, where):
    if not (source.sha256 or source.sha256_prefix):
        return
    actual = sha256_of(path)
    expected = source.sha256 or source.sha256_prefix
    if not actual.startswith(expected):
        raise ValueError(
            f"sha256 mismatch for {path} ({where}): expected {expected}"
            f"{'' if source.sha256 else '... (the prefix its publisher put in the file name)'}, "
            f"got {actual}. The file is incomplete, corrupted or not the published one: delete "
            f"it and try again{', or replace the mirror copy' if where == 'mirror' else ''} "
            f"(it comes from {source.url}).")


def fetch(source):
    """Local path of an upstream file: from the mirror directory if `KERAS_VIDEO_WEIGHTS_MIRROR`
    is set, else downloaded once into the Keras cache. Either way its hash is checked."""
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        path = os.path.join(mirror, source.filename)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{MIRROR_ENV}={mirror} but {source.filename} is not there. Download it from "
                f"{source.url} on a machine with internet and copy it into {mirror} under that "
                f"name, or unset {MIRROR_ENV} to download it here.")
        _check_hash(path, source, "mirror")
        return path
    downloads = os.path.join("keras_video", "downloads")
    path = os.path.join(keras_home(), downloads, source.filename)  # where get_file puts it
    os.makedirs(os.path.dirname(path), exist_ok=True)  # else get_file falls back to /tmp/.keras
    try:
        path = keras.utils.get_file(source.filename, source.url, file_hash=source.sha256,
                                    cache_dir=keras_home(), cache_subdir=downloads)
    except ValueError as error:  # Keras's hash error names neither the file nor the hash
        if os.path.exists(path):
            _check_hash(path, source, "download")
        raise error
    except Exception as error:
        raise OSError(f"could not download {source.url}: {error}. Without internet, put the "
                      f"file in a folder and set {MIRROR_ENV} to it.") from error
    if not source.sha256:  # get_file checked a full digest; a file-name prefix is ours to check
        _check_hash(path, source, "download")
    return path


def converted_path(name, files):
    """Where the converted Keras weights of the preset `name` are cached. The name carries the
    digest of its first hashed file (I3D's `.index`, not its unhashed `.data`), so a changed
    upstream file never reuses a stale conversion; presets with no digest (VMZ) cannot tell."""
    digests = [f.sha256 or f.sha256_prefix for f in files if f.sha256 or f.sha256_prefix]
    tag = (digests[0] if digests else "unhashed")[:8]
    return os.path.join(keras_home(), "keras_video", "converted", f"{name}_{tag}.npz")


def cached_arrays(name, files, convert):
    """`{variable path: array}` from the conversion cache of preset `name`, made by `convert()`
    on first use. The cache is written under a temporary name and renamed, so an interrupted
    run leaves none; a cache file that cannot be read (damaged on disk) is rebuilt."""
    path = converted_path(name, files)
    if os.path.exists(path):
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return dict(arrays)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            warnings.warn(f"{path} is damaged ({error}); converting the weights again")
            os.remove(path)
    arrays = {key: value for key, value in convert().items() if "seed_generator" not in key}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, partial = tempfile.mkstemp(suffix=".npz", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return arrays
