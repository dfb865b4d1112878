"""Layer tables of four well-known networks, for whole-model counts (inventory C11).

Every layer is a :class:`~convspec.spec.geometry.ConvGeometry`: a fully connected layer is written
as the convolution of inventory D6 (its kernel covers its input's whole spatial extent), so
parameters and multiply-accumulates all come from ``ConvGeometry.params()`` / ``.macs()``.
Pooling between layers is recorded on the layer it follows (``Layer.pool``), and
``Layer.source`` names the layer whose (pooled) output feeds this one, so the tables can be
checked to chain.

- ``alexnet``: the original two-GPU network of Krizhevsky et al. (2012) as seed 001 describes
  it: a 227×227×3 input and 96 filters of 11×11 with stride 4 (B6), and the paper's
  ``groups=2`` in conv2, conv4 and conv5. It has 60,965,224 parameters, the notes' "about
  60 million" (C11). torchvision's single-GPU variant (64 filters, 61,100,840) is not this one.
- ``vgg16``: configuration D of Simonyan and Zisserman; 138,357,544 parameters with biases,
  the notes' "about 140 million" (seed 001, C11).
- ``resnet50``: every convolution of He et al.'s ResNet-50 (v1.5: stride 2 in the 3×3 conv of
  a bottleneck, as torchvision) including the 1×1 downsample projections, at 224×224; convs
  have no bias and are each followed by batch norm.
- ``mobilenet_v2``: Sandler et al.'s inverted residual network (width 1.0) at 224×224, with
  its depthwise layers as ``groups = channels``; convs have no bias, each followed by batch norm.

Batch-norm layers are not convolutions; :meth:`Network.batch_norm_params` counts their
``2·C`` affine parameters separately, so ``params() + batch_norm_params()`` equals the total a
framework reports (25,557,032 for ResNet-50, 3,504,872 for MobileNetV2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import GeometryError
from .geometry import ConvGeometry, PoolGeometry
from .shapes import fc_as_conv

LayerKind = Literal["conv", "fc"]


@dataclass(frozen=True)
class Layer:
    """One convolution or fully connected layer, with the input it sees (N=1).

    ``pool`` is the pooling applied to this layer's output before the next layer (None: none).
    ``source`` is the name of the layer whose pooled output is this layer's input; None means
    the layer listed just before it (the network input for the first layer).
    ``batch_norm`` says whether a batch-norm layer follows (its parameters are not counted by
    :meth:`params`).
    """

    name: str
    kind: LayerKind
    geometry: ConvGeometry
    input_shape: tuple[int, ...]
    pool: PoolGeometry | None = None
    source: str | None = None
    batch_norm: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("conv", "fc"):
            raise GeometryError(f"layer {self.name}: kind must be 'conv' or 'fc', got {self.kind!r}")
        self.geometry.check_input(self.input_shape)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The layer's output shape, before ``pool``."""
        return self.geometry.output_shape(self.input_shape)

    @property
    def pooled_shape(self) -> tuple[int, ...]:
        """The shape the next layer sees: ``output_shape`` after ``pool`` (if any)."""
        if self.pool is None:
            return self.output_shape
        return self.pool.output_shape(self.output_shape)

    def params(self) -> int:
        """Weights plus biases of this layer (C1, C4)."""
        return self.geometry.params()

    def macs(self) -> int:
        """Multiply-accumulates of one forward pass at ``input_shape`` (C3, C4)."""
        return self.geometry.macs(self.input_shape)


@dataclass(frozen=True)
class Network:
    """A named table of layers (inventory C11)."""

    name: str
    layers: tuple[Layer, ...]

    def params(self) -> int:
        """Sum of the conv and FC layers' weights and biases (batch norm excluded)."""
        return sum(layer.params() for layer in self.layers)

    def macs(self) -> int:
        """Multiply-accumulates of one forward pass of one image (bias, BN, pooling excluded)."""
        return sum(layer.macs() for layer in self.layers)

    def batch_norm_params(self) -> int:
        """The ``2·C`` scale and shift of each batch-norm layer that follows a conv."""
        return sum(2 * layer.geometry.out_channels for layer in self.layers if layer.batch_norm)

    def conv_layers(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers if layer.kind == "conv")

    def fc_layers(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers if layer.kind == "fc")

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"{self.name} has no layer {name!r}")

    def source_shape(self, index: int) -> tuple[int, ...] | None:
        """The shape layer ``index`` should receive from its source (None for the first)."""
        layer = self.layers[index]
        if layer.source is not None:
            return self.layer(layer.source).pooled_shape
        return self.layers[index - 1].pooled_shape if index else None


