"""Layer tables of AlexNet, VGG-16, ResNet-50 and MobileNetV2 (inventory C11, D6)."""

from __future__ import annotations

import pytest

from convspec.spec.models import NETWORKS, Layer, Network

NAMES = ("alexnet", "vgg16", "resnet50", "mobilenet_v2")


def test_the_four_networks_are_there() -> None:
    assert tuple(NETWORKS) == NAMES
    assert all(isinstance(n, Network) and n.name == key for key, n in NETWORKS.items())


@pytest.mark.spec("C11")
@pytest.mark.parametrize("name", NAMES)
def test_layers_chain(name: str) -> None:
    network = NETWORKS[name]
    for index, layer in enumerate(network.layers):
        expected = network.source_shape(index)
        if expected is not None:
            assert layer.input_shape == expected, layer.name
    assert network.layers[-1].output_shape == (1, 1000, 1, 1)


@pytest.mark.spec("C11", "C1")
def test_alexnet_about_60_million() -> None:
    alexnet = NETWORKS["alexnet"]
    assert alexnet.params() == 60_965_224
    assert round(alexnet.params() / 1e6) == 61  # the notes: "6000万个参数" (about 60M)
    conv1 = alexnet.layer("conv1")
    assert conv1.input_shape == (1, 3, 227, 227)
    assert conv1.output_shape == (1, 96, 55, 55)  # B6: (227-11)/4+1 = 55
    assert conv1.params() == 34_944  # C1
    assert alexnet.layer("conv2").geometry.groups == 2
    assert alexnet.layer("fc6").input_shape == (1, 256, 6, 6)


@pytest.mark.spec("C11", "D6")
def test_vgg16_about_140_million() -> None:
    vgg = NETWORKS["vgg16"]
    assert vgg.params() == 138_357_544
    assert len(vgg.conv_layers()) == 13 and len(vgg.fc_layers()) == 3
    fc6 = vgg.layer("fc6")
    assert fc6.input_shape == (1, 512, 7, 7)  # D6: FC on 7×7×512 is a conv with F=7
    assert fc6.geometry.kernel == (7, 7) and fc6.geometry.out_channels == 4096
    assert vgg.layer("fc7").geometry.kernel == (1, 1)  # later FC layers are 1×1 convs
    assert vgg.macs() == 15_470_264_320


@pytest.mark.spec("C11")
def test_resnet50_matches_the_framework_total() -> None:
    resnet = NETWORKS["resnet50"]
    # torchvision's resnet50 has 25,557,032 parameters: convs + fc + batch-norm affine.
    assert resnet.params() + resnet.batch_norm_params() == 25_557_032
    assert len(resnet.conv_layers()) == 53  # 1 stem + 16 blocks × 3 + 4 downsample projections
    assert sum(".downsample" in layer.name for layer in resnet.layers) == 4
    assert resnet.layer("layer4.2.conv3").pooled_shape == (1, 2048, 1, 1)
    assert 4.0e9 < resnet.macs() < 4.2e9  # the usual "4.1 GFLOPs" (multiply-adds)


@pytest.mark.spec("C11", "C8", "E10")
def test_mobilenet_v2_matches_the_framework_total() -> None:
    mobilenet = NETWORKS["mobilenet_v2"]
    assert mobilenet.params() + mobilenet.batch_norm_params() == 3_504_872
    depthwise = [layer for layer in mobilenet.layers if layer.name.endswith(".depthwise")]
    assert len(depthwise) == 17
    assert all(layer.geometry.groups == layer.geometry.in_channels == layer.geometry.out_channels
               for layer in depthwise)
    assert 290e6 < mobilenet.macs() < 310e6  # the paper's 300M multiply-adds


@pytest.mark.parametrize("name", NAMES)
def test_totals_are_sums_of_layers(name: str) -> None:
    network = NETWORKS[name]
    assert network.params() == sum(layer.geometry.params() for layer in network.layers)
    assert network.macs() == sum(layer.geometry.macs(layer.input_shape)
                                 for layer in network.layers)


@pytest.mark.parametrize("name", NAMES)
def test_shapes_match_torch(name: str) -> None:
    """Every layer's output shape and parameter count as PyTorch computes them (meta tensors)."""
    torch = pytest.importorskip("torch")
    network = NETWORKS[name]
    for layer in network.layers:
        g = layer.geometry
        module = torch.nn.Conv2d(g.in_channels, g.out_channels, g.kernel, stride=g.stride,
                                 padding=g.symmetric_padding, dilation=g.dilation,
                                 groups=g.groups, bias=g.bias, device="meta")
        assert sum(p.numel() for p in module.parameters()) == layer.params(), layer.name
        out = module(torch.empty(layer.input_shape, device="meta"))
        assert tuple(out.shape) == layer.output_shape, layer.name
        if layer.pool is not None:
            p = layer.pool
            pooled = torch.nn.functional.max_pool2d(out, p.kernel, p.stride, p.padding)
            assert tuple(pooled.shape) == layer.pooled_shape, layer.name


def test_layer_rejects_a_mismatched_input() -> None:
    from convspec import GeometryError, ConvGeometry
    with pytest.raises(GeometryError, match="channels"):
        Layer("bad", "conv", ConvGeometry.make(3, 8, 3, ndim=2), (1, 4, 8, 8))
    with pytest.raises(GeometryError, match="kind"):
        Layer("bad", "pool", ConvGeometry.make(3, 8, 3, ndim=2), (1, 3, 8, 8))  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        NETWORKS["vgg16"].layer("conv9_9")
