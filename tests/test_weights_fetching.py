"""Downloads into the Keras cache (file:// URLs stand in for the network): a file is kept only
once complete, and what an interrupted or truncated download leaves is downloaded again, with a
published digest or without one."""
import hashlib
import os
import subprocess
import sys
import textwrap

import pytest

from keras_video.weights import fetching

CONTENT = bytes(range(256)) * 64  # 16 KiB


@pytest.fixture
def upstream(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv(fetching.MIRROR_ENV, raising=False)
    (tmp_path / "upstream").mkdir()
    path = tmp_path / "upstream" / "model.pth"
    path.write_bytes(CONTENT)
    return path


def _downloads(tmp_path):
    return tmp_path / "keras_home" / "keras_video" / "downloads"


SOURCES = {  # how the registry's files are pinned: not at all (VMZ), by prefix, by digest
    "no digest": {},
    "digest prefix": {"sha256_prefix": hashlib.sha256(CONTENT).hexdigest()[:8]},
    "full digest": {"sha256": hashlib.sha256(CONTENT).hexdigest()},
}


def _source(upstream, pin):
    return fetching.SourceFile(f"file://{upstream}", "model.pth", **SOURCES[pin])


@pytest.mark.parametrize("pin", list(SOURCES))
def test_a_partial_file_left_by_an_older_download_is_downloaded_again(tmp_path, upstream, pin):
    """keras.utils.get_file writes straight to the file's name, so a download killed before its
    cleanup left the file's first part there; without a digest get_file returns it as is."""
    _downloads(tmp_path).mkdir(parents=True)
    (_downloads(tmp_path) / "model.pth").write_bytes(CONTENT[:1000])
    path = fetching.fetch(_source(upstream, pin))
    with open(path, "rb") as f:
        assert f.read() == CONTENT


def test_a_download_truncated_later_is_downloaded_again(tmp_path, upstream):
    source = _source(upstream, "no digest")
    path = fetching.fetch(source)
    with open(path, "r+b") as f:
        f.truncate(len(CONTENT) // 2)
    upstream.write_bytes(CONTENT[::-1])  # the upstream file changed: it must be fetched anew
    assert fetching.fetch(source) == path
    with open(path, "rb") as f:
        assert f.read() == CONTENT[::-1]
    upstream.write_bytes(b"not fetched again")  # a complete download is reused
    with open(fetching.fetch(source), "rb") as f:
        assert f.read() == CONTENT[::-1]


KILLED = """
    import os, signal
    from keras.src.utils import file_utils
    from keras_video.weights import fetching

    def urlretrieve_then_die(url, target, reporthook=None):  # half the file, then SIGKILL
        with open(target, "wb") as f:
            f.write(open(url[len("file://"):], "rb").read()[:HALF])
            f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    file_utils.urlretrieve = urlretrieve_then_die
    fetching.fetch(fetching.SourceFile(URL, "model.pth"))
"""


def test_a_killed_download_is_never_taken_for_the_file(tmp_path, upstream):
    """A download killed midway (no Python cleanup runs) leaves only a `.part` file, which a
    later fetch ignores, and removes once it is old enough to be no live download's."""
    script = f"URL, HALF = {f'file://{upstream}'!r}, {len(CONTENT) // 2}\n"
    killed = subprocess.run([sys.executable, "-c", script + textwrap.dedent(KILLED)],
                            env={**os.environ, "KERAS_HOME": str(tmp_path / "keras_home")},
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    left = os.listdir(_downloads(tmp_path))
    assert len(left) == 1 and left[0].startswith("model.pth.") and left[0].endswith(".part")
    part = _downloads(tmp_path) / left[0]
    assert part.stat().st_size == len(CONTENT) // 2
    old = part.stat().st_mtime - fetching.STALE_PART_SECONDS - 1
    os.utime(part, (old, old))
    with open(fetching.fetch(_source(upstream, "no digest")), "rb") as f:
        assert f.read() == CONTENT
    assert sorted(os.listdir(_downloads(tmp_path))) == ["model.pth", "model.pth.download.json"]


def test_a_download_that_fails_is_not_kept(tmp_path, upstream):
    wrong = fetching.SourceFile(f"file://{upstream}", "model.pth", sha256="0" * 64)
    with pytest.raises(ValueError, match=f"model.pth \\(download\\): expected {'0' * 64}, got "
                                         f"{hashlib.sha256(CONTENT).hexdigest()}.*not kept"):
        fetching.fetch(wrong)
    assert os.listdir(_downloads(tmp_path)) == []
    missing = fetching.SourceFile(f"file://{upstream}.gone", "model.pth")
    with pytest.raises(OSError, match="could not download .*model.pth.gone"):
        fetching.fetch(missing)
    assert os.listdir(_downloads(tmp_path)) == []
