"""Clip decoding speed: keras-video beside decord and torchcodec, same files, same clips, one run.

    python benchmarks/decoding.py [--videos 4] [--clips 24] [--rounds 6] [--short-side 256]
                                  [--threads 1] [--keep-open] [--dir DIR]

The workload is a training pipeline's: 16-frame clips at stride 2 from random starts of
ten-second 568x320 H.264 videos encoded as the web encodes them (libx264 defaults: preset
medium, CRF 23, a keyframe every 250 frames, so one keyframe per video; yuv420p), returned as
full-resolution RGB and again resized to a short side of 256. Each clip opens its file, as a
dataset reading one clip per video does. Every decoder reads the same clip starts; the decoders
take turns within each round so that a busy machine slows them alike.

Each table gives clips/s (wall clock) and its ratio to the faster peer, CPU milliseconds per
clip (all threads of the process) and its ratio to the cheaper peer, and whether the frames
equal decord's. `floor` says whether keras-video reaches `--floor` times the faster peer in
clips/s (exit status 1 if not). On a machine that other work keeps busy, the CPU ratio is the
one to trust: the scheduler shares cores by thread, so a decoder with a worker thread of its
own (decord) gets more of a contended machine than a single-threaded one.

The peers: decord (`VideoReader(...).get_batch`, `width` / `height` for the resize) and
torchcodec (`VideoDecoder(...).get_frames_at`, its `Resize` decoder transform). torchcodec needs
FFmpeg's shared libraries (Debian 12: apt-get install libavcodec59 libavformat59 libavutil57
libswscale6 libavdevice59 libavfilter8). A peer that does not import is reported, not timed.
Threads: `--threads 1` (the default) gives every decoder one codec thread (decord's
`num_threads`, torchcodec's `num_ffmpeg_threads` and torch's intra-op threads, keras-video's
`threads`); decord still decodes in a worker thread of its own. `--threads 0` lets each library
choose. (torchcodec copies frames with torch ops: with torch's default threads on a busy
machine, its OpenMP threads spin and cost it several times the CPU.)

Besides speed, the script checks that keras-video's frames equal decord's bit for bit at full
resolution and reports the largest difference with the resize, where the scalers differ.
"""
import argparse
import datetime
import os
import platform
import sys
import tempfile
import time

import numpy as np

CLIP_FRAMES, STRIDE = 16, 2
HEIGHT, WIDTH, FPS, SECONDS = 320, 568, 25, 10
INSTALL = {
    "decord": "pip install decord==0.6.0",
    "torchcodec": "pip install 'torchcodec==0.17.*' (and FFmpeg 4-8 shared libraries)",
}


def import_peers():
    """The peers that import here, by name; the reason for those that do not.

    Imported before keras-video: importing torch after TensorFlow crashes this environment
    (a segmentation fault inside torch's triton import)."""
    peers, missing = {}, {}
    try:
        import decord
        peers["decord"] = decord
    except ImportError as error:
        missing["decord"] = f"{error}; {INSTALL['decord']}"
    try:
        import torchcodec.decoders
        import torchcodec.transforms
        peers["torchcodec"] = torchcodec
    except (ImportError, RuntimeError, OSError) as error:  # RuntimeError: no FFmpeg libraries
        missing["torchcodec"] = f"{str(error).splitlines()[0]}; {INSTALL['torchcodec']}"
    return peers, missing


