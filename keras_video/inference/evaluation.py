"""Evaluation the way the papers report it: every view (clip x crop) classified, accuracy per
view (clip level) and of the views' mean per video (video level), per class, with a
confusion matrix."""
import json
import os

import numpy as np

from keras_video import data, plots
from keras_video.inference.labels import check_top_k
from keras_video.progress import bar as progress_bar


def average_by_video(predictions, video_ids):
    """(ids, per-video mean of the views' predictions), ids sorted."""
    predictions, video_ids = np.asarray(predictions), np.asarray(video_ids).reshape(-1)
    ids, inverse = np.unique(video_ids, return_inverse=True)
    sums = np.zeros((len(ids),) + predictions.shape[1:], np.float64)
    np.add.at(sums, inverse, predictions)
    return ids, sums / np.bincount(inverse)[:, None]


def predict_views(model, dataset, verbose=False):
    """Runs `model` over a `data.multiview_dataset`: (per-view predictions, labels, video
    ids)."""
    bar = progress_bar(None, unit_name="view") if verbose else None
    outputs, labels, ids = [], [], []
    for views, view_labels, view_ids in dataset:
        outputs.append(np.asarray(model.predict_on_batch(views), np.float64))
        labels.append(view_labels.numpy())
        ids.append(view_ids.numpy())
        if bar is not None:
            bar.add(len(view_ids))
    if bar is not None:  # the number of views was not known: close the bar
        bar.update(sum(len(i) for i in ids), finalize=True)
    if not outputs:
        raise ValueError("the dataset yielded no views (every video failed to decode?)")
    return np.concatenate(outputs), np.concatenate(labels), np.concatenate(ids)


def video_labels(labels, video_ids):
    """(sorted video ids, each video's label) from per-view labels; one-hot labels -> indices."""
    ids, first_view = np.unique(np.asarray(video_ids).reshape(-1), return_index=True)
    labels = np.asarray(labels)[first_view]
    return ids, (labels.argmax(-1) if labels.ndim > 1 else labels)


def predict_videos(model, dataset, verbose=False):
    """Runs `model` over a `data.multiview_dataset`; returns (video ids, labels, mean
    predictions)."""
    outputs, labels, ids = predict_views(model, dataset, verbose)
    video_ids, mean = average_by_video(outputs, ids)
    return video_ids, video_labels(labels, ids)[1], mean


def top_k_accuracy(predictions, labels, k=1):
    check_top_k(k)
    top = np.argsort(-np.asarray(predictions), axis=-1)[:, :k]
    return float(np.mean(np.any(top == np.asarray(labels)[:, None], axis=-1)))


def evaluate(model, source, *, num_frames=16, stride=2, fps=None, crop_size=224, num_clips=10,
             num_crops=3, batch_size=8, num_parallel_calls=None, error_log=None, verbose=True):
    """The report (a JSON-ready dict) of `model` on an `annotations.VideoList` with
    `num_clips` x `num_crops` views per video (the CSN protocol is 10 x 3)."""
    import tensorflow as tf

    error_log = data.DecodeErrorLog() if error_log is None else error_log
    dataset = data.multiview_dataset(
        source, num_clips=num_clips, num_crops=num_crops, num_frames=num_frames, stride=stride,
        fps=fps, crop_size=crop_size, batch_size=batch_size, error_log=error_log,
        num_parallel_calls=num_parallel_calls or tf.data.AUTOTUNE, deterministic=True)
    try:
        outputs, labels, ids = predict_views(model, dataset, verbose)
    except ValueError:
        raise ValueError(f"none of the {len(source)} videos could be decoded: "
                         f"{dict(list(error_log.failures.items())[:3])}") from None
    video_ids, video_scores = average_by_video(outputs, ids)
    return report(outputs, labels, video_scores, video_labels(labels, ids)[1],
                  list(source.class_names), views_per_video=num_clips * num_crops,
                  skipped={os.path.basename(p): r for p, r in error_log.failures.items()},
                  video_names=[source.video_ids[i] for i in video_ids])


def report(view_scores, view_labels, video_scores, video_labels, class_names, **extra):
    """Accuracies, per-class accuracy and the confusion matrix (rows: true class, columns:
    predicted; video level)."""
    k = min(5, len(class_names))
    predicted = np.argmax(video_scores, axis=-1)
    confusion = np.zeros((len(class_names), len(class_names)), np.int64)
    np.add.at(confusion, (np.asarray(video_labels), predicted), 1)
    counts = confusion.sum(axis=1)
    per_class = {name: (float(confusion[i, i] / counts[i]) if counts[i] else None)
                 for i, name in enumerate(class_names)}
    return {
        "videos": int(len(video_labels)),
        "clip_top1": top_k_accuracy(view_scores, view_labels, 1),
        f"clip_top{k}": top_k_accuracy(view_scores, view_labels, k),
        "video_top1": top_k_accuracy(video_scores, video_labels, 1),
        f"video_top{k}": top_k_accuracy(video_scores, video_labels, k),
        "mean_class_accuracy": float(np.mean([v for v in per_class.values() if v is not None])),
        "per_class_accuracy": per_class,
        "class_names": list(class_names),
        "confusion_matrix": confusion.tolist(),
        "predictions": {"video_index_order": "as in video_names", "top1": predicted.tolist()},
        **extra,
    }


def write_report(result, folder, title="video-level confusion matrix"):
    """`report.json` and `confusion.png` in `folder`; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    json_path = os.path.join(folder, "report.json")
    with open(json_path, "w") as f:
        json.dump(result, f, indent=1)
    png_path = plots.confusion_matrix(np.asarray(result["confusion_matrix"]),
                                      result["class_names"], os.path.join(folder, "confusion.png"),
                                      title=title)
    return json_path, png_path
