"""Getting upstream weight files: download (hash-checked) or a local mirror, and the cache of
converted Keras weights so that each conversion runs once per machine.

`KERAS_VIDEO_WEIGHTS_MIRROR=/dir` makes every file come from `/dir/<filename>` (the names in
`keras_video.presets.get(name).weights.files`) instead of the network, for machines without
internet.
Downloads and converted weights live under `$KERAS_HOME` (default `~/.keras`), as Keras's own.
"""
import dataclasses
import glob
import hashlib
import json
import os
import tempfile
import time
import warnings
import zipfile

import keras
import numpy as np

MIRROR_ENV = "KERAS_VIDEO_WEIGHTS_MIRROR"
STALE_PART_SECONDS = 3600  # a `.part` file untouched this long belongs to no live download


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


def _hash_mismatch(path, source, shown_as):
    """What is wrong with `path`'s sha256 (the file called `shown_as` in the message), or
    None when it is the published file or no digest is published."""
    if not (source.sha256 or source.sha256_prefix):
        return None
    actual = sha256_of(path)
    expected = source.sha256 or source.sha256_prefix
    if actual.startswith(expected):
        return None
    return (f"sha256 mismatch for {shown_as}: expected {expected}"
            f"{'' if source.sha256 else '... (the prefix its publisher put in the file name)'}, "
            f"got {actual}. The file is incomplete, corrupted or not the published one "
            f"(it comes from {source.url})")


def _record_path(path):
    return path + ".download.json"


def _is_complete(path, source):
    """Whether a file in the downloads folder is a finished download of `source`: its digest
    where one is published, else the record written when its download finished (url and
    size), since Keras's get_file would return any file of that name, even the part left by
    a killed download."""
    if not os.path.isfile(path):
        return False
    if source.sha256 or source.sha256_prefix:
        return _hash_mismatch(path, source, path) is None
    try:
        with open(_record_path(path)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return False
    return record == {"url": source.url, "size": os.path.getsize(path)}


def _download(source, path):
    """Downloads `source` to `path`: under a temporary name in the same folder, renamed only
    once complete and checked, so that an interrupted download is never taken for the file."""
    folder = os.path.dirname(path)
    fd, partial = tempfile.mkstemp(prefix=f"{source.filename}.", suffix=".part", dir=folder)
    os.close(fd)
    try:
        try:
            keras.utils.get_file(os.path.basename(partial), source.url, cache_dir=folder,
                                 cache_subdir="", force_download=True)
        except Exception as error:
            raise OSError(f"could not download {source.url}: {error}. Without internet, put "
                          f"the file in a folder and set {MIRROR_ENV} to it.") from error
        mismatch = _hash_mismatch(partial, source, f"{path} (download)")
        if mismatch:
            raise ValueError(f"{mismatch}: it was not kept; try again.")
        os.replace(partial, path)
        with open(_record_path(path), "w") as f:
            json.dump({"url": source.url, "size": os.path.getsize(path)}, f)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    # What downloads killed before their cleanup left (a live download writes all the time).
    for stale in glob.glob(glob.escape(path) + ".*.part"):
        if time.time() - os.path.getmtime(stale) > STALE_PART_SECONDS:
            os.remove(stale)


def fetch(source):
    """Local path of an upstream file: from the mirror directory if `KERAS_VIDEO_WEIGHTS_MIRROR`
    is set, else downloaded once into the Keras cache. Either way its hash is checked where one
    is published; a download is kept only once complete, and one that is not (a killed run's,
    a truncated file) is downloaded again."""
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        path = os.path.join(mirror, source.filename)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{MIRROR_ENV}={mirror} but {source.filename} is not there. Download it from "
                f"{source.url} on a machine with internet and copy it into {mirror} under that "
                f"name, or unset {MIRROR_ENV} to download it here.")
        mismatch = _hash_mismatch(path, source, f"{path} (mirror)")
        if mismatch:
            raise ValueError(f"{mismatch}: replace the mirror copy.")
        return path
    path = os.path.join(keras_home(), "keras_video", "downloads", source.filename)
    if not _is_complete(path, source):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _download(source, path)
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
