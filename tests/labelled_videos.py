"""Videos whose pixels say which video they are, so that a test can check that every clip is
paired with its own video's label and index, whatever order, parallelism, cache or shards the
pipeline went through.

Video `code` holds frames `30 * code ... 30 * code + count - 1` of `numbered_frames`: its red
level gives each frame's position in the video and its blue level the video's code (both flat
over the frame, so crops, flips, resizes, the codecs and JPEG keep them readable). A clip made
of frames from two videos, or a label from another video, cannot go unnoticed.
"""
import os

import numpy as np

from keras_video.data.encoding import write_video
from test_data_decoding import frame_numbers, numbered_frames

FRAMES_PER_CODE = 30  # numbered_frames steps red over 30 frames, then blue


def coded_frames(code, count=FRAMES_PER_CODE, height=36, width=44):
    """The `count` frames of video `code` (at most 30: blue must stay constant in a video)."""
    if not 0 < count <= FRAMES_PER_CODE:
        raise ValueError(f"a coded video has 1 to {FRAMES_PER_CODE} frames, got {count}")
    first = FRAMES_PER_CODE * code
    return numbered_frames(first + count, height, width)[first:]


def write_coded_videos(root, layout, count=FRAMES_PER_CODE, height=36, width=44, fps=20,
                       first_code=0):
    """Writes `root/<class>/<class>_<k>.<ext>` for `layout` {class: [ext, ...]}, each video
    with its own code (numbered in the order written, from `first_code`); returns
    {path: code}."""
    codes = {}
    code = first_code
    for class_name, extensions in layout.items():
        os.makedirs(os.path.join(root, class_name), exist_ok=True)
        for k, ext in enumerate(extensions):
            path = os.path.join(root, class_name, f"{class_name}_{k}.{ext}")
            write_video(path, coded_frames(code, count, height, width), fps=fps)
            codes[path] = code
            code += 1
    return codes


def read_codes(clips):
    """(each clip's video code `(N,)`, its frames' positions in the video `(N, T)`) of clips
    `(N, T, H, W, 3)` in [0, 255]; fails if a clip mixes frames of two videos."""
    numbers = frame_numbers(np.asarray(clips).round().clip(0, 255).astype(np.uint8))
    codes = numbers // FRAMES_PER_CODE
    mixed = np.flatnonzero((codes != codes[:, :1]).any(axis=1))
    assert not len(mixed), f"clips {mixed.tolist()} hold frames of more than one video"
    return codes[:, 0], numbers % FRAMES_PER_CODE


def assert_clips_match(clips, labels, source, codes, ids=None):
    """Every clip's label (int or one-hot) is its video's in `source` (an
    `annotations.VideoList` of videos written with `codes` {path: code}), and so is its video
    index `ids` (its row in `source`) where given. Returns the clips' rows. Videos of
    `source` missing from `codes` (unreadable files) must give no clip."""
    row_of_code = {codes[os.fspath(path)]: row for row, path in enumerate(source.paths)
                   if os.fspath(path) in codes}
    found, _ = read_codes(clips)
    rows = np.array([row_of_code[int(code)] for code in found])
    labels = np.asarray(labels)
    labels = labels.argmax(-1) if labels.ndim > 1 else labels
    np.testing.assert_array_equal(labels, np.asarray(source.labels)[rows],
                                  err_msg="a clip carries another video's label")
    if ids is not None:
        np.testing.assert_array_equal(ids, rows, err_msg="a clip carries another video's index")
    return rows
