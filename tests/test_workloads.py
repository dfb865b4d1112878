"""Workloads: FLOPs and bytes come from the geometry; suites are built from the layer tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convspec.spec.errors import GeometryError
from convspec.spec.geometry import ConvGeometry, PoolGeometry
from convspec.spec.models import NETWORKS
from convspec.perf.workloads import SUITE_NAMES, Workload, select, split_list, suite, workload


def test_alexnet_conv1_flops_are_twice_the_im2col_gemm():
    # B11: X_col is 363 × 3025, W_row 96 × 363, so the GEMM does 96·363·3025 MACs.
    conv1 = workload("alexnet/conv1")
    assert conv1.output_shape == (1, 96, 55, 55)
    assert conv1.macs == 96 * 363 * 3025
    assert conv1.flops == 2 * 96 * 363 * 3025


def test_backward_counts_input_and_weight_gradients():
    forward = workload("resnet50/layer1.0.conv2")
    backward = workload("resnet50/layer1.0.conv2", direction="backward")
    assert backward.protocol_operation == "conv_vjp"
    assert backward.flops == 2 * forward.flops


def test_min_bytes_moves_every_tensor_once():
    g = ConvGeometry.make(4, 8, 3, padding=1, ndim=2)
    w = Workload("c", "test", "conv", g, (2, 4, 5, 5))
    x, weights, bias, y = 2 * 4 * 25, 8 * 4 * 9, 8, 2 * 8 * 25
    elements = x + weights + bias + y
    assert w.min_bytes("float32") == 4 * elements
    assert w.min_bytes("bfloat16") == 2 * elements
    assert w.min_bytes("float64") == 8 * elements
    assert w.arithmetic_intensity("float32") == pytest.approx(w.flops / (4 * elements))
    back = w.with_direction("backward")
    # reads x, w, b, dy; writes dx, dw, db
    assert back.min_bytes("float32") == 4 * (2 * (x + weights + bias) + y)


def test_transposed_workload_does_the_work_of_its_adjoint_convolution():
    up = workload("transposed/unet.up1")
    adjoint = up.geometry.adjoint()
    down = Workload("down", "test", "conv", adjoint, up.output_shape)
    assert down.output_shape == up.input_shape
    assert up.macs == down.macs


def test_pool_flops_count_window_elements():
    p = Workload("p", "test", "max_pool", PoolGeometry.make(2, ndim=2), (1, 3, 8, 8))
    assert p.flops == 3 * 16 * 4
    assert set(p.with_direction("backward").tensor_shapes()) == {"x", "dy", "dx"}


def test_network_suites_deduplicate_layers_and_keep_counts():
    for name in NETWORKS:
        layers = NETWORKS[name].conv_layers()
        ws = suite(name)
        assert sum(w.count for w in ws) == len(layers)
        assert len({(w.geometry, w.input_shape) for w in ws}) == len(ws)
        assert sum(w.macs * w.count for w in ws) == sum(layer.macs() for layer in layers)


def test_batch_scales_flops_and_activations_not_weights():
    one, four = workload("vgg16/conv3_1"), workload("vgg16/conv3_1", batch=4)
    assert four.flops == 4 * one.flops
    assert four.tensor_shapes()["w"] == one.tensor_shapes()["w"]


def test_deepbench_rows_chain_as_in_deepspeech():
    # DeepBench lists (w, h) = (700, 161) then (341, 79): conv1's output is conv2's input.
    first, second = workload("deepbench/speech.deepspeech1"), workload("deepbench/speech.deepspeech2")
    assert first.output_shape[2:] == second.input_shape[2:] == (79, 341)
    assert first.geometry.kernel == (5, 20)


def test_dilated_suite_uses_dilated_kernels_and_keeps_size():
    for w in suite("dilated"):
        if w.name.startswith("aspp.rate"):
            rate = int(w.name.removeprefix("aspp.rate"))
            assert w.geometry.dilation == (rate, rate)
            assert w.geometry.effective_kernel == (2 * rate + 1,) * 2
        assert w.output_shape[2:] == w.input_shape[2:]


def test_every_suite_builds_and_names_are_unique():
    keys = [w.key for name in SUITE_NAMES for w in suite(name)]
    assert len(keys) == len(set(keys))
    assert {w.operation for w in suite("tiny")} >= {"conv", "conv_transpose", "max_pool"}


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_arrays_match_the_protocol_call(direction):
    for w in suite("tiny", direction=direction):
        arrays = w.arrays("bfloat16", seed=3)
        shapes = w.tensor_shapes()
        names = (["x"] if w.operation.endswith("pool") else ["x", "w", "b"])
        names += ["dy"] if direction == "backward" else []
        assert len(arrays) == len(names)
        for name, array in zip(names, arrays):
            if array is None:
                assert name == "b" and not w.geometry.bias
            else:
                assert array.shape == shapes[name]
                assert array.dtype.name == "bfloat16"
        again = w.arrays("bfloat16", seed=3)
        assert all(a is None or np.array_equal(a, b) for a, b in zip(arrays, again))


def test_bad_workloads_raise_clear_errors():
    g = ConvGeometry.make(4, 8, 3, ndim=2)
    with pytest.raises(GeometryError, match="conv_transpose"):
        Workload("w", "t", "conv_transpose", g, (1, 4, 8, 8))
    with pytest.raises(GeometryError, match="PoolGeometry"):
        Workload("w", "t", "max_pool", g, (1, 4, 8, 8))
    with pytest.raises(GeometryError, match="channels"):
        Workload("w", "t", "conv", g, (1, 3, 8, 8))
    with pytest.raises(GeometryError, match="direction"):
        Workload("w", "t", "conv", g, (1, 4, 8, 8), direction="sideways")
    with pytest.raises(GeometryError, match="suite"):
        suite("lenet")
    with pytest.raises(GeometryError, match="conv3x3"):
        workload("tiny/nonexistent")
    with pytest.raises(GeometryError, match="batch"):
        workload("tiny/conv3x3", batch=0)


def test_total_resnet50_flops_match_the_network_count():
    total = sum(w.flops * w.count for w in suite("resnet50"))
    assert total == 2 * NETWORKS["resnet50"].macs() - 2 * math.prod(
        NETWORKS["resnet50"].fc_layers()[0].geometry.weight_shape)


def test_select_reads_suites_and_keys_in_order_without_repeats():
    chosen = select("tiny/maxpool2x2, tiny,resnet50/conv1", batch=2, direction="backward")
    assert [w.key for w in chosen] == ["tiny/maxpool2x2", "tiny/conv3x3", "tiny/depthwise3x3",
                                       "tiny/transposed3x3_s2", "resnet50/conv1"]
    assert all(w.batch == 2 and w.direction == "backward" for w in chosen)
    assert split_list(" a, ,b,") == ["a", "b"]
    with pytest.raises(GeometryError, match="no workloads"):
        select(" , ")
    with pytest.raises(GeometryError, match="neither a suite"):
        select("conv3x3")
