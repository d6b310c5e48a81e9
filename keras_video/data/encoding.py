"""Writing real video files with PyAV: used by the synthetic dataset, the tests and the examples."""
import fractions
import functools
import os

import av
import numpy as np

# Container -> the video codec it is written with when none is given. H.264 for mp4/mkv; MPEG-4
# Part 2 for avi, the UCF101/HMDB51 format.
DEFAULT_CODECS = {".mp4": "libx264", ".mkv": "libx264", ".avi": "mpeg4", ".mov": "libx264", ".webm": "libvpx-vp9"}
DEFAULT_AUDIO_CODECS = {".mp4": "aac", ".mkv": "libopus", ".avi": "libmp3lame", ".mov": "aac", ".webm": "libopus"}


# x264's instruction sets up to AVX2, for CPUs with AVX-512 (every x86-64 CPU with AVX-512 has
# all of these). With its AVX-512 code x264 encodes the same frames to different files from call
# to call (a Zen 4 CPU: up to four variants in ten calls, with one thread or several); with the
# AVX2 code the files are the same every time.
_X264_WITHOUT_AVX512 = "asm=MMX2,SSE,SSE2,SSE2Fast,LZCNT,SSE3,SSSE3,SSE4.1,SSE4.2,AVX,FMA3,BMI1,BMI2,AVX2,Cache64"


@functools.cache
def _cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as info:
            return any(line.startswith("flags") and " avx512f" in line for line in info)
    except OSError:  # not Linux: x264's detection as it is
        return False


def _x264_params(gop_size):
    params = []
    if gop_size:  # exactly every gop_size frames: no extra keyframes at scene cuts
        params.append(f"keyint={gop_size}:min-keyint={gop_size}:scenecut=0")
    if _cpu_has_avx512():
        params.append(_X264_WITHOUT_AVX512)
    return ":".join(params)


def write_video(path, frames, fps=25, codec=None, timestamps=None, audio=False, quality=None,
                gop_size=None, preset="veryfast"):
    """Encodes uint8 RGB frames `(T, H, W, 3)` into `path`; the container follows the extension.

    `timestamps` (seconds, increasing) gives a variable frame rate instead of `fps`. `quality` is
    x264's / VP9's CRF or MPEG-4's qscale (lower is closer to the input; the default is near-lossless so
    that pixel values survive a round trip). `audio=True` adds a 440 Hz tone track, because real
    files carry audio that the decoder must ignore. Odd sizes are written as they are for codecs
    that allow it (MPEG-4, VP9 need even sizes, so those are rejected with a clear error).
    `preset` is x264's speed preset: "medium", x264's own default, is what web encodes use;
    "veryfast" keeps the tests' files quick to write.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    ext = os.path.splitext(str(path))[1].lower()
    codec = codec or DEFAULT_CODECS.get(ext)
    if codec is None:
        raise ValueError(f"no default codec for {ext!r}; pass codec=")
    height, width = frames.shape[1:3]
    pix_fmt = "yuv444p" if codec in ("libx264",) and (height % 2 or width % 2) else "yuv420p"
    if pix_fmt == "yuv420p" and (height % 2 or width % 2):
        raise ValueError(f"{codec} needs even frame sizes, got {width}x{height}")
    # A fine time base so that variable-rate timestamps are kept exactly (to the millisecond).
    time_base = fractions.Fraction(1, 1000) if timestamps is not None else None
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fractions.Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if time_base is not None:
            stream.codec_context.time_base = time_base
        if gop_size:
            stream.codec_context.gop_size = gop_size
        if codec == "libx264":
            stream.options = {"crf": str(quality if quality is not None else 1), "preset": preset}
            x264_params = _x264_params(gop_size)
            if x264_params:
                stream.options["x264-params"] = x264_params
        elif codec.startswith("libvpx"):
            stream.options = {"crf": str(quality if quality is not None else 4), "b": "0"}
        elif codec in ("mpeg4", "mjpeg"):
            stream.codec_context.qmin = stream.codec_context.qmax = quality or 2
        tone = _Tone(container, DEFAULT_AUDIO_CODECS.get(ext, "aac")) if audio else None
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if timestamps is not None:
                frame.pts = int(round(timestamps[index] * 1000))
                frame.time_base = time_base
                seconds = timestamps[index]
            else:
                frame.pts = index
                seconds = index / fps
            if tone is not None:  # interleaved: the AVI muxer mis-times video written before audio
                tone.write_until(seconds + 1 / fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if tone is not None:
            tone.close()


class _Tone:
    """A 440 Hz audio track written alongside the video."""

    def __init__(self, container, codec, hz=440.0):
        self.container, self.hz = container, hz
        self.stream = container.add_stream(codec, rate=48000)
        self.written = 0

    def write_until(self, seconds):
        context = self.stream.codec_context
        rate, size = context.sample_rate, context.frame_size or 1024
        stereo = context.layout.nb_channels == 2
        while self.written < seconds * rate:
            t = np.arange(self.written, self.written + size) / rate
            wave = (0.2 * np.sin(2 * np.pi * self.hz * t)).astype(np.float32)[None]
            wave = np.repeat(wave, 2, axis=0) if stereo else wave
            if not context.format.is_planar:  # packed samples: channels interleaved
                wave = wave.T.reshape(1, -1)
            if context.format.name.startswith("s"):  # integer samples (s16, s32)
                dtype = np.int16 if context.format.bits == 16 else np.int32
                wave = wave * np.iinfo(dtype).max
            else:
                dtype = np.float32
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave.astype(dtype)),
                                               format=context.format.name,
                                               layout="stereo" if stereo else "mono")
            frame.sample_rate, frame.pts = rate, self.written
            self.container.mux(self.stream.encode(frame))
            self.written += size

    def close(self):
        self.container.mux(self.stream.encode())
