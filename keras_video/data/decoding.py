"""Decoding video files with PyAV: seek to the keyframe before a clip, decode only what it needs.

Frames are numbered as a full decode outputs them (0 .. num_frames - 1). The numbering comes
from the demuxed packet table (cheap: no decoding), so a clip in the middle of a long file costs
one seek plus at most a group of pictures. AVI stores no presentation timestamps (decoders hand
back permuted ones), so there frames are counted from the keyframe instead.

Decoding does only what the returned frames need: the packets of frames that are not returned
are decoded only if other frames reference them (the codec's `skip_frame`, per packet, skips
the rest: most B-frames), and only returned frames are converted to RGB, through swscale
contexts kept for the reader's life. Opening an MP4 or MOV file decodes nothing (`_open`).
The frames are the same as a full decode's, bit for bit.
"""
import dataclasses
import math
import os
import threading
import time

import av
import numpy as np
from absl import logging
from av.video.reformatter import VideoReformatter

# Interpolation for resizing during decode (swscale): area averaging is right for downscaling.
_INTERPOLATION = "AREA"
_MAX_PACKETS_WITHOUT_FRAME = 600  # a decoder fed this many packets with no picture is stuck
# The last frames of a file are always decoded, never skipped, so that a decoder dropping a
# frame or two at the end is told apart from a file that stops early (see `_decode`).
_TAIL_FRAMES = 4
_PROBED_STREAMS = 16  # streams of an MP4 opened without the probe's decoding (see `_open`)
_MP4_SUFFIXES = (".mp4", ".m4v", ".mov")

_WARNED, _WARNED_LOCK = set(), threading.Lock()


def _warn_once(path, message):
    """Logs `message` about `path` the first time only: a dataset opens a file every epoch."""
    with _WARNED_LOCK:
        if path in _WARNED:
            return
        _WARNED.add(path)
    logging.warning("%s: %s", path, message)


def _open(path, timeout):
    """`av.open`, without the probe's decoding where the container already says what it finds.

    Opening a file probes its streams (`avformat_find_stream_info`), which decodes frames: for
    H.264 the keyframe and up to six more, to guess how many frames the decoder holds back for
    reordering. MP4 and MOV files give that delay in their sample table (FFmpeg's mov demuxer
    reads it from the composition offsets) and every other field in their headers, so for them
    the probe reads one packet and decodes nothing (`skip_frame=all` for each stream's probe
    decoder): 0.2 ms instead of 4 ms on a 568x320 web video, a tenth of a clip's decoding. The
    decoders that read the clips are opened afterwards, as before, and give the same frames.
    Other containers (Matroska needs the probe for its frame rate and that delay) open as usual.
    Only files named .mp4, .m4v or .mov try the short probe (so that an AVI is not opened
    twice), and only a file FFmpeg then reads as MP4 or MOV keeps it.
    """
    timeouts = (timeout, timeout)
    if not path.lower().endswith(_MP4_SUFFIXES):
        return av.open(path, timeout=timeouts)
    try:
        container = av.open(path, timeout=timeouts, options={"probesize": "32"},
                            stream_options=[{"skip_frame": "all"}] * _PROBED_STREAMS)
    except av.ExitError:  # the timeout: trying again would only wait as long once more
        raise
    except (av.FFmpegError, ValueError):  # a format 32 bytes do not identify, or one that has
        pass                              # no streams before probing (MPEG-TS): probe in full
    else:
        if {"mov", "mp4"} & set(container.format.name.split(",")):
            return container
        container.close()
    return av.open(path, timeout=timeouts)


class VideoDecodeError(Exception):
    """A video could not be decoded; `path` and `reason` say which and why."""

    def __init__(self, path, reason):
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")


@dataclasses.dataclass(frozen=True)
class Video:
    """Decoded frames and what is known about the file they came from."""
    frames: np.ndarray       # uint8 (T, H, W, 3)
    indices: np.ndarray      # frame numbers of `frames` (at `fps` when resampled)
    timestamps: np.ndarray   # seconds of each frame in the file's clock
    fps: float               # frame rate of the numbering (the target fps when resampled)
    duration: float          # seconds of the whole file
    num_frames: int          # frames of the whole file (at `fps`)


