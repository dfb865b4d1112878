"""Benchmark workloads as data: one source for asv, pytest-benchmark and ``convspec bench``.

A :class:`Workload` is one operation on one geometry and input shape, in one direction. Its
``flops`` come from the spec's multiply-accumulate count (``ConvGeometry.macs``, inventory C3,
C4: one MAC is two floating-point operations) and its ``min_bytes`` are the memory traffic no
implementation can avoid: every input and output tensor moved once.

Suites (``suite(name, batch=...)``):

- ``alexnet``, ``vgg16``, ``resnet50``, ``mobilenet_v2``: the convolution layers of
  :data:`convspec.spec.models.NETWORKS`, one workload per distinct (geometry, input shape); ``count``
  says how many layers of the network share it.
- ``dilated``: DeepLabv3's atrous spatial pyramid pooling (rates 6, 12, 18 at output stride 16
  on a 513×513 crop) and the dilated 3×3 convolutions of a ResNet-50 run at output stride 8
  (layer3 rate 2, layer4 rate 4); Chen et al., "Rethinking Atrous Convolution for Semantic
  Image Segmentation", 2017 (inventory B7, E14).
- ``transposed``: the DCGAN generator of the PyTorch examples (nz=100, ngf=64; Radford et al.
  2015), U-Net's 2×2 up-convolutions (Ronneberger et al. 2015) and a 3×3 stride-2 decoder
  upsampling with ``output_padding=1`` (inventory B10, F9).
- ``deepbench``: a representative subset of DeepBench's convolution sets (Baidu Research,
  github.com/baidu-research/DeepBench, ``code/kernels/conv_problems.h``; speech, OCR, face,
  vision and speaker-ID layers, rectangular kernels and strides), from the inference sets (N=1).
- ``tiny``: small conv, transposed, depthwise and pooling cases for tests and smoke runs.

Every suite is built at batch 1 unless ``batch`` says otherwise. :func:`select` reads the
comma-separated selections the command line and the benchmark options take
(``"tiny"``, ``"resnet50/conv1,dilated"``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..spec.dtypes import seeded_tensor
from ..spec.validate import as_choice, as_int
from ..spec.dtypes import numpy_dtype
from ..spec.errors import GeometryError
from ..spec.geometry import ConvGeometry, PoolGeometry, volume
from ..spec.models import NETWORKS

DIRECTIONS = ("forward", "backward")
WORKLOAD_OPERATIONS = ("conv", "conv_transpose", "max_pool", "avg_pool")


@dataclass(frozen=True)
class Workload:
    """One benchmark case: an operation, its geometry, its input shape and its direction.

    ``operation`` is a forward operation of the backend protocol; ``direction="backward"``
    benchmarks its vector-Jacobian product (``conv_vjp`` and so on). ``count`` is how many
    layers of the source network have this exact geometry and shape.
    """

    name: str
    suite: str
    operation: str
    geometry: ConvGeometry | PoolGeometry
    input_shape: tuple[int, ...]
    direction: str = "forward"
    count: int = 1

    def __post_init__(self) -> None:
        as_choice("operation", self.operation, WORKLOAD_OPERATIONS)
        as_choice("direction", self.direction, DIRECTIONS)
        as_int("count", self.count, minimum=1)
        wants_conv = self.operation in ("conv", "conv_transpose")
        if wants_conv != isinstance(self.geometry, ConvGeometry):
            kind = "ConvGeometry" if wants_conv else "PoolGeometry"
            raise GeometryError(
                f"workload {self.name!r}: operation {self.operation!r} needs a {kind}, "
                f"got {type(self.geometry).__name__}"
            )
        if wants_conv and self.geometry.operation != self.operation:
            raise GeometryError(
                f"workload {self.name!r}: operation {self.operation!r} but the geometry describes "
                f"{self.geometry.operation!r}; set transposed={self.operation == 'conv_transpose'}"
            )
        object.__setattr__(self, "input_shape", self.geometry.check_input(self.input_shape))

    # -- identity -----------------------------------------------------------------------
    @property
    def key(self) -> str:
        """``suite/name``: unique across all suites."""
        return f"{self.suite}/{self.name}"

    @property
    def protocol_operation(self) -> str:
        """The backend protocol method this workload calls (``conv`` or ``conv_vjp`` ...)."""
        return self.operation if self.direction == "forward" else f"{self.operation}_vjp"

    @property
    def batch(self) -> int:
        return self.input_shape[0]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.geometry.output_shape(self.input_shape)

    def with_batch(self, batch: int) -> Workload:
        batch = as_int("batch", batch, minimum=1)
        return replace(self, input_shape=(batch, *self.input_shape[1:]))

    def with_direction(self, direction: str) -> Workload:
        return replace(self, direction=direction)

    # -- work and traffic ---------------------------------------------------------------
    @property
    def macs(self) -> int:
        """Multiply-accumulates of the forward operation (C3, C4).

        Pooling does no multiplications; its "MACs" are the window elements it visits,
        ``N·C·∏out·∏K``, so a pooling workload's ``flops`` is one operation per element visited.
        """
        if isinstance(self.geometry, ConvGeometry):
            return self.geometry.macs(self.input_shape)
        return self.geometry.window_elements(self.input_shape)

    @property
    def flops(self) -> int:
        """Floating-point operations: forward ``2·MACs``; backward ``4·MACs``.

        The backward pass of a convolution computes the input gradient and the weight gradient,
        each as many MACs as the forward pass (F1, F2, F7); the bias gradient's sum is not
        counted, as the bias add is not counted forward. Pooling counts one operation per window
        element visited in either direction.
        """
        if isinstance(self.geometry, PoolGeometry):
            return self.macs
        return (2 if self.direction == "forward" else 4) * self.macs

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor the protocol call reads or writes, by its protocol name."""
        x, y = self.input_shape, self.output_shape
        if isinstance(self.geometry, PoolGeometry):
            return {"x": x, "y": y} if self.direction == "forward" else {"x": x, "dy": y, "dx": x}
        shapes = {"x": x, "w": self.geometry.weight_shape}
        bias = self.geometry.bias_shape
        if bias is not None:
            shapes["b"] = bias
        if self.direction == "forward":
            shapes["y"] = y
            return shapes
        shapes.update({"dy": y, "dx": x, "dw": self.geometry.weight_shape})
        if bias is not None:
            shapes["db"] = bias
        return shapes

    def min_bytes(self, dtype: str) -> int:
        """Minimum memory traffic: each tensor of :meth:`tensor_shapes` moved once."""
        itemsize = numpy_dtype(dtype).itemsize
        return itemsize * sum(volume(s) for s in self.tensor_shapes().values())

    def arithmetic_intensity(self, dtype: str) -> float:
        """FLOPs per byte of minimum traffic (the roofline's x axis)."""
        return self.flops / self.min_bytes(dtype)

    # -- the protocol call --------------------------------------------------------------
    def kwargs(self) -> dict[str, Any]:
        """The protocol keyword arguments of this workload's operation."""
        if isinstance(self.geometry, ConvGeometry):
            return self.geometry.kwargs()
        if self.operation == "max_pool":
            return self.geometry.max_pool_kwargs()
        return self.geometry.avg_pool_kwargs()

    def arrays(self, dtype: str, seed: int = 0) -> tuple[np.ndarray | None, ...]:
        """Positional arrays of the protocol call, uniform in [-1, 1), reproducible from ``seed``.

        Forward conv: ``(x, w, b)``; backward conv: ``(x, w, b, dy)``; forward pool: ``(x,)``;
        backward pool: ``(x, dy)``. ``b`` is ``None`` for a bias-free geometry.
        """
        shapes = self.tensor_shapes()
        names = ["x"] if isinstance(self.geometry, PoolGeometry) else ["x", "w", "b"]
        if self.direction == "backward":
            names.append("dy")
        return tuple(None if name not in shapes
                     else seeded_tensor(seed + i, shapes[name], dtype, "uniform")
                     for i, name in enumerate(names))

    def describe(self) -> str:
        return (f"{self.key} [{self.direction}] {self.operation} input={self.input_shape} "
                f"{self.geometry.describe()}")


