"""The views of video-level evaluation the way the papers report it: N clips x M crops per
video, each view beside its video's index (`keras_video.inference.evaluation` classifies them
and averages per video)."""
from keras_video.data.datasets import video_dataset


def multiview_dataset(source, *, num_clips=10, num_crops=3, **kwargs):
    """`(views, labels, video_ids)` batches: every clip x crop of every video is a view folded
    into the batch beside its video's index (its row in `source`). Takes `video_dataset`'s
    arguments; 10 clips x 3 crops is the CSN protocol, 1 x 1 the centre clip and crop."""
    return video_dataset(source, training=False, num_clips=num_clips, num_crops=num_crops,
                         with_video_ids=True, **kwargs)
