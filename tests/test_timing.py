"""The timing harness: its protocol (warm-up, flush, synchronize). Its agreement with
torch.utils.benchmark is a measurement, in bench/harness_agreement.py."""

from __future__ import annotations


import numpy as np
import pytest

from convspec.backends.protocol import Capabilities
from convspec.perf.timing import (
    MODE_DEVICE,
    MODE_NUMPY,
    PreparedCall,
    Unsupported,
    as_prepared,
    cache_flusher,
    harness_overhead,
    interleaved,
    last_level_cache_bytes,
    measure,
    prepare,
)
from convspec.perf.workloads import workload


class Recorder:
    """Logs the order in which the harness calls run, synchronize and flush."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def call(self) -> PreparedCall:
        return PreparedCall(run=lambda: self.log.append("run"),
                            synchronize=lambda: self.log.append("sync"),
                            flush=lambda: self.log.append("flush"))


def test_every_timed_call_is_flushed_and_synchronized_on_both_sides():
    rec = Recorder()
    m = measure(rec.call(), repeats=4, warmup_s=0.0, min_warmup=2)
    assert len(m.times) == 4 and m.warmup_calls == 2
    timed = rec.log[2 * 3:]  # two warm-up calls: sync, run, sync each
    assert rec.log[:6] == ["sync", "run", "sync"] * 2
    assert timed[:4 * 4] == ["flush", "sync", "run", "sync"] * 4


def test_no_flush_when_asked():
    rec = Recorder()
    m = measure(rec.call(), repeats=3, warmup_s=0.0, min_warmup=1, flush=False)
    assert "flush" not in rec.log and not m.flushed


def test_repeats_follow_the_budget_within_bounds():
    m = measure(lambda: None, budget_s=0.001, min_repeats=5, max_repeats=9, flush=False)
    assert len(m.times) == 9
    slow = measure(lambda: sum(range(20000)), budget_s=1e-9, min_repeats=3, flush=False)
    assert len(slow.times) == 3


def test_statistics_of_a_measurement():
    m = measure(lambda: sum(range(1000)), repeats=21, flush=False)
    q1, q3 = m.quartiles
    assert m.minimum <= q1 <= m.median <= q3
    assert m.iqr == q3 - q1 >= 0
    row = m.as_dict()
    assert row["repeats"] == 21 and row["mode"] == MODE_DEVICE and row["device"] == "cpu"


def test_harness_overhead_is_small_and_reported():
    overhead = harness_overhead()
    assert 0 < overhead < 1e-4
    assert measure(lambda: None, repeats=3, flush=False).overhead < 1e-4


def test_cpu_flush_writes_more_than_the_last_level_cache():
    from convspec.perf.timing import _cpu_flush_buffer

    flush = cache_flusher("cpu")
    before = int(_cpu_flush_buffer()[-1])
    flush()
    assert int(_cpu_flush_buffer()[-1]) != before
    assert _cpu_flush_buffer().nbytes >= 2 * last_level_cache_bytes()
    with pytest.raises(ValueError, match="flush"):
        cache_flusher("tpu")


def test_as_prepared_accepts_duck_types_and_rejects_others():
    class Adapter:
        device = "cuda:0"

        def run(self):
            return 1

        def synchronize(self):
            return None

    call = as_prepared(Adapter())
    assert call.device == "cuda:0" and call.flush is None
    with pytest.raises(TypeError, match="PreparedCall"):
        as_prepared(object())


class NumpyOnly:
    """A protocol backend without the timing hook: max pooling only."""

    name = "numpy-only"

    def capabilities(self):
        return Capabilities(operations=frozenset({"max_pool"}))

    def max_pool(self, x, *, kernel, stride, padding, dilation, ceil_mode):
        n, c, h, w = x.shape
        return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


class WithHook(NumpyOnly):
    name = "with-hook"

    def __init__(self):
        self.prepared = []

    def prepare(self, operation, *args, **kwargs):
        self.prepared.append((operation, [a.shape for a in args], kwargs))
        return PreparedCall(run=lambda: getattr(self, operation)(*args, **kwargs), device="cpu")


def test_prepare_falls_back_to_the_numpy_protocol_call():
    call = prepare(NumpyOnly(), workload("tiny/maxpool2x2"), "float32")
    assert call.mode == MODE_NUMPY
    assert call.run().shape == (1, 4, 4, 4)


def test_prepare_uses_the_hook_with_the_protocol_arguments():
    backend = WithHook()
    call = prepare(backend, workload("tiny/maxpool2x2"), "float32")
    assert call.mode == MODE_DEVICE
    (operation, shapes, kwargs), = backend.prepared
    assert operation == "max_pool" and shapes == [(1, 4, 8, 8)]
    assert kwargs["kernel"] == (2, 2) and kwargs["ceil_mode"] is False


def test_prepare_refuses_what_the_backend_cannot_do():
    with pytest.raises(Unsupported, match="conv"):
        prepare(NumpyOnly(), workload("tiny/conv3x3"), "float32")
    with pytest.raises(Unsupported, match="max_pool_vjp"):
        prepare(NumpyOnly(), workload("tiny/maxpool2x2", direction="backward"), "float32")


def test_interleaved_alternates_calls():
    order: list[int] = []
    result = interleaved([lambda: order.append(0) or 0.0, lambda: order.append(1) or 1.0], 3)
    assert order == [0, 1, 0, 1, 0, 1]
    assert result == [[0.0] * 3, [1.0] * 3]
    assert np.isfinite(result[0]).all()


def test_autotuning_is_enabled_for_cuda_calls_only(monkeypatch):
    from convspec.perf.timing import enable_autotuning

    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    enable_autotuning("cpu")
    assert torch.backends.cudnn.benchmark is False
    enable_autotuning("cuda:0")
    assert torch.backends.cudnn.benchmark is True
    assert not torch.cuda.is_initialized()


def test_roofline_bound_and_calibrated_peak():
    from convspec.perf.roofline import Calibration, peak_flops, point

    c = Calibration("cpu", "float32", peak_flops=100e9, bandwidth=10e9, gemm_n=1, copy_bytes=1,
                    library="test", machine="test")
    assert c.ridge_intensity == 10
    memory = point(flops=10**9, seconds=1.0, intensity=2.0, calibration=c)
    assert memory.bound == 20e9 and memory.limited_by == "memory" and memory.percent == 5
    compute = point(flops=50 * 10**9, seconds=1.0, intensity=50.0, calibration=c)
    assert compute.bound == 100e9 and compute.limited_by == "compute" and compute.percent == 50
    rate, n = peak_flops("cpu", "float32", min_n=256, max_n=512, budget_s=0.01)
    assert n in (256, 512) and rate > 1e8  # the best of the sizes tried
