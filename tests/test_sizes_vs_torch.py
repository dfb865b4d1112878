"""The size formulas against the shapes PyTorch actually produces (randomized, fixed seed).

For every case either both convspec and PyTorch accept the geometry and agree on the size, or
both reject it (convspec with GeometryError, PyTorch with RuntimeError/ValueError).
"""

from __future__ import annotations

import random

import pytest

from convspec import (
    GeometryError,
    conv_output_size,
    pool_output_size,
    same_padding,
    transposed_output_size,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

CASES = 300
TORCH_ERRORS = (RuntimeError, ValueError)


def _ours(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except GeometryError:
        return "error"


def _theirs(fn, *args, **kwargs):
    try:
        with torch.no_grad():
            return fn(*args, **kwargs).shape[-1]
    except TORCH_ERRORS:
        return "error"


def _zeros(*shape: int):
    return torch.zeros(shape)


@pytest.mark.spec("B1", "B7")
def test_conv_output_size_matches_torch() -> None:
    rng = random.Random(1)
    for _ in range(CASES):
        n, k, s, d = rng.randint(1, 20), rng.randint(1, 6), rng.randint(1, 4), rng.randint(1, 3)
        pb, pa = rng.randint(0, 3), rng.randint(0, 3)
        ours = _ours(conv_output_size, n, k, stride=s, padding=(pb, pa), dilation=d)
        x = F.pad(_zeros(1, 1, n), (pb, pa))
        theirs = _theirs(F.conv1d, x, _zeros(1, 1, k), stride=s, dilation=d)
        assert ours == theirs, dict(n=n, k=k, s=s, padding=(pb, pa), d=d)


@pytest.mark.spec("B10")
def test_transposed_output_size_matches_torch() -> None:
    rng = random.Random(2)
    for _ in range(CASES):
        n, k, s, d = rng.randint(1, 10), rng.randint(1, 5), rng.randint(1, 4), rng.randint(1, 3)
        p, op = rng.randint(0, 4), rng.randint(0, 3)
        ours = _ours(transposed_output_size, n, k, stride=s, padding=p, dilation=d,
                     output_padding=op)
        theirs = _theirs(F.conv_transpose1d, _zeros(1, 1, n), _zeros(1, 1, k), stride=s,
                         padding=p, output_padding=op, dilation=d)
        assert ours == theirs, dict(n=n, k=k, s=s, p=p, d=d, output_padding=op)


@pytest.mark.spec("B9")
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pool_output_size_matches_torch(ceil_mode: bool) -> None:
    rng = random.Random(3 + ceil_mode)
    stricter = 0
    for _ in range(CASES):
        n, k, s, d = rng.randint(1, 16), rng.randint(1, 5), rng.randint(1, 4), rng.randint(1, 3)
        p = rng.randint(0, 3)
        ours = _ours(pool_output_size, n, k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)
        theirs = _theirs(F.max_pool1d, _zeros(1, 1, n), k, stride=s, padding=p, dilation=d,
                         ceil_mode=ceil_mode)
        if theirs == "error" and ours != "error":
            # PyTorch limits padding to half the *undilated* kernel; the spec allows half the
            # dilated span, where every window still meets the input. Only this case differs.
            assert d > 1 and k // 2 < p <= (d * (k - 1) + 1) // 2, dict(n=n, k=k, s=s, p=p, d=d)
            stricter += 1
            continue
        assert ours == theirs, dict(n=n, k=k, s=s, p=p, d=d, ceil_mode=ceil_mode)
        if d == 1:
            avg = _theirs(F.avg_pool1d, _zeros(1, 1, n), k, stride=s, padding=p,
                          ceil_mode=ceil_mode)
            assert ours == avg, dict(n=n, k=k, s=s, p=p, ceil_mode=ceil_mode, op="avg")
    assert stricter < CASES // 4  # the sweep mostly compares sizes, not this one restriction


@pytest.mark.spec("B4")
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_same_padding_torch_matches_padding_same() -> None:
    """Not only the size: the (before, after) split gives PyTorch's values for padding='same'."""
    rng = random.Random(4)
    for _ in range(100):
        n, k, d = rng.randint(1, 12), rng.randint(1, 6), rng.randint(1, 3)
        x, w = torch.randn(1, 1, n), torch.randn(1, 1, k)
        before, after = same_padding(n, k, dilation=d)
        ours = F.conv1d(F.pad(x, (before, after)), w, dilation=d)
        theirs = F.conv1d(x, w, padding="same", dilation=d)
        assert ours.shape[-1] == n
        torch.testing.assert_close(ours, theirs)


@pytest.mark.spec("B1", "B9", "B10")
def test_per_axis_forms_match_torch_in_2d_and_3d() -> None:
    rng = random.Random(5)
    for _ in range(40):
        rank = rng.choice((2, 3))
        n = tuple(rng.randint(4, 9) for _ in range(rank))
        k = tuple(rng.randint(1, 3) for _ in range(rank))
        s = tuple(rng.randint(1, 3) for _ in range(rank))
        p = tuple(rng.randint(0, 1) for _ in range(rank))
        conv = getattr(F, f"conv{rank}d")
        transposed = getattr(F, f"conv_transpose{rank}d")
        pool = getattr(F, f"max_pool{rank}d")
        x, w = _zeros(1, 1, *n), _zeros(1, 1, *k)
        assert conv_output_size(n, k, stride=s, padding=p) == tuple(
            conv(x, w, stride=s, padding=p).shape[2:])
        assert transposed_output_size(n, k, stride=s, padding=p) == tuple(
            transposed(x, w, stride=s, padding=p).shape[2:])
        half = tuple(min(pi, ki // 2) for pi, ki in zip(p, k))
        assert pool_output_size(n, k, stride=s, padding=half, ceil_mode=True) == tuple(
            pool(x, k, stride=s, padding=half, ceil_mode=True).shape[2:])
