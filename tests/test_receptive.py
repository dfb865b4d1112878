"""Receptive fields (C12) and the gridding of stacked dilations (E15)."""

from __future__ import annotations

import random

import pytest

from convspec import (
    ConvGeometry,
    GeometryError,
    PoolGeometry,
    ReceptiveLayer,
    dilated_stack,
    has_gridding,
    hdc_violations,
    missing_offsets,
    reached_offsets,
    receptive_field,
)
from convspec.spec.models import NETWORKS


@pytest.mark.spec("C12")
def test_two_stacked_3x3_see_5x5_and_dilation_grows_faster() -> None:
    assert receptive_field([(3,), (3,)]).size == 5
    assert receptive_field([(3,)] * 3).size == 7
    assert receptive_field([(3, 1, 0, 1), (3, 1, 0, 2), (3, 1, 0, 4)]).size == 15
    assert receptive_field([(3, 1, 0, 2)] * 2).size == 9


@pytest.mark.spec("C12")
def test_stride_and_padding_recursion() -> None:
    # AlexNet conv1 + pool1 + conv2 + pool2 along one axis
    field = receptive_field([(11, 4, 0), (3, 2), (5, 1, 2), (3, 2)])
    assert (field.size, field.stride, field.padding) == (67, 16, 16)
    assert field.input_interval(0) == (-16, 50)
    assert field.input_interval(2) == (16, 82)
    assert field.center(1) == 33.0


@pytest.mark.spec("C12")
def test_receptive_field_is_the_brute_force_dependency_set() -> None:
    """Which input indices output 0 depends on, tracked index by index through the stack."""
    rng = random.Random(7)
    for _ in range(200):
        layers = [(rng.randint(1, 4), rng.randint(1, 3), rng.randint(0, 2), rng.randint(1, 3))
                  for _ in range(rng.randint(1, 4))]
        dependency = {0}  # output positions of the last layer, walked back to the input
        for kernel, stride, padding, dilation in reversed(layers):
            dependency = {i * stride - padding + j * dilation
                          for i in dependency for j in range(kernel)}
        field = receptive_field(layers)
        start, end = field.input_interval(0)
        assert (min(dependency), max(dependency)) == (start, end), layers
        assert {d - start for d in dependency} == reached_offsets(layers)


def test_layers_in_every_accepted_form() -> None:
    conv = ConvGeometry.make(3, 8, (3, 5), stride=(1, 2), padding=((1, 0), (2, 2)), dilation=(2, 1))
    assert receptive_field([conv]).size == 5
    assert receptive_field([conv], axis=1) == receptive_field([(5, 2, 2, 1)])
    pool = PoolGeometry.make(3, stride=2, padding=1, ndim=2)
    assert receptive_field([pool, {"kernel": 3, "dilation": 2}, 3]).size == 3 + 2 * 4 + 2 * 2
    vgg = [layer.geometry for layer in NETWORKS["vgg16"].conv_layers()[:2]]
    assert receptive_field(vgg).size == 5
    assert ReceptiveLayer.of((3, 1, (1, 2))).padding == 1


@pytest.mark.parametrize("layers,match", [
    ([], "empty"),
    ([(0,)], "kernel"),
    ([(3, 0)], "stride"),
    ([(3, 1, -1)], "padding"),
    ([(3, 1, 0, 0)], "dilation"),
    ([(3, 1, 0, 1, 9)], "1 to 4"),
    ([{"size": 3}], "unknown layer keys"),
    ([(2.5,)], "integer"),
    ("33", "sequence"),
])
def test_bad_layers(layers, match) -> None:
    with pytest.raises(GeometryError, match=match):
        receptive_field(layers)


def test_transposed_and_wrong_axis_rejected() -> None:
    with pytest.raises(GeometryError, match="transposed"):
        receptive_field([ConvGeometry.make(1, 1, 3, transposed=True, ndim=1)])
    with pytest.raises(GeometryError, match="axis 2"):
        receptive_field([ConvGeometry.make(1, 1, 3, ndim=2)], axis=2)


@pytest.mark.spec("E15")
def test_gridding_of_repeated_rate_2() -> None:
    stack = dilated_stack([2, 2, 2])
    assert reached_offsets(stack) == frozenset(range(0, 13, 2))
    assert missing_offsets(stack) == tuple(range(1, 13, 2))
    assert has_gridding(stack)
    assert not has_gridding(dilated_stack([1, 2, 5]))
    assert not has_gridding(dilated_stack([1, 2, 5, 1, 2, 5]))
    assert has_gridding(dilated_stack([1, 2, 9]))


@pytest.mark.spec("E15")
def test_hdc_rules() -> None:
    assert hdc_violations([1, 2, 3]) == ()
    assert [v.rule for v in hdc_violations([2, 2, 2])] == ["common_factor", "sawtooth"]
    assert "share the factor 2" in hdc_violations([2, 4])[0].reason
    assert [v.rule for v in hdc_violations([5, 2, 1])] == ["sawtooth", "max_rate"]
    assert [v.rule for v in hdc_violations([1, 2, 9])] == ["max_rate", "hdc_distance"]
    assert hdc_violations([1, 2, 5, 1, 2, 5], kernel=5) == ()
    # The notes' rule 3 ("rate ≤ kernel size") is stronger than needed: [1, 2, 5] with 3×3
    # kernels breaks it, yet the precise condition M_2 ≤ K holds and nothing is missed.
    assert [v.rule for v in hdc_violations([1, 2, 5], kernel=3)] == ["max_rate"]


@pytest.mark.spec("E15")
def test_a_common_factor_always_grids() -> None:
    rng = random.Random(11)
    for _ in range(100):
        factor = rng.randint(2, 4)
        rates = [factor * rng.randint(1, 3) for _ in range(rng.randint(1, 4))]
        assert has_gridding(dilated_stack(rates, rng.randint(2, 4)))
        assert "common_factor" in [v.rule for v in hdc_violations(rates)]


def test_bad_rates() -> None:
    with pytest.raises(GeometryError, match="rates"):
        hdc_violations([])
    with pytest.raises(GeometryError, match="dilation"):
        hdc_violations([1, 0])