class VideoReader:
    """Random access to the frames of one file; open once, read many clips.

    `fps` resamples by timestamps (frame j is the one on screen at first_time + j / fps), so
    variable-frame-rate files and files of different rates share one clock. `short_side`
    resizes during decode (swscale), keeping the aspect ratio. `timeout` (seconds) bounds
    opening and every read; a decoder that stops producing pictures raises instead of hanging.
    """

    def __init__(self, path, fps=None, short_side=None, timeout=30.0, threads=0):
        self.path = str(path)
        if os.path.isfile(self.path) and os.path.getsize(self.path) == 0:
            raise VideoDecodeError(path, "empty file (0 bytes)")
        if fps is not None and fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if short_side is not None and short_side < 1:
            raise ValueError(f"short_side must be a positive int, got {short_side}")
        self._short_side, self._timeout = short_side, timeout
        # One swscale context each for resizing and for RGB conversion, kept for the reader's
        # life: a fresh context per frame (what `frame.to_ndarray(format=...)` builds) costs
        # more than the conversion itself at these sizes.
        self._resizer, self._converter = VideoReformatter(), VideoReformatter()
        try:
            self._container = _open(self.path, timeout)
        except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
            raise VideoDecodeError(path, f"cannot open: {error}") from None
        try:
            self._open_stream(threads)
            self._build_table()
        except VideoDecodeError:
            self.close()
            raise
        except (av.FFmpegError, OSError) as error:
            self.close()
            raise VideoDecodeError(path, f"cannot read: {error}") from None
        self._set_numbering(fps)

    # --- metadata -------------------------------------------------------------------------
    def _open_stream(self, threads):
        streams = self._container.streams
        if not streams.video:
            kinds = sorted({s.type for s in streams}) or ["none"]
            raise VideoDecodeError(self.path, f"no video stream (streams: {', '.join(kinds)})")
        self._stream = streams.video[0]
        if self._stream.codec_context is None:  # PyAV found no decoder for the stream's codec
            raise VideoDecodeError(self.path, "no decoder for the video stream (unknown codec "
                                              "or a damaged header)")
        self._stream.thread_type = "AUTO"
        self._stream.codec_context.thread_count = threads
        # Count instead of trusting timestamps where the container has no presentation times.
        self._count_frames = "avi" in self._container.format.name.split(",")

    def _build_table(self):
        """Presentation times and keyframe flags of every frame, from packets alone."""
        times, keys, stamped = [], [], True
        for packet in self._container.demux(self._stream):
            if packet.size == 0:
                continue
            stamp = packet.pts
            if stamp is None:
                stamped, stamp = False, packet.dts
            if stamp is None:
                stamp = times[-1] + 1 if times else 0
            times.append(stamp)
            keys.append(packet.is_keyframe)
        # Packets can be skipped only where their presentation times say which frame they hold.
        self._can_skip = stamped and not self._count_frames
        if not times:
            raise VideoDecodeError(self.path, "the video stream has no frames")
        order = np.argsort(times, kind="stable")
        self._pts = np.asarray(times, np.int64)[order]
        self._keyframes = np.flatnonzero(np.asarray(keys)[order])
        if not len(self._keyframes) or self._keyframes[0] != 0:
            self._keyframes = np.concatenate([[0], self._keyframes])
        base = self._stream.time_base or 1
        self._native_times = self._pts.astype(np.float64) * float(base)
        rate = self._stream.average_rate or self._stream.guessed_rate
        span = self._native_times[-1] - self._native_times[0]
        if rate and float(rate) > 0:
            self.native_fps = float(rate)
        elif span > 0:
            self.native_fps = (len(self._pts) - 1) / span
        else:
            self.native_fps = 25.0
        if self._count_frames:  # constant rate by construction
            self._native_times = self._native_times[0] + np.arange(len(self._pts)) / self.native_fps
        self.duration = float(self._native_times[-1] - self._native_times[0] + 1 / self.native_fps)
        self._check_complete()

    def _check_complete(self):
        """Frames that stop well before the end the header declares mean a truncated file; a
        shortfall of up to 10% is accepted, and logged once per file."""
        declared, held = self._stream.frames, len(self._pts)
        if declared and held < 0.9 * declared - 2:
            raise VideoDecodeError(self.path, f"truncated: the header declares {declared} frames, "
                                              f"the file holds {held}")
        stream_seconds = None
        if self._stream.duration and self._stream.time_base:
            stream_seconds = float(self._stream.duration * self._stream.time_base)
        seconds = stream_seconds or (self._container.duration or 0) / av.time_base
        if seconds and self.duration < 0.9 * seconds - 2 / self.native_fps:
            raise VideoDecodeError(self.path, f"truncated: the header declares {seconds:.2f} s, "
                                              f"the frames stop at {self.duration:.2f} s")
        if declared and held < declared:
            _warn_once(self.path, f"the header declares {declared} frames, the file holds {held}; "
                                  f"reading the {held}")
        # A container's duration counts for the video only where nothing else is in it: sound
        # often runs on past the last picture of a whole file.
        elif (seconds and self.duration < seconds - 1.5 / self.native_fps
              and (stream_seconds or len(self._container.streams) == 1)):
            _warn_once(self.path, f"the header declares {seconds:.2f} s, the frames stop at "
                                  f"{self.duration:.2f} s; reading what is there")

    def _set_numbering(self, fps):
        native = len(self._pts)
        if fps is None:
            self.fps, self._source = self.native_fps, np.arange(native)
        else:
            count = max(1, int(math.floor(self.duration * fps + 1e-6)))
            grid = self._native_times[0] + np.arange(count) / fps
            self.fps = float(fps)
            self._source = np.searchsorted(self._native_times, grid + 1e-6, side="right") - 1
        self.num_frames = len(self._source)

    @property
    def timestamps(self):
        """Seconds of every frame of the numbering, in the file's clock."""
        if len(self._source) == len(self._pts) and self.fps == self.native_fps:
            return self._native_times.copy()
        return self._native_times[0] + np.arange(self.num_frames) / self.fps

    # --- decoding -------------------------------------------------------------------------
    def get(self, indices):
        """uint8 `(len(indices), H, W, 3)` for frame numbers in any order, repeats allowed."""
        indices = np.asarray(indices, np.int64).reshape(-1)
        if indices.size == 0:
            raise ValueError("no frame indices given")
        if indices.min() < 0 or indices.max() >= self.num_frames:
            raise VideoDecodeError(self.path, f"frame {int(indices.max())} requested but the video "
                                              f"has {self.num_frames} frames at {self.fps:g} fps")
        wanted = np.unique(self._source[indices])
        decoded = self._decode(wanted)
        return np.stack([decoded[i] for i in self._source[indices]])

    def iter_frames(self):
        """Every frame of the numbering in order, decoded in one sequential pass."""
        position, last = 0, None
        for index, frame in self._frames_from(0, set(self._source.tolist())):
            while position < self.num_frames and self._source[position] < index:
                # A frame the decoder dropped shows the one before it (or after, if none is).
                yield self._to_array(last if last is not None else frame)
                position += 1
            while position < self.num_frames and self._source[position] == index:
                yield self._to_array(frame)
                position += 1
            last = frame
            if position >= self.num_frames:
                return
        if last is None or self.num_frames - position > 3:
            raise VideoDecodeError(self.path, f"decoding stopped at frame {position} of "
                                              f"{self.num_frames} (truncated or corrupt file)")
        for _ in range(self.num_frames - position):
            yield self._to_array(last)

    def _decode(self, wanted):
        result, frames, position, last = {}, None, -1, None
        wanted_set = set(wanted.tolist())
        for target in wanted:
            if target in result:
                continue
            keyframe = self._keyframes[np.searchsorted(self._keyframes, target, side="right") - 1]
            if frames is None or position >= target or keyframe > position + 1:
                frames, last = self._frames_from(keyframe, wanted_set), None
            for index, frame in frames:
                if index > target and target not in result:
                    # A frame the decoder dropped shows the one it output before it, or at
                    # the start of a group of pictures (a damaged keyframe), the one after.
                    result[target] = self._to_array(last if last is not None else frame)
                position, last = index, frame
                if index in wanted_set and index not in result:
                    result[index] = self._to_array(frame)
                if index >= target:
                    break
            else:  # the decoder ended early: a frame or two short is a tail the decoder drops
                shortfall = [i for i in wanted if i not in result]
                if last is None or shortfall[-1] - position > 3:
                    raise VideoDecodeError(self.path, f"decoding stopped at frame {position} of "
                                                      f"{len(self._pts)} (truncated or corrupt file)")
                for i in shortfall:
                    result[i] = self._to_array(last)
        return result

    def _frames_from(self, keyframe, needed):
        """Yields (frame number, frame) from the keyframe on, in display order.

        Frames not in `needed` (frame numbers) may be left out: their packets go to the decoder
        with `skip_frame="NONREF"`, so it decodes them only if they are references, which it
        needs for the frames after them anyway. A skipped frame is never a reference, so the
        frames that are decoded are exactly those of a full decode.
        """
        keep = None  # presentation times of the packets to decode in full
        if self._can_skip:
            tail = range(max(0, len(self._pts) - _TAIL_FRAMES), len(self._pts))
            keep = set(self._pts[sorted(set(needed).union(tail))].tolist())
        codec = self._stream.codec_context
        try:
            self._container.seek(int(self._pts[keyframe]), stream=self._stream, backward=True,
                                 any_frame=False)
            codec.flush_buffers()
            codec.skip_frame, skipping = "DEFAULT", False
            count, idle, deadline = int(keyframe) - 1, 0, time.monotonic() + self._timeout
            for packet in self._container.demux(self._stream):
                if keep is not None and (packet.pts is not None and packet.pts not in keep) != skipping:
                    skipping = not skipping
                    codec.skip_frame = "NONREF" if skipping else "DEFAULT"
                try:
                    decoded = packet.decode()
                except av.InvalidDataError:  # a damaged packet gives no picture; carry on, as
                    decoded = ()             # FFmpeg's tools (and its frame threads) do
                # Skipped packets give no picture by design; only the others count as idle.
                idle = 0 if decoded else idle + (not skipping)
                if idle > _MAX_PACKETS_WITHOUT_FRAME:
                    raise VideoDecodeError(self.path, f"the decoder made no progress in {idle} "
                                                      f"packets (corrupt stream?)")
                if time.monotonic() > deadline:
                    raise VideoDecodeError(self.path, f"timed out: no picture decoded in "
                                                      f"{self._timeout:g} s (corrupt stream?)")
                for frame in decoded:
                    deadline = time.monotonic() + self._timeout
                    count = self._frame_number(frame, count)
                    yield count, frame
        except (av.FFmpegError, OSError) as error:
            raise VideoDecodeError(self.path, f"decoding failed: {error}") from None

    def _frame_number(self, frame, previous):
        if self._count_frames or frame.pts is None:
            return previous + 1
        index = min(int(np.searchsorted(self._pts, frame.pts)), len(self._pts) - 1)
        return previous + 1 if 0 <= previous and index <= previous else index

    def _to_array(self, frame):
        width, height = frame.width, frame.height
        if self._short_side:
            scale = self._short_side / min(width, height)
            width, height = max(1, round(width * scale)), max(1, round(height * scale))
        if (width, height) != (frame.width, frame.height):
            # Scaling in the decoder's pixel format, then converting, is 1.6x faster than doing
            # both in one swscale call and halves its colour error (measured on 568x320 H.264).
            frame = self._resizer.reformat(frame, width=width, height=height,
                                           interpolation=_INTERPOLATION, threads=1)
        # swscale's defaults (bilinear, the frame's colorspace and range), as decord and
        # `to_ndarray(format="rgb24")` convert; one thread, since readers run side by side.
        return self._converter.reformat(frame, format="rgb24", threads=1).to_ndarray()

    def close(self):
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
            self._container = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_video(path, start=0, num_frames=None, stride=1, fps=None, short_side=None,
               start_sec=None, timeout=30.0):
    """Decodes `num_frames` frames every `stride` from frame `start` (or second `start_sec`).

    `num_frames=None` reads to the end. A clip that runs past the end raises
    `VideoDecodeError`; the clip samplers choose what to do with short videos instead.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    with VideoReader(path, fps=fps, short_side=short_side, timeout=timeout) as reader:
        if start_sec is not None:
            start = int(np.searchsorted(reader.timestamps, reader.timestamps[0] + start_sec - 1e-6))
        if num_frames is None:
            num_frames = max(0, -(-(reader.num_frames - start) // stride))
        if start < 0 or num_frames < 1 or start + (num_frames - 1) * stride >= reader.num_frames:
            raise VideoDecodeError(path, f"too short: {num_frames} frames every {stride} from "
                                         f"frame {start} need {start + (num_frames - 1) * stride + 1}"
                                         f" frames, the video has {reader.num_frames}")
        indices = start + stride * np.arange(num_frames)
        return Video(frames=reader.get(indices), indices=indices,
                     timestamps=reader.timestamps[indices], fps=reader.fps,
                     duration=reader.duration, num_frames=reader.num_frames)