class _Builder:
    """Appends layers whose input is the previous layer's pooled output."""

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        self.layers: list[Layer] = []
        self.shape = input_shape

    def conv(self, name: str, c_out: int, kernel: int, *, stride: int = 1, padding: int = 0,
             groups: int = 1, bias: bool = True, batch_norm: bool = False,
             pool: PoolGeometry | None = None, source: str | None = None) -> Layer:
        shape = self.shape if source is None else self._by_name(source).pooled_shape
        geometry = ConvGeometry.make(shape[1], c_out, kernel, stride=stride, padding=padding,
                                     groups=groups, bias=bias, ndim=2)
        return self._add(Layer(name, "conv", geometry, shape, pool, source, batch_norm))

    def fc(self, name: str, c_out: int) -> Layer:
        """A fully connected layer as the conv of D6: kernel = the input's spatial size."""
        return self._add(Layer(name, "fc", fc_as_conv(self.shape, c_out), self.shape))

    def _by_name(self, name: str) -> Layer:
        return next(layer for layer in self.layers if layer.name == name)

    def _add(self, layer: Layer) -> Layer:
        self.layers.append(layer)
        self.shape = layer.pooled_shape
        return layer


def _alexnet() -> Network:
    pool = PoolGeometry.make(3, stride=2, ndim=2)  # overlapping pooling, F=3, S=2 (B9, G2)
    b = _Builder((1, 3, 227, 227))
    b.conv("conv1", 96, 11, stride=4, pool=pool)
    b.conv("conv2", 256, 5, padding=2, groups=2, pool=pool)
    b.conv("conv3", 384, 3, padding=1)
    b.conv("conv4", 384, 3, padding=1, groups=2)
    b.conv("conv5", 256, 3, padding=1, groups=2, pool=pool)
    for name, width in (("fc6", 4096), ("fc7", 4096), ("fc8", 1000)):
        b.fc(name, width)
    return Network("alexnet", tuple(b.layers))


VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def _vgg16() -> Network:
    b = _Builder((1, 3, 224, 224))
    for block, (width, depth) in enumerate(VGG16_BLOCKS, start=1):
        for i in range(1, depth + 1):
            pool = PoolGeometry.make(2, ndim=2) if i == depth else None
            b.conv(f"conv{block}_{i}", width, 3, padding=1, pool=pool)
    for name, width in (("fc6", 4096), ("fc7", 4096), ("fc8", 1000)):
        b.fc(name, width)
    return Network("vgg16", tuple(b.layers))


# (bottleneck width, blocks, stride of the stage's first block); output width is 4× the width.
RESNET50_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))


def _resnet50() -> Network:
    b = _Builder((1, 3, 224, 224))
    b.conv("conv1", 64, 7, stride=2, padding=3, bias=False, batch_norm=True,
           pool=PoolGeometry.make(3, stride=2, padding=1, ndim=2))
    block_input = "conv1"
    for stage, (width, blocks, first_stride) in enumerate(RESNET50_STAGES, start=1):
        for index in range(blocks):
            prefix = f"layer{stage}.{index}"
            stride = first_stride if index == 0 else 1
            bn = {"bias": False, "batch_norm": True}
            b.conv(f"{prefix}.conv1", width, 1, source=block_input, **bn)
            b.conv(f"{prefix}.conv2", width, 3, stride=stride, padding=1, **bn)
            last = stage == len(RESNET50_STAGES) and index == blocks - 1
            global_pool = PoolGeometry.make(7, ndim=2) if last else None
            b.conv(f"{prefix}.conv3", 4 * width, 1, pool=global_pool, **bn)
            if index == 0:  # projection shortcut where width or stride changes
                b.conv(f"{prefix}.downsample", 4 * width, 1, stride=stride, source=block_input,
                       **bn)
            block_input = f"{prefix}.conv3"
    b.fc("fc", 1000)
    return Network("resnet50", tuple(b.layers))


# Sandler et al., Table 2: expansion t, output channels c, repeats n, first stride s.
MOBILENET_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                         (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _mobilenet_v2() -> Network:
    bn = {"bias": False, "batch_norm": True}
    b = _Builder((1, 3, 224, 224))
    b.conv("features.0", 32, 3, stride=2, padding=1, **bn)
    block = 1
    for t, c, n, s in MOBILENET_V2_SETTINGS:
        for i in range(n):
            c_in = b.shape[1]
            hidden = c_in * t
            if t != 1:
                b.conv(f"features.{block}.expand", hidden, 1, **bn)
            b.conv(f"features.{block}.depthwise", hidden, 3, stride=s if i == 0 else 1,
                   padding=1, groups=hidden, **bn)
            b.conv(f"features.{block}.project", c, 1, **bn)
            block += 1
    b.conv(f"features.{block}", 1280, 1, pool=PoolGeometry.make(7, ndim=2), **bn)
    b.fc("classifier", 1000)
    return Network("mobilenet_v2", tuple(b.layers))


NETWORKS: dict[str, Network] = {
    network.name: network
    for network in (_alexnet(), _vgg16(), _resnet50(), _mobilenet_v2())
}
