from keras_video import benchmarking


def test_alternating_rounds_visit_every_candidate_in_turn():
    calls = []

    def recorder(label):
        return lambda x: calls.append((label, x)) or 0

    seconds = benchmarking.alternating_rounds(
        {"a": (recorder("a"), 1), "b": (recorder("b"), 2)}, rounds=2, warmup=1, repeats=2)
    one_round = [("a", 1)] * 3 + [("b", 2)] * 3  # warm-up and repeats, then the next one
    assert calls == one_round * 2
    assert {label: len(s) for label, s in seconds.items()} == {"a": 2, "b": 2}
    assert all(t >= 0 for s in seconds.values() for t in s)


def test_matmul_gflops_counts_two_flops_per_multiply_add(monkeypatch):
    clock = iter(range(100))
    monkeypatch.setattr(benchmarking.time, "perf_counter", lambda: next(clock))
    # Each timed product takes one tick (one second): 2 * 64**3 flops per second.
    assert benchmarking.matmul_gflops(size=64, repeats=3) == 2 * 64 ** 3 / 1e9
