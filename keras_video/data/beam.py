"""The TFRecord conversion as an Apache Beam pipeline (`pip install keras-video[beam]`): the
same shards as `write_tfrecords`, from DirectRunner on one machine to Dataflow, Flink or Spark
unchanged (pass their PipelineOptions)."""
import json
import os

from keras_video.data.decoding import VideoDecodeError
from keras_video.data.tfrecords import encode_video, shard_names


def beam_write_tfrecords(source, output_dir, *, num_shards, prefix="videos", short_side=256,
                         fps=None, jpeg_quality=90, pipeline_options=None, timeout=30.0):
    """Runs the conversion of an `annotations.VideoList`; returns the shard paths.

    Video paths and `output_dir` must be readable / writable by the workers (a shared or
    object-store path such as gs://... on Dataflow). Unreadable videos are listed in the
    metadata's `skipped` instead of failing the job.
    """
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    if len(source) == 0:
        raise ValueError("the video list is empty")
    rows = [(row, source.paths[row], source.labels[row], source.video_ids[row])
            for row in range(len(source))]
    settings = dict(short_side=short_side, fps=fps, jpeg_quality=jpeg_quality)

    class EncodeVideo(beam.DoFn):
        def process(self, row):
            index, path, label, video_id = row
            try:
                yield encode_video(path, label, index, video_id, timeout=timeout, **settings)
            except VideoDecodeError as error:
                yield beam.pvalue.TaggedOutput("skipped", f"{error.path}: {error.reason}")

    def write_metadata(_, count, skipped):
        metadata = dict(class_names=list(source.class_names), num_videos=count,
                        shards=shard_names(prefix, num_shards), videos_per_shard=None,
                        skipped=sorted(skipped), **settings)
        with FileSystems.create(FileSystems.join(str(output_dir), f"{prefix}.json")) as f:
            f.write(json.dumps(metadata, indent=1).encode())

    options = pipeline_options or beam.options.pipeline_options.PipelineOptions()
    with beam.Pipeline(options=options) as pipeline:
        encoded = (pipeline | "Videos" >> beam.Create(rows) | "Reshuffle" >> beam.Reshuffle()
                   | "Encode" >> beam.ParDo(EncodeVideo()).with_outputs("skipped", main="records"))
        _ = encoded.records | "Write" >> beam.io.WriteToTFRecord(
            FileSystems.join(str(output_dir), prefix), file_name_suffix=".tfrecord",
            num_shards=num_shards, shard_name_template="-SSSSS-of-NNNNN")
        count = encoded.records | "Count" >> beam.combiners.Count.Globally()
        skipped = encoded.skipped | "Skipped" >> beam.combiners.ToList()
        _ = (pipeline | "Once" >> beam.Create([None])
             | "Metadata" >> beam.Map(write_metadata, count=beam.pvalue.AsSingleton(count),
                                      skipped=beam.pvalue.AsSingleton(skipped)))
    return [os.path.join(str(output_dir), name) for name in shard_names(prefix, num_shards)]
