"""Decoding real files that the tests write with PyAV, and the real clips of ../shared/fixtures."""
import json
import logging
import os
import queue
import re
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import fixtures_or_skip
from keras_video.data import decoding
from keras_video.data.decoding import VideoDecodeError, VideoReader, read_video
from keras_video.data.encoding import write_video


def numbered_frames(count, height=32, width=48):
    """Frame i is a flat colour whose red level encodes i % 30 and blue level i // 30, in steps
    of 8, plus a fixed green ramp. 4:2:0 chroma subsampling next to the ramp moves red and blue
    by up to 3 levels, so the step keeps every frame's number readable after crops and resizes."""
    numbers = np.arange(count)
    frames = np.zeros((count, height, width, 3), np.uint8)
    frames[..., 0] = (20 + 8 * (numbers % 30))[:, None, None]
    frames[..., 1] = np.linspace(30, 220, width).astype(np.uint8)[None, None, :]
    frames[..., 2] = (40 + 8 * (numbers // 30))[:, None, None]
    return frames


def frame_numbers(frames):
    """Recovers each frame's number from its red and blue levels; `frames` is (..., H, W, 3)."""
    red, blue = (frames[..., c].astype(float).mean(axis=(-2, -1)) for c in (0, 2))
    return (np.round((red - 20) / 8) + 30 * np.round((blue - 40) / 8)).astype(int)


FORMATS = [  # (file name, writer arguments, frame size)
    ("h264.mp4", {}, (32, 48)),
    ("h264.mkv", {}, (32, 48)),
    ("mpeg4.avi", {}, (32, 48)),
    ("vp9.webm", {}, (32, 48)),
    ("h264.mov", {}, (32, 48)),
    ("odd_size.mp4", {}, (33, 47)),
    ("portrait.mp4", {}, (64, 36)),
    ("audio.mp4", {"audio": True}, (32, 48)),
    ("audio.mkv", {"audio": True}, (32, 48)),
    ("audio.avi", {"audio": True}, (32, 48)),
    ("keyframes_every_5.mp4", {"gop_size": 5}, (32, 48)),
    ("keyframes_every_5.avi", {"gop_size": 5}, (32, 48)),
]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    written = {}
    for name, kwargs, (height, width) in FORMATS:
        frames = numbered_frames(40, height, width)
        write_video(root / name, frames, fps=20, **kwargs)
        written[name] = (root / name, frames)
    return written


@pytest.mark.parametrize("name", [f[0] for f in FORMATS])
def test_whole_file_matches_what_was_written(videos, name):
    path, frames = videos[name]
    video = read_video(path)
    assert video.frames.dtype == np.uint8 and video.frames.shape == frames.shape
    assert video.num_frames == 40 and video.fps == pytest.approx(20)
    assert video.duration == pytest.approx(2.0, abs=0.06)
    np.testing.assert_array_equal(frame_numbers(video.frames), np.arange(40))
    assert np.abs(video.frames.astype(int) - frames).mean() < 3
    np.testing.assert_allclose(np.diff(video.timestamps), 0.05, atol=1e-3)


@pytest.mark.parametrize("name", ["h264.mp4", "mpeg4.avi", "audio.avi", "vp9.webm",
                                  "keyframes_every_5.mp4", "keyframes_every_5.avi"])
def test_clips_are_the_frames_at_their_positions(videos, name):
    path, _ = videos[name]
    whole = read_video(path).frames
    for start, count, stride in [(0, 8, 1), (7, 8, 3), (23, 5, 4), (31, 9, 1)]:
        clip = read_video(path, start=start, num_frames=count, stride=stride)
        expected = start + stride * np.arange(count)
        np.testing.assert_array_equal(clip.indices, expected)
        np.testing.assert_array_equal(clip.frames, whole[expected])
        np.testing.assert_allclose(clip.timestamps - read_video(path, num_frames=1).timestamps[0],
                                   expected / 20, atol=1e-3)


def test_random_access_in_any_order_with_repeats(videos):
    path, _ = videos["keyframes_every_5.mp4"]
    whole = read_video(path).frames
    order = [33, 2, 2, 17, 39, 0, 17]
    with VideoReader(path) as reader:
        np.testing.assert_array_equal(reader.get(order), whole[order])


def test_seeks_to_the_keyframe_before_the_clip(videos, monkeypatch):
    path, _ = videos["keyframes_every_5.mp4"]
    starts = []
    original = VideoReader._frames_from

    def spy(self, keyframe, *args):
        starts.append(int(keyframe))
        return original(self, keyframe, *args)

    monkeypatch.setattr(VideoReader, "_frames_from", spy)
    clip = read_video(path, start=32, num_frames=4)
    np.testing.assert_array_equal(frame_numbers(clip.frames), [32, 33, 34, 35])
    assert starts == [30]  # not 0: decoding starts at the group of pictures holding frame 32


def stream_facts(container):
    """What the reader takes from an opened container: rates, counts, sizes, clocks."""
    facts = [container.format.name, container.duration]
    for stream in container.streams:
        context = stream.codec_context
        facts.append((stream.type, stream.time_base, stream.frames, stream.duration,
                      stream.start_time, getattr(stream, "average_rate", None),
                      getattr(stream, "guessed_rate", None), getattr(context, "width", None),
                      getattr(context, "height", None), getattr(context, "sample_rate", None)))
    return facts


@pytest.mark.parametrize("name", [f[0] for f in FORMATS])
def test_mp4_and_mov_files_open_without_the_probe_decoding(videos, name):
    """The probe decodes frames (and so learns the pixel format) except in MP4 and MOV files,
    whose headers say all it would find; what the reader reads is the same either way."""
    path, _ = videos[name]
    with av.open(str(path)) as probed, decoding._open(str(path), 10.0) as opened:
        assert stream_facts(opened) == stream_facts(probed)
        decoded_by_probe = opened.streams.video[0].codec_context.format is not None
        assert decoded_by_probe == (path.suffix not in (".mp4", ".mov"))


@pytest.mark.parametrize("name", ["h264.mkv", "vp9.webm", "mpeg4.avi"])
def test_other_containers_named_mp4_are_probed_in_full(videos, tmp_path, name):
    path, _ = videos[name]
    misnamed = tmp_path / "misnamed.mp4"
    misnamed.write_bytes(path.read_bytes())
    with av.open(str(path)) as probed, decoding._open(str(misnamed), 10.0) as opened:
        assert stream_facts(opened) == stream_facts(probed)
        assert opened.streams.video[0].codec_context.format is not None
    np.testing.assert_array_equal(read_video(misnamed).frames, read_video(path).frames)


def test_start_in_seconds(videos):
    path, _ = videos["h264.mkv"]
    clip = read_video(path, start_sec=1.0, num_frames=3)
    np.testing.assert_array_equal(frame_numbers(clip.frames), [20, 21, 22])


def test_resize_during_decode_keeps_the_aspect_ratio(videos):
    path, frames = videos["portrait.mp4"]
    clip = read_video(path, num_frames=4, short_side=18)
    assert clip.frames.shape == (4, 32, 18, 3)
    # The green ramp survives the resize: resampled columns of the written frame.
    np.testing.assert_allclose(clip.frames[0, 16, :, 1].astype(float),
                               np.interp(np.linspace(0, 35, 18), np.arange(36), frames[0, 16, :, 1]),
                               atol=12)


def test_variable_frame_rate_timestamps_and_resampling(tmp_path, rng):
    gaps = rng.choice([0.02, 0.05, 0.1], size=29)
    times = np.concatenate([[0.0], np.cumsum(gaps)])
    frames = numbered_frames(30)
    path = tmp_path / "vfr.mp4"
    write_video(path, frames, timestamps=times)
    video = read_video(path)
    np.testing.assert_allclose(video.timestamps - video.timestamps[0], times, atol=1.5e-3)
    np.testing.assert_array_equal(frame_numbers(video.frames), np.arange(30))
    # At a fixed 10 fps, frame j is the one on screen at j / 10 s.
    resampled = read_video(path, fps=10)
    on_screen = np.searchsorted(times, np.arange(resampled.num_frames) / 10 + 1e-6, side="right") - 1
    np.testing.assert_array_equal(frame_numbers(resampled.frames), on_screen)
    assert resampled.fps == 10 and resampled.num_frames == int(np.floor(video.duration * 10 + 1e-6))


def test_resampling_a_constant_rate_file(videos):
    path, _ = videos["h264.mp4"]
    half = read_video(path, fps=10)
    assert half.num_frames == 20
    np.testing.assert_array_equal(frame_numbers(half.frames), np.arange(0, 40, 2))
    double = read_video(path, fps=40, start=10, num_frames=4)
    np.testing.assert_array_equal(frame_numbers(double.frames), [5, 5, 6, 6])


# --- decoding only what the returned frames need -------------------------------------------
def panning_frames(count, height=48, width=64, seed=0):
    """A smooth random texture sliding one pixel per frame: motion that x264 codes with
    B-frames, some of them references (its B-pyramid), so that a clip leaves frames out."""
    texture = np.random.default_rng(seed).integers(0, 256, (height + 4, width + count + 4, 3))
    smooth = sum(texture[i:i + height, j:j + width + count] for i in range(5) for j in range(5)) / 25
    return np.stack([smooth[:, t:t + width] for t in range(count)]).astype(np.uint8)


def full_decode(path, skip_frame=None):
    """Every frame by a plain sequential PyAV decode (RGB), and the presentation times."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if skip_frame:
            stream.codec_context.skip_frame = skip_frame
        frames = list(container.decode(stream))
    return np.stack([f.to_ndarray(format="rgb24") for f in frames]), [f.pts for f in frames]


BFRAME_TIMES = np.cumsum(np.r_[0.0, np.random.default_rng(3).choice([0.02, 0.05, 0.1], size=59)])


def write_mpeg4_avi_with_b_frames(path, frames, fps=20):
    """MPEG-4 Part 2 in AVI with B-frames, as XviD writes UCF101 (write_video writes none)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        context = stream.codec_context
        context.max_b_frames, context.gop_size, context.qmin, context.qmax = 2, 20, 4, 4
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


@pytest.fixture(scope="module")
def bframe_videos(tmp_path_factory):
    """name -> (path, every frame of a full decode, written timestamps, reference frame numbers
    where the decoder's timestamps tell them)."""
    root = tmp_path_factory.mktemp("bframes")
    frames = panning_frames(60)
    written = {}
    for name, kwargs in [("bframes.mp4", {"gop_size": 20}), ("bframes.mkv", {}), ("bframes.mov", {}),
                         ("bframes_vfr.mp4", {"timestamps": BFRAME_TIMES}), ("bframes.avi", None)]:
        path = root / name
        if kwargs is None:
            write_mpeg4_avi_with_b_frames(path, frames)
        else:
            write_video(path, frames, fps=20, quality=23, **kwargs)
        reference, pts = full_decode(path)
        decoded, reference_pts = full_decode(path, skip_frame="NONREF")
        # Without frames that nothing references, skipping would have nothing to skip.
        assert len(reference) == 60 and 10 < len(decoded) < 50, name
        references = None if kwargs is None else {pts.index(t) for t in reference_pts}
        times = BFRAME_TIMES if kwargs and "timestamps" in kwargs else np.arange(60) / 20
        written[name] = (path, reference, times, references)
    return written


@pytest.mark.parametrize("threads", [1, 0])
@pytest.mark.parametrize("name", ["bframes.mp4", "bframes.mkv", "bframes.mov", "bframes.avi"])
def test_clips_equal_a_full_decode_bit_for_bit(bframe_videos, name, threads):
    path, reference, _, _ = bframe_videos[name]
    for start, count, stride in [(0, 8, 2), (13, 8, 3), (22, 16, 2), (41, 8, 2), (59, 1, 1), (3, 20, 1)]:
        indices = start + stride * np.arange(count)
        with VideoReader(path, threads=threads) as reader:
            np.testing.assert_array_equal(reader.get(indices), reference[indices],
                                          err_msg=f"{start}, {count}, {stride}")
    with VideoReader(path, threads=threads) as reader:  # one reader, any order, repeats
        order = [50, 3, 3, 27, 59, 0, 27, 12]
        np.testing.assert_array_equal(reader.get(order), reference[order])
        np.testing.assert_array_equal(np.stack(list(reader.iter_frames())), reference)


def test_frames_no_returned_frame_needs_are_not_decoded(bframe_videos, monkeypatch):
    path, reference, _, references = bframe_videos["bframes.mp4"]
    decoded = []
    original = VideoReader._frames_from

    def counting(self, keyframe, needed):
        for number, frame in original(self, keyframe, needed):
            decoded.append(number)
            yield number, frame

    monkeypatch.setattr(VideoReader, "_frames_from", counting)
    clip = read_video(path, start=25, num_frames=8, stride=2)  # frames 25..39; keyframe 20
    np.testing.assert_array_equal(clip.frames, reference[clip.indices])
    wanted = set(clip.indices.tolist())
    leavable = set(range(20, 40)) - wanted - references
    assert leavable  # frames the clip can do without: not returned, referenced by none
    assert set(decoded) >= wanted and not set(decoded) & leavable


def test_frames_equal_decords_bit_for_bit(bframe_videos):
    decord = pytest.importorskip("decord")
    path, _, _, _ = bframe_videos["bframes.mp4"]
    indices = 17 + 2 * np.arange(16)
    expected = decord.VideoReader(str(path), num_threads=1).get_batch(indices).asnumpy()
    np.testing.assert_array_equal(read_video(path, start=17, num_frames=16, stride=2).frames, expected)


@pytest.mark.parametrize("name, fps", [("bframes.mp4", 15), ("bframes.mp4", 30), ("bframes.mp4", 7),
                                       ("bframes_vfr.mp4", 12), ("bframes_vfr.mp4", 25)])
def test_resampled_frames_are_the_ones_on_screen_at_each_tick(bframe_videos, name, fps):
    """At `fps`, frame j is the one on screen at j / fps: the last whose timestamp is not later.
    Checked on the pixels against a full decode, for a whole read and for a strided clip."""
    path, reference, times, _ = bframe_videos[name]
    video = read_video(path, fps=fps)
    assert times[-1] < video.duration < times[-1] + 0.11  # to the end of the last frame
    assert video.fps == fps and video.num_frames == int(np.floor(video.duration * fps + 1e-6))
    ticks = np.arange(video.num_frames) / fps
    on_screen = np.array([np.flatnonzero(times <= t + 1e-6)[-1] for t in ticks])
    np.testing.assert_array_equal(video.frames, reference[on_screen])
    np.testing.assert_allclose(video.timestamps - video.timestamps[0], ticks, atol=1e-9)
    clip = read_video(path, fps=fps, start=3, num_frames=4, stride=2)
    np.testing.assert_array_equal(clip.frames, reference[on_screen[3:11:2]])


# --- bad input -------------------------------------------------------------------------------
def make_bad_files(root, good):
    """Every kind of broken input a real collection holds, by name."""
    files = {}
    files["zero_byte.mp4"] = root / "zero_byte.mp4"
    files["zero_byte.mp4"].write_bytes(b"")
    data = good.read_bytes()
    files["truncated.mp4"] = root / "truncated.mp4"
    files["truncated.mp4"].write_bytes(data[: len(data) // 2])
    long_video = root / "long.mkv"
    write_video(long_video, numbered_frames(100), fps=20, gop_size=10)
    data = long_video.read_bytes()
    files["truncated.mkv"] = root / "truncated.mkv"
    files["truncated.mkv"].write_bytes(data[: len(data) // 3])
    files["not_a_video.mp4"] = root / "not_a_video.mp4"
    files["not_a_video.mp4"].write_text("this is a text file\n" * 50)
    files["audio_only.m4a"] = root / "audio_only.m4a"
    with av.open(str(files["audio_only.m4a"]), "w") as container:
        from keras_video.data.encoding import _Tone
        tone = _Tone(container, "aac")
        tone.write_until(0.5)
        tone.close()
    files["missing.mp4"] = root / "missing.mp4"
    files["a_directory.mp4"] = root / "a_directory.mp4"
    files["a_directory.mp4"].mkdir()
    return files


BAD_REASONS = {
    "zero_byte.mp4": "empty file",
    "truncated.mp4": "cannot open",
    "truncated.mkv": "truncated",
    "not_a_video.mp4": "cannot open",
    "audio_only.m4a": "no video stream (streams: audio)",
    "missing.mp4": "No such file",
    "a_directory.mp4": "directory",
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, videos):
    return make_bad_files(tmp_path_factory.mktemp("bad"), videos["h264.mp4"][0])


@pytest.mark.parametrize("name", sorted(BAD_REASONS))
def test_bad_files_raise_a_decode_error_naming_file_and_reason(bad_files, name):
    with pytest.raises(VideoDecodeError, match=re.escape(BAD_REASONS[name])) as info:
        read_video(bad_files[name], num_frames=4)
    assert info.value.path == str(bad_files[name]) and str(bad_files[name]) in str(info.value)


def test_a_stream_no_decoder_knows_raises(videos, tmp_path):
    data = videos["h264.mp4"][0].read_bytes()  # the sample description's codec tag, made up
    tag = data.index(b"avc1", data.index(b"stsd"))
    path = tmp_path / "unknown_codec.mp4"
    path.write_bytes(data[:tag] + b"zzzz" + data[tag + 4:])
    with pytest.raises(VideoDecodeError, match="no decoder for the video stream"):
        read_video(path)


def test_a_clip_longer_than_the_video_raises(videos):
    path, _ = videos["h264.mp4"]
    with pytest.raises(VideoDecodeError, match="too short: 16 frames every 3 from frame 0 need 46"):
        read_video(path, num_frames=16, stride=3)


@pytest.mark.timeout(60)
def test_garbage_inside_a_stream_ends_with_frames_or_an_error_not_a_hang(tmp_path):
    path = tmp_path / "corrupt.mkv"
    write_video(path, np.random.default_rng(0).integers(0, 255, (60, 32, 48, 3), np.uint8), gop_size=10)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle: middle + 4000] = np.random.default_rng(1).integers(0, 255, 4000, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    try:
        video = read_video(path)
    except VideoDecodeError as error:
        assert str(path) in str(error)
    else:
        assert video.frames.shape[1:] == (32, 48, 3)


def test_a_stuck_decoder_raises(videos, monkeypatch):
    path, _ = videos["h264.mp4"]
    monkeypatch.setattr(decoding, "_MAX_PACKETS_WITHOUT_FRAME", -1)
    with pytest.raises(VideoDecodeError, match="no progress"):
        read_video(path, num_frames=2)


class SteppingClock:
    """Stands in for the decoder's `time` module: every reading is `step` seconds after the last."""

    def __init__(self, step):
        self.step, self.now = step, 0.0

    def monotonic(self):
        self.now += self.step
        return self.now


def test_the_decoder_times_out_when_no_picture_comes_in_time(videos, monkeypatch):
    path, _ = videos["h264.mp4"]
    # A picture at most every 30 readings: 1 s apart, the 30 s deadline is met again and
    # again although the read as a whole spans far more than 30 s of this clock.
    clock = SteppingClock(1.0)
    monkeypatch.setattr(decoding, "time", clock)
    assert read_video(path).num_frames == 40 and clock.now > 60
    # 31 s between readings: the deadline has passed at the first check.
    monkeypatch.setattr(decoding, "time", SteppingClock(31.0))
    started = time.perf_counter()
    with pytest.raises(VideoDecodeError, match=r"timed out: no picture decoded in 30 s") as info:
        read_video(path, num_frames=2)
    assert info.value.path == str(path) and time.perf_counter() - started < 5


def faststart_copy(source, target):
    """`source` remuxed with its index (moov) first, as web servers store mp4 so that it plays
    while it downloads: a cut download keeps the header that counts every frame."""
    with av.open(str(source)) as src, av.open(str(target), "w", options={"movflags": "faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)


def absl_warnings(caplog, path):
    return [r.getMessage() for r in caplog.records
            if r.name == "absl" and r.levelno == logging.WARNING and str(path) in r.getMessage()]


@pytest.mark.parametrize("threads", [1, 2])
def test_a_few_missing_frames_are_read_and_logged_once(videos, tmp_path, caplog, threads):
    whole = tmp_path / f"whole_{threads}.mp4"
    faststart_copy(videos["h264.mp4"][0], whole)
    data = whole.read_bytes()
    cut = tmp_path / f"cut_{threads}.mp4"
    cut.write_bytes(data[: len(data) - len(data) // 20])  # the last 5%: a few frames
    with caplog.at_level(logging.WARNING, logger="absl"):
        assert not absl_warnings(caplog, whole) and read_video(whole).num_frames == 40
        with VideoReader(cut, threads=threads) as reader:
            held = reader.num_frames
            frames = np.stack(list(reader.iter_frames()))
        clip = read_video(cut, start=held - 10, num_frames=3, stride=2)
    assert 34 <= held < 40
    assert absl_warnings(caplog, cut) == [f"{cut}: the header declares 40 frames, the file holds "
                                          f"{held}; reading the {held}"]
    # Right up to the cut; the damaged last packet may cost the frames the decoder still held.
    np.testing.assert_array_equal(frame_numbers(frames[: held - 4]), np.arange(held - 4))
    np.testing.assert_array_equal(frame_numbers(clip.frames), held - 10 + 2 * np.arange(3))


def test_a_cut_matroska_file_says_so_by_its_duration(tmp_path, caplog):
    # Matroska declares no frame count, only the duration of the whole file.
    whole = tmp_path / "whole.mkv"
    write_video(whole, numbered_frames(100), fps=20, gop_size=10)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) - len(data) // 16])
    with caplog.at_level(logging.WARNING, logger="absl"):
        video = read_video(cut)
        read_video(cut, num_frames=2)
    assert 90 <= video.num_frames < 98
    assert absl_warnings(caplog, cut) == [f"{cut}: the header declares 5.00 s, the frames stop at "
                                          f"{video.duration:.2f} s; reading what is there"]
    np.testing.assert_array_equal(frame_numbers(video.frames[:-4]), np.arange(video.num_frames - 4))


def test_more_missing_frames_are_a_truncated_file(videos, tmp_path):
    whole = tmp_path / "whole.mp4"
    faststart_copy(videos["h264.mp4"][0], whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 3 // 4])
    with pytest.raises(VideoDecodeError, match=r"truncated: the header declares 40 frames, the file holds \d+"):
        read_video(cut)


# Two frame threads, not the automatic count: a frame-threaded decoder drops the frames its
# threads hold at a broken packet, as many as it has threads, which depends on the machine.
@pytest.mark.parametrize("threads", [1, 2])
def test_clips_at_the_cut_end_of_a_file_with_b_frames(bframe_videos, tmp_path, threads):
    """Frames left out near a damaged end cost nothing: the decoder drops what it held at the
    broken last packet, and the clips that end there are read as without skipping."""
    path, reference, _, _ = bframe_videos["bframes.mp4"]
    whole = tmp_path / "whole.mp4"
    faststart_copy(path, whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) - len(data) // 50])
    with VideoReader(cut, threads=threads) as reader:
        assert 54 <= reader.num_frames < 60
        last = reader.num_frames - 1
        for stride in (1, 2, 3):
            indices = last - stride * np.arange(4)[::-1]
            clip = reader.get(indices)
            assert clip.shape == (4, 48, 64, 3)
            np.testing.assert_array_equal(clip[0], reference[indices[0]])


@pytest.mark.parametrize("name", ["long_audio.mkv", "long_audio.mp4"])
def test_sound_running_past_the_last_picture_is_no_missing_frame(tmp_path, caplog, name):
    from keras_video.data.encoding import _Tone
    path = tmp_path / name
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=20)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        tone = _Tone(container, "aac")
        for index, image in enumerate(numbered_frames(40)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            tone.write_until((index + 1) / 20)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        tone.write_until(2.15)  # three frames' time of sound after the last picture
        tone.close()
    with caplog.at_level(logging.WARNING, logger="absl"):
        video = read_video(path)
    assert video.num_frames == 40 and not absl_warnings(caplog, path)


@pytest.mark.parametrize("name", [f[0] for f in FORMATS if f[0] != "audio.avi"])
def test_whole_files_read_without_a_warning(videos, caplog, name):
    # (audio.avi is left out: the AVI muxer leaves frame slot 1 of write_video's AVI-with-audio
    # files empty, 41 slots for 40 pictures, and the reader rightly says so.)
    path, _ = videos[name]
    with caplog.at_level(logging.WARNING, logger="absl"):
        read_video(path)
    assert not absl_warnings(caplog, path)


def test_argument_errors(videos):
    path, _ = videos["h264.mp4"]
    with pytest.raises(ValueError, match="stride"):
        read_video(path, stride=0)
    with pytest.raises(ValueError, match="fps"):
        read_video(path, fps=0)
    with VideoReader(path) as reader, pytest.raises(VideoDecodeError, match="frame 40 requested"):
        reader.get([40])


# --- fuzzing: damaged real files ------------------------------------------------------------
# The reader runs in a child process, so that a crash in FFmpeg or a hang fails the example
# instead of killing or stalling the test run. The child loads decoding.py on its own (it
# needs only PyAV, NumPy and absl): importing the package would import TensorFlow, seconds per
# restart.
_FUZZ_CHILD = r"""
import importlib.util, json, sys, traceback
spec = importlib.util.spec_from_file_location("decoding_under_test", sys.argv[1])
decoding = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = decoding
spec.loader.exec_module(decoding)
print("ready", flush=True)
for line in sys.stdin:
    request, outcomes = json.loads(line), []
    for kwargs in request["reads"]:
        try:
            video = decoding.read_video(request["path"], timeout=request["timeout"], **kwargs)
            outcomes.append(["frames", list(video.frames.shape), str(video.frames.dtype)])
        except decoding.VideoDecodeError as error:
            outcomes.append(["VideoDecodeError", error.reason])
        except BaseException:
            outcomes.append(["unexpected", traceback.format_exc()])
    print(json.dumps(outcomes), flush=True)
"""
FUZZ_READS = [{}, {"start": 2, "num_frames": 4, "stride": 2}, {"start": 9, "num_frames": 3, "short_side": 24}]
FUZZ_TIMEOUT = 5.0      # the reader's own deadline inside the child
FUZZ_LIMIT = 30.0       # seconds before an example counts as a hang


class DecodeChild:
    """`read_video` calls in a child process that is restarted after a crash or a hang."""

    def __init__(self, log_path):
        self.log_path, self.process = log_path, None

    def start(self):
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-c", _FUZZ_CHILD, decoding.__file__],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.log, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, args=(self.process.stdout, self.lines), daemon=True).start()
        assert self.lines.get(timeout=120) == "ready\n", self.stderr()

    @staticmethod
    def _pump(stream, lines):
        for line in stream:
            lines.put(line)
        lines.put(None)  # the child ended

    def read(self, path):
        """The outcome of each of FUZZ_READS on `path`, or a one-line failure."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        request = {"path": str(path), "reads": FUZZ_READS, "timeout": FUZZ_TIMEOUT}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        try:
            line = self.lines.get(timeout=FUZZ_LIMIT)
        except queue.Empty:
            self.close()
            return f"hang: no answer in {FUZZ_LIMIT:g} s"
        if line is None:
            code = self.process.wait()
            self.process = None
            return f"crash: the child exited with {code}; stderr: {self.stderr()[-2000:]}"
        return json.loads(line)

    def stderr(self):
        self.log.flush()
        with open(self.log_path) as log:
            return log.read()

    def close(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


FUZZ_FORMATS = {  # small files with every kind of frame: I, P, B (referenced and not)
    "h264.mp4": {"gop_size": 8, "quality": 23},
    "mpeg4.avi": {"gop_size": 8},
    "h264_audio.mkv": {"gop_size": 8, "quality": 23, "audio": True},
}


class FuzzFiles:
    """The undamaged files and the child that reads damaged copies (a short repr: Hypothesis
    prints the test's arguments with each failing example)."""

    def __init__(self, root):
        self.root, self.originals = root, {}
        for name, kwargs in FUZZ_FORMATS.items():
            write_video(root / name, panning_frames(24), fps=20, **kwargs)
            self.originals[name] = (root / name).read_bytes()
        self.child = DecodeChild(root / "child.log")

    def __repr__(self):
        return f"FuzzFiles({self.root})"


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory):
    files = FuzzFiles(tmp_path_factory.mktemp("fuzz"))
    yield files
    files.child.close()


# A mutation: (kind, values). Positions are fractions of the file, so that one strategy
# serves files of every size; flips XOR a byte, header damage overwrites the first 4 KB.
MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1, exclude_max=True),
                                                   st.integers(1, 255)), min_size=1, max_size=40)),
    st.tuples(st.just("header"), st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)),
                                          min_size=1, max_size=64)),
)


def mutate(data, mutation):
    kind, values = mutation
    data = bytearray(data)
    if kind == "truncate":
        return bytes(data[: int(values * len(data))])
    for position, value in values:
        if kind == "flip":
            data[int(position * len(data))] ^= value
        else:
            data[position % len(data)] = value
    return bytes(data)


def check_damaged_file(fuzz, name, mutation):
    path = fuzz.root / f"damaged_{name}"
    path.write_bytes(mutate(fuzz.originals[name], mutation))
    outcomes = fuzz.child.read(path)
    assert not isinstance(outcomes, str), f"{name}, {mutation}: {outcomes}"
    for kwargs, (kind, *detail) in zip(FUZZ_READS, outcomes):
        assert kind in ("frames", "VideoDecodeError"), f"{name}, {mutation}, {kwargs}: {detail}"
        if kind == "frames":
            shape, dtype = detail
            assert dtype == "uint8" and len(shape) == 4 and shape[-1] == 3, (name, mutation, kwargs)
            assert shape[0] == kwargs.get("num_frames", shape[0]) >= 1, (name, mutation, kwargs)


@pytest.mark.parametrize("name", sorted(FUZZ_FORMATS))
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutation=MUTATIONS)
# Damage that found bugs once (a missing decoder, a dropped first keyframe), kept as examples.
@example(mutation=("truncate", 0.84375))
@example(mutation=("header", [(1595, 0)]))
def test_damaged_files_give_frames_or_a_decode_error(fuzz, name, mutation):
    check_damaged_file(fuzz, name, mutation)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FUZZ_FORMATS))