# -- suites -------------------------------------------------------------------------------
def _network(name: str) -> tuple[Workload, ...]:
    """One workload per distinct (geometry, input shape) among the network's conv layers."""
    first: dict[tuple[ConvGeometry, tuple[int, ...]], Workload] = {}
    for layer in NETWORKS[name].conv_layers():
        key = (layer.geometry, layer.input_shape)
        if key in first:
            first[key] = replace(first[key], count=first[key].count + 1)
        else:
            first[key] = Workload(layer.name, name, layer.geometry.operation, layer.geometry,
                                  layer.input_shape)
    return tuple(first.values())


def _conv(suite: str, name: str, c_in: int, c_out: int, size: int | tuple[int, int],
          kernel: Any, **options: Any) -> Workload:
    geometry = ConvGeometry.make(c_in, c_out, kernel, ndim=2, **options)
    spatial = (size, size) if isinstance(size, int) else size
    return Workload(name, suite, geometry.operation, geometry, (1, c_in, *spatial))


def _dilated() -> tuple[Workload, ...]:
    s = "dilated"
    aspp = [_conv(s, "aspp.1x1", 2048, 256, 33, 1, bias=False)]
    aspp += [_conv(s, f"aspp.rate{r}", 2048, 256, 33, 3, padding=r, dilation=r, bias=False)
             for r in (6, 12, 18)]
    stage = [_conv(s, "resnet50_os8.layer3.conv2", 256, 256, 65, 3, padding=2, dilation=2,
                   bias=False),
             _conv(s, "resnet50_os8.layer4.conv2", 512, 512, 65, 3, padding=4, dilation=4,
                   bias=False)]
    return tuple(aspp + stage)


