import numpy as np
import pytest

from keras_video.data.sampling import (ClipTooLong, DenseClipSampler, RandomClipSampler,
                                       UniformClipSampler)


def test_random_clips_cover_every_start_and_stay_inside(rng):
    sampler = RandomClipSampler(num_frames=4, stride=3)
    starts = set()
    for _ in range(400):
        clip = sampler(length=20, fps=25, rng=rng)
        assert clip.shape == (1, 4)
        np.testing.assert_array_equal(np.diff(clip[0]), 3)
        assert clip[0, -1] < 20
        starts.add(int(clip[0, 0]))
    assert starts == set(range(0, 11))  # 20 - (3 * 3 + 1) + 1 possible starts


def test_random_clips_are_reproducible_with_a_seeded_generator():
    sampler = RandomClipSampler(8, 2)
    a = [sampler(100, 25, np.random.default_rng(7)) for _ in range(3)]
    b = [sampler(100, 25, np.random.default_rng(7)) for _ in range(3)]
    np.testing.assert_array_equal(a, b)


def test_uniform_clips_spread_from_first_to_last_start():
    clips = UniformClipSampler(num_frames=4, stride=2, num_clips=3)(length=31, fps=25)
    np.testing.assert_array_equal(clips[:, 0], [0, 12, 24])  # last start 31 - 7 = 24
    np.testing.assert_array_equal(clips[2], [24, 26, 28, 30])
    centre = UniformClipSampler(num_frames=4, stride=2)(length=31, fps=25)
    np.testing.assert_array_equal(centre, [[12, 14, 16, 18]])


def test_dense_clips_tile_the_video_and_cover_its_tail():
    clips = DenseClipSampler(num_frames=4, stride=1)(length=10, fps=25)
    np.testing.assert_array_equal(clips[:, 0], [0, 4, 6])
    sliding = DenseClipSampler(num_frames=4, stride=1, step=2)(length=10, fps=25)
    np.testing.assert_array_equal(sliding[:, 0], [0, 2, 4, 6])


def test_short_video_policies():
    loop = RandomClipSampler(6, 1, short_video="loop")(length=4, fps=25, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(loop, [[0, 1, 2, 3, 0, 1]])
    pad = UniformClipSampler(6, 1, short_video="pad")(length=4, fps=25)
    np.testing.assert_array_equal(pad, [[0, 1, 2, 3, 3, 3]])
    with pytest.raises(ClipTooLong, match="needs 11 frames, the video has 4"):
        UniformClipSampler(6, 2, short_video="error")(length=4, fps=25)


def test_clip_duration_in_seconds_sets_the_stride_per_frame_rate():
    sampler = UniformClipSampler(num_frames=8, seconds=2.0)
    assert sampler.stride_for(fps=32) == 8 and sampler.stride_for(fps=16) == 4
    clip = sampler(length=200, fps=32)
    assert (clip[0, -1] - clip[0, 0]) / 32 == pytest.approx(2.0 * 7 / 8)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_frames=0), "num_frames"), (dict(num_frames=4, stride=0), "stride"),
    (dict(num_frames=4, seconds=-1), "seconds"), (dict(num_frames=4, short_video="wrap"), "short_video"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RandomClipSampler(**kwargs)
    with pytest.raises(ValueError, match="num_clips"):
        UniformClipSampler(4, num_clips=0)