@settings(max_examples=400, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutation=MUTATIONS)
def test_damaged_files_give_frames_or_a_decode_error_many(fuzz, name, mutation):
    check_damaged_file(fuzz, name, mutation)


# --- the real clips of ../shared/fixtures/videos ---------------------------------------------
def source_table():
    """(file, width, height, fps, frames) rows of SOURCE.md."""
    text = fixtures_or_skip("videos", "SOURCE.md").read_text()
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 6 and re.fullmatch(r"\d+x\d+", cells[3] or ""):
            width, height = map(int, cells[3].split("x"))
            rows.append((cells[0], width, height, float(cells[4]), int(cells[5])))
    return rows


def test_real_clips_match_source_md():
    rows = source_table()
    assert len(rows) == 4
    for name, width, height, fps, count in rows:
        path = fixtures_or_skip("videos", name)
        with VideoReader(path) as reader:
            assert reader.num_frames == count, name
            assert reader.fps == pytest.approx(fps), name
            middle = reader.get(np.arange(count // 2, count // 2 + 8, 2))
            assert middle.shape == (4, height, width, 3), name
        # Random access gives the frames of a plain sequential decode.
        with av.open(str(path)) as container:
            sequential = [f for i, f in enumerate(container.decode(video=0)) if i < count // 2 + 8]
        expected = np.stack([sequential[i].to_ndarray(format="rgb24")
                             for i in range(count // 2, count // 2 + 8, 2)])
        np.testing.assert_array_equal(middle, expected, err_msg=name)


def test_real_clips_with_audio_and_resampling():
    path = fixtures_or_skip("videos", "test.avi")  # MPEG-4 Part 2 + MP3, the UCF101 format
    video = read_video(path, fps=12.5, num_frames=16, stride=2, short_side=112)
    assert video.frames.shape == (16, 112, 149, 3)
    np.testing.assert_allclose(np.diff(video.timestamps), 2 / 12.5)
    assert os.path.basename(path) == "test.avi"
