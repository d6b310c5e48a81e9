"""Video-level evaluation the way the papers report it: N clips x M crops per video, each view
classified, the predictions averaged per video."""
import numpy as np

from keras_video.data.datasets import video_dataset


def multiview_dataset(source, *, num_clips=10, num_crops=3, **kwargs):
    """`(views, labels, video_ids)` batches: every clip x crop of every video is a view folded
    into the batch beside its video's index (its row in `source`). Takes `video_dataset`'s
    arguments; 10 clips x 3 crops is the CSN protocol, 1 x 1 the centre clip and crop."""
    return video_dataset(source, training=False, num_clips=num_clips, num_crops=num_crops,
                         with_video_ids=True, **kwargs)


def average_by_video(predictions, video_ids):
    """(ids, per-video mean of the views' predictions), ids sorted."""
    predictions, video_ids = np.asarray(predictions), np.asarray(video_ids).reshape(-1)
    ids, inverse = np.unique(video_ids, return_inverse=True)
    sums = np.zeros((len(ids),) + predictions.shape[1:], np.float64)
    np.add.at(sums, inverse, predictions)
    return ids, sums / np.bincount(inverse)[:, None]


def predict_views(model, dataset, verbose=False):
    """Runs `model` over a `multiview_dataset`: (per-view predictions, labels, video ids)."""
    from keras.utils import Progbar

    bar = Progbar(None, unit_name="view") if verbose else None
    outputs, labels, ids = [], [], []
    for views, view_labels, view_ids in dataset:
        outputs.append(np.asarray(model.predict_on_batch(views), np.float64))
        labels.append(view_labels.numpy())
        ids.append(view_ids.numpy())
        if bar is not None:
            bar.add(len(view_ids))
    if not outputs:
        raise ValueError("the dataset yielded no views (every video failed to decode?)")
    return np.concatenate(outputs), np.concatenate(labels), np.concatenate(ids)


def video_labels(labels, video_ids):
    """(sorted video ids, each video's label) from per-view labels; one-hot labels -> indices."""
    ids, first_view = np.unique(np.asarray(video_ids).reshape(-1), return_index=True)
    labels = np.asarray(labels)[first_view]
    return ids, (labels.argmax(-1) if labels.ndim > 1 else labels)


def predict_videos(model, dataset, verbose=False):
    """Runs `model` over a `multiview_dataset`; returns (video ids, labels, mean predictions)."""
    outputs, labels, ids = predict_views(model, dataset, verbose)
    video_ids, mean = average_by_video(outputs, ids)
    return video_ids, video_labels(labels, ids)[1], mean


def top_k_accuracy(predictions, labels, k=1):
    top = np.argsort(-np.asarray(predictions), axis=-1)[:, :k]
    return float(np.mean(np.any(top == np.asarray(labels)[:, None], axis=-1)))