def web_video_frames(seed):
    """Ten seconds of camera-like content: a textured scene panning, an object crossing it,
    sensor noise. Smooth synthetic patterns would compress to almost nothing and decode
    unrealistically fast; this lands near the bitrate of 360p web video at CRF 23."""
    rng = np.random.default_rng(seed)
    canvas_h, canvas_w = HEIGHT + 200, WIDTH + 400
    canvas = np.zeros((canvas_h, canvas_w, 3), np.float32)
    for cell, amplitude in [(8, 60), (32, 40), (128, 25)]:  # three octaves of smoothed noise
        coarse = rng.normal(0, 1, (canvas_h // cell + 2, canvas_w // cell + 2, 3)).astype(np.float32)
        layer = np.kron(coarse, np.ones((cell, cell, 1), np.float32))[:canvas_h, :canvas_w]
        k = max(1, cell // 2)
        sums = np.cumsum(np.cumsum(np.pad(layer, ((k, k), (k, k), (0, 0)), mode="edge"), 0), 1)
        layer = (sums[2 * k:, 2 * k:] - sums[:-2 * k, 2 * k:] - sums[2 * k:, :-2 * k]
                 + sums[:-2 * k, :-2 * k])[:canvas_h, :canvas_w]
        canvas += amplitude * layer / (layer.std() + 1e-6)
    canvas = np.clip(128 + canvas, 0, 255)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    frames = np.empty((SECONDS * FPS, HEIGHT, WIDTH, 3), np.uint8)
    for t in range(len(frames)):
        x0, y0 = int(1.5 * t) % 400, int(100 + 80 * np.sin(t / 40))
        frame = canvas[y0:y0 + HEIGHT, x0:x0 + WIDTH].copy()
        cx, cy = WIDTH / 2 + 200 * np.sin(t / 17 + seed), HEIGHT / 2 + 100 * np.cos(t / 23)
        frame[(xx - cx) ** 2 + (yy - cy) ** 2 < 40 ** 2] = (230, 60, 40)
        frame += rng.normal(0, 2, frame.shape).astype(np.float32)
        frames[t] = np.clip(frame, 0, 255)
    return frames


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def write_videos(folder, count):
    from keras_video.data.encoding import write_video
    paths = []
    for k in range(count):
        path = os.path.join(folder, f"web_{k}.mp4")
        if not os.path.exists(path):
            write_video(path, web_video_frames(k), fps=FPS, quality=23, gop_size=250,
                        preset="medium")
        paths.append(path)
    return paths


def decoders(peers, threads, size):
    """name -> (open(path) -> reader, clip(reader, indices) -> uint8 (T, H, W, 3)); `size` is
    (height, width) or None."""
    from keras_video.data.decoding import VideoReader

    short_side = min(size) if size else None
    table = {"keras-video": (lambda path: VideoReader(path, short_side=short_side, threads=threads),
                             lambda reader, indices: reader.get(indices))}
    if "decord" in peers:
        decord = peers["decord"]
        height, width = size or (-1, -1)
        table["decord"] = (
            lambda path: decord.VideoReader(path, width=width, height=height, num_threads=threads),
            lambda reader, indices: reader.get_batch(indices).asnumpy())
    if "torchcodec" in peers:
        torchcodec = peers["torchcodec"]
        if threads == 1:  # torchcodec fills its tensors with torch ops: torch's threads are its own
            import torch
            torch.set_num_threads(1)
        transforms = [torchcodec.transforms.Resize(size)] if size else None
        table["torchcodec"] = (
            lambda path: torchcodec.decoders.VideoDecoder(
                path, num_ffmpeg_threads=threads, dimension_order="NHWC", transforms=transforms),
            lambda reader, indices: reader.get_frames_at(indices.tolist()).data.numpy())
    return table


def run(paths, table, clips, rounds, keep_open, seed=0):
    """Wall and CPU seconds per decoder over all rounds, and its frames of the first round.

    CPU time is the process's, all threads: a decoder's worker threads count too."""
    rng = np.random.default_rng(seed)
    names = list(table)
    wall, cpu = dict.fromkeys(names, 0.0), dict.fromkeys(names, 0.0)
    first = {}
    for round_ in range(rounds):
        work = [(paths[i % len(paths)], int(rng.integers(0, SECONDS * FPS - (CLIP_FRAMES - 1) * STRIDE)))
                for i in range(clips)]
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            open_reader, clip = table[name]
            frames, readers = [], {}
            start, start_cpu = time.perf_counter(), time.process_time()
            for path, clip_start in work:
                if keep_open:
                    reader = readers.get(path) or readers.setdefault(path, open_reader(path))
                else:
                    reader = open_reader(path)
                frames.append(clip(reader, clip_start + STRIDE * np.arange(CLIP_FRAMES)))
            wall[name] += time.perf_counter() - start
            cpu[name] += time.process_time() - start_cpu
            if round_ == 0:
                first[name] = frames
    return wall, cpu, first


def compare(frames, reference):
    """(clips not identical, largest absolute difference, mean absolute difference)."""
    differ, largest, total = 0, 0, 0.0
    for a, b in zip(frames, reference):
        if a.shape != b.shape:
            return f"shapes differ: {a.shape} vs {b.shape}"
        diff = np.abs(a.astype(np.int16) - b)
        differ += int(diff.any())
        largest = max(largest, int(diff.max()))
        total += float(diff.mean()) / len(frames)
    return differ, largest, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--clips", type=int, default=24, help="clips per round, over the videos")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--short-side", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="codec threads; 0: each library's choice")
    parser.add_argument("--floor", type=float, default=1.25,
                        help="keras-video must reach this multiple of the best peer")
    parser.add_argument("--keep-open", action="store_true",
                        help="also time one reader per video, kept open across its clips")
    parser.add_argument("--dir", help="keep the videos here (written once) instead of a temp folder")
    args = parser.parse_args()

    peers, missing = import_peers()
    import av  # after the peers, like keras-video

    print(f"date: {datetime.date.today().isoformat()}")
    print(f"machine: {os.cpu_count()} cores ({cpu_model()}), {platform.system()} {platform.release()}, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    print(f"command: python {' '.join(sys.argv)}")
    versions = [f"PyAV {av.__version__} (FFmpeg libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))})"]
    for name, module in peers.items():
        versions.append(f"{name} {module.__version__}")
    print("versions: " + ", ".join(versions))
    for name, reason in missing.items():
        print(f"not timed: {name}: {reason}")

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.dir or scratch
        os.makedirs(folder, exist_ok=True)
        paths = write_videos(folder, args.videos)
        size = sum(os.path.getsize(p) for p in paths) / len(paths)
        print(f"videos: {args.videos} x {SECONDS} s {WIDTH}x{HEIGHT} H.264 at {FPS} fps (x264 "
              f"medium, CRF 23, one keyframe), {8 * size / SECONDS / 1000:.0f} kbit/s on average")
        scale = args.short_side / min(HEIGHT, WIDTH)
        resized = (args.short_side, round(WIDTH * scale)) if HEIGHT <= WIDTH else (round(HEIGHT * scale), args.short_side)
        met = True
        settings = [(None, False), (resized, False)] + [(None, True)] * args.keep_open
        for size, keep_open in settings:
            table = decoders(peers, args.threads, size)
            wall, cpu, frames = run(paths, table, args.clips, args.rounds, keep_open)
            clips = args.clips * args.rounds
            rates = {name: clips / seconds for name, seconds in wall.items()}
            costs = {name: 1000 * seconds / clips for name, seconds in cpu.items()}
            peers_timed = [n for n in rates if n != "keras-video"]
            best_peer = max((rates[n] for n in peers_timed), default=None)
            cheapest_peer = min((costs[n] for n in peers_timed), default=None)
            label = "full resolution" if size is None else f"short side {args.short_side} ({size[1]}x{size[0]})"
            opened = ("one reader per video, kept open across its clips" if keep_open
                      else "a new reader for every clip")
            print(f"\n{CLIP_FRAMES} frames at stride {STRIDE}, {label}, {opened}, "
                  f"{args.threads or 'automatic'} codec thread(s), {clips} clips each\n")
            print("| decoder | clips/s | vs best peer | CPU ms per clip | CPU vs best peer | frames vs decord |")
            print("| --- | ---: | ---: | ---: | ---: | --- |")
            for name, rate in rates.items():
                ratio = f"{rate / best_peer:.2f}x" if best_peer else ""
                cpu_ratio = f"{cheapest_peer / costs[name]:.2f}x" if cheapest_peer else ""
                if name == "decord" or "decord" not in frames:
                    check = "" if name == "decord" else "decord not timed"
                else:
                    result = compare(frames[name], frames["decord"])
                    check = result if isinstance(result, str) else (
                        "bit-identical" if result[0] == 0 else
                        f"{result[0]}/{len(frames[name])} clips differ, max {result[1]}, mean {result[2]:.2f}")
                print(f"| {name} | {rate:.1f} | {ratio} | {costs[name]:.0f} | {cpu_ratio} | {check} |")
            if best_peer and not keep_open:
                ratio = rates["keras-video"] / best_peer
                ok = ratio >= args.floor
                met &= ok
                print(f"\nfloor: keras-video >= {args.floor:g}x the best peer in clips/s: "
                      f"{'met' if ok else 'NOT met'} ({ratio:.2f}x; in CPU per clip "
                      f"{cheapest_peer / costs['keras-video']:.2f}x)")
    for name in missing:
        print(f"(no {name} row: it did not import)")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