def _transposed() -> tuple[Workload, ...]:
    s = "transposed"
    dcgan = [_conv(s, "dcgan.g1", 100, 512, 1, 4, stride=1, padding=0, transposed=True,
                   bias=False)]
    dcgan += [_conv(s, f"dcgan.g{i + 2}", c_in, c_out, size, 4, stride=2, padding=1,
                    transposed=True, bias=False)
              for i, (c_in, c_out, size) in enumerate(
                  [(512, 256, 4), (256, 128, 8), (128, 64, 16), (64, 3, 32)])]
    unet = [_conv(s, f"unet.up{i + 1}", c_in, c_in // 2, size, 2, stride=2, transposed=True)
            for i, (c_in, size) in enumerate([(1024, 28), (512, 52), (256, 100), (128, 196)])]
    decoder = [_conv(s, "decoder.up3x3_op1", 128, 64, 32, 3, stride=2, padding=1,
                     output_padding=1, transposed=True)]
    return tuple(dcgan + unet + decoder)


#: DeepBench rows as written in conv_problems.h: (w, h, c, n, k, filter_w, filter_h, pad_w,
#: pad_h, wstride, hstride), with the application each comes from.
_DEEPBENCH_ROWS = (
    ("speech.deepspeech1", (700, 161, 1, 1, 32, 20, 5, 0, 0, 2, 2)),
    ("speech.deepspeech2", (341, 79, 32, 1, 32, 10, 5, 0, 0, 2, 2)),
    ("ocr.1", (480, 48, 1, 1, 16, 3, 3, 1, 1, 1, 1)),
    ("ocr.2", (240, 24, 16, 1, 32, 3, 3, 1, 1, 1, 1)),
    ("face.1", (108, 108, 3, 1, 64, 3, 3, 1, 1, 2, 2)),
    ("face.2", (54, 54, 64, 1, 64, 3, 3, 1, 1, 1, 1)),
    ("vision.vgg_3x3_224", (224, 224, 3, 1, 64, 3, 3, 1, 1, 1, 1)),
    ("vision.resnet_7x7", (224, 224, 3, 1, 64, 7, 7, 3, 3, 2, 2)),
    ("vision.inception_5x5", (28, 28, 192, 1, 32, 5, 5, 2, 2, 1, 1)),
    ("vision.inception_5x5_7", (7, 7, 832, 1, 128, 5, 5, 2, 2, 1, 1)),
    ("vision.resnet_1x1_s2", (14, 14, 1024, 1, 512, 1, 1, 0, 0, 2, 2)),
    ("speaker_id.5x5_s2", (350, 80, 64, 1, 128, 5, 5, 1, 1, 2, 2)),
    ("speaker_id.3x3", (42, 10, 512, 1, 512, 3, 3, 1, 1, 1, 1)),
    ("device.speech_w8", (151, 40, 1, 1, 32, 20, 5, 8, 8, 8, 2)),
)


def _deepbench() -> tuple[Workload, ...]:
    out = []
    for name, (w, h, c, n, k, fw, fh, pw, ph, sw, sh) in _DEEPBENCH_ROWS:
        geometry = ConvGeometry.make(c, k, (fh, fw), stride=(sh, sw), padding=(ph, pw),
                                     bias=False)
        out.append(Workload(name, "deepbench", "conv", geometry, (n, c, h, w)))
    return tuple(out)


def _tiny() -> tuple[Workload, ...]:
    s = "tiny"
    pool = PoolGeometry.make(2, ndim=2)
    return (
        _conv(s, "conv3x3", 4, 8, 8, 3, padding=1),
        _conv(s, "depthwise3x3", 8, 8, 8, 3, padding=1, groups=8, bias=False),
        _conv(s, "transposed3x3_s2", 8, 4, 4, 3, stride=2, padding=1, output_padding=1,
              transposed=True),
        Workload("maxpool2x2", s, "max_pool", pool, (1, 4, 8, 8)),
    )


_SUITES: dict[str, Callable[[], tuple[Workload, ...]]] = {
    **{name: (lambda name=name: _network(name)) for name in NETWORKS},
    "dilated": _dilated,
    "transposed": _transposed,
    "deepbench": _deepbench,
    "tiny": _tiny,
}
SUITE_NAMES = tuple(_SUITES)


def suite(name: str, *, batch: int = 1, direction: str = "forward") -> tuple[Workload, ...]:
    """The workloads of suite ``name`` at the given batch size and direction."""
    as_choice("suite", name, SUITE_NAMES)
    as_choice("direction", direction, DIRECTIONS)
    return tuple(w.with_batch(batch).with_direction(direction) for w in _SUITES[name]())


def workload(key: str, *, batch: int = 1, direction: str = "forward") -> Workload:
    """One workload by its ``suite/name`` key."""
    suite_name, _, name = key.partition("/")
    for w in suite(suite_name, batch=batch, direction=direction):
        if w.name == name:
            return w
    names = ", ".join(w.name for w in _SUITES[suite_name]())
    raise GeometryError(f"suite {suite_name!r} has no workload {name!r}; it has: {names}")


def split_list(value: str) -> list[str]:
    """The non-empty, stripped items of a comma-separated option value."""
    return [item.strip() for item in value.split(",") if item.strip()]


def select(spec: str, *, batch: int = 1, direction: str = "forward") -> tuple[Workload, ...]:
    """The workloads a comma-separated ``spec`` names, in order and without repeats.

    Each item is a suite name (all of its workloads) or a ``suite/name`` key (one workload):
    ``select("tiny")``, ``select("resnet50/conv1,resnet50/layer1.0.conv2,transposed")``.
    """
    items = split_list(spec)
    if not items:
        raise GeometryError(f"no workloads selected by {spec!r}; name suites "
                            f"({', '.join(SUITE_NAMES)}) or suite/name keys")
    chosen: dict[str, Workload] = {}
    for item in items:
        if item in _SUITES:
            found = suite(item, batch=batch, direction=direction)
        elif "/" in item:
            found = (workload(item, batch=batch, direction=direction),)
        else:
            raise GeometryError(f"{item!r} is neither a suite ({', '.join(SUITE_NAMES)}) nor a "
                                "suite/name key")
        chosen.update((w.key, w) for w in found if w.key not in chosen)
    return tuple(chosen.values())
