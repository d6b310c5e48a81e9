"""Which frames make a clip: random clips for training, evenly spread clips for evaluation, and
every clip (a sliding window) for timelines.

A sampler maps a video's length (frames, at the decoding frame rate) to an int array
`(num_clips, num_frames)` of frame numbers. `stride` is in frames; `seconds` instead fixes the
clip's duration and derives the stride from each video's frame rate. Videos shorter than a clip
follow `short_video`: "loop" (wrap around), "pad" (repeat the last frame) or "error".
"""
import numpy as np

SHORT_VIDEO_POLICIES = ("loop", "pad", "error")


class ClipTooLong(ValueError):
    """The video has fewer frames than the clip needs and the policy is "error"."""


class ClipSampler:
    def __init__(self, num_frames, stride=1, seconds=None, short_video="loop"):
        if int(num_frames) < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if seconds is None and int(stride) < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        if seconds is not None and seconds <= 0:
            raise ValueError(f"seconds must be positive, got {seconds}")
        if short_video not in SHORT_VIDEO_POLICIES:
            raise ValueError(f"short_video must be one of {SHORT_VIDEO_POLICIES}, got {short_video!r}")
        self.num_frames, self.stride, self.seconds = int(num_frames), int(stride), seconds
        self.short_video = short_video

    def stride_for(self, fps):
        """Frames between sampled frames: fixed, or what spreads the clip over `seconds`."""
        if self.seconds is None:
            return self.stride
        return max(1, round(self.seconds * fps / self.num_frames))

    def span(self, fps):
        return (self.num_frames - 1) * self.stride_for(fps) + 1

    def _clip(self, start, length, fps):
        """Frame numbers of the clip starting at `start`, with the short-video policy."""
        indices = start + self.stride_for(fps) * np.arange(self.num_frames)
        if indices[-1] < length:
            return indices
        if self.short_video == "error":
            raise ClipTooLong(f"the clip needs {self.span(fps)} frames, the video has {length}")
        if self.short_video == "loop":
            return indices % length
        return np.minimum(indices, length - 1)

    def __call__(self, length, fps, rng=None):
        raise NotImplementedError

    def get_config(self):
        return dict(num_frames=self.num_frames, stride=self.stride, seconds=self.seconds,
                    short_video=self.short_video)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class RandomClipSampler(ClipSampler):
    """One clip at a uniformly random start (training)."""

    def __call__(self, length, fps, rng=None):
        rng = rng if rng is not None else np.random.default_rng()
        last_start = max(0, length - self.span(fps))
        return self._clip(int(rng.integers(0, last_start + 1)), length, fps)[None]


class UniformClipSampler(ClipSampler):
    """`num_clips` clips with evenly spaced starts from the first to the last possible one
    (evaluation: the papers' 10 clips per video; one clip is the centre clip)."""

    def __init__(self, num_frames, stride=1, num_clips=1, seconds=None, short_video="loop"):
        super().__init__(num_frames, stride, seconds, short_video)
        if int(num_clips) < 1:
            raise ValueError(f"num_clips must be >= 1, got {num_clips}")
        self.num_clips = int(num_clips)

    def __call__(self, length, fps, rng=None):
        last_start = max(0, length - self.span(fps))
        if self.num_clips == 1:
            starts = [last_start // 2]
        else:
            starts = np.round(np.linspace(0, last_start, self.num_clips)).astype(int)
        return np.stack([self._clip(int(s), length, fps) for s in starts])

    def get_config(self):
        return {**super().get_config(), "num_clips": self.num_clips}


class DenseClipSampler(ClipSampler):
    """Every clip whose start is a multiple of `step` frames (sliding window; default: clips
    side by side), covering the video to its end."""

    def __init__(self, num_frames, stride=1, step=None, seconds=None, short_video="pad"):
        super().__init__(num_frames, stride, seconds, short_video)
        if step is not None and int(step) < 1:
            raise ValueError(f"step must be >= 1, got {step}")
        self.step = step

    def __call__(self, length, fps, rng=None):
        step = int(self.step or self.span(fps))
        last_start = max(0, length - self.span(fps))
        starts = list(range(0, last_start + 1, step))
        if starts[-1] != last_start:  # the tail of the video gets a clip too
            starts.append(last_start)
        return np.stack([self._clip(s, length, fps) for s in starts])

    def get_config(self):
        return {**super().get_config(), "step": self.step}
