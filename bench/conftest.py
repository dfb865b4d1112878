"""Options of the pytest-benchmark comparison (``pytest bench/ --benchmark-only``)."""

from __future__ import annotations

import pytest

DEFAULT_WORKLOADS = ("resnet50/conv1,resnet50/layer1.0.conv2,resnet50/layer3.1.conv1,"
                     "transposed/dcgan.g3,mobilenet_v2/features.2.depthwise")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convspec-bench", "convspec backend comparison")
    group.addoption("--bench-backends", default="default", metavar="NAME,...",
                    help="backends to compare: names, 'all', or 'default' (every built-in "
                         "but the torch-compile ones, whose first call per shape compiles)")
    group.addoption("--bench-workloads", default=DEFAULT_WORKLOADS, metavar="KEY,...",
                    help="workloads as suite/name, or a whole suite by name "
                         "(default: a few ResNet-50, MobileNetV2 and DCGAN layers)")
    group.addoption("--bench-dtypes", default="float32", metavar="DTYPE,...")
    group.addoption("--bench-directions", default="forward", metavar="forward,backward")
    group.addoption("--bench-batch", type=int, default=1)
    group.addoption("--bench-rounds", type=int, default=10,
                    help="timed rounds per case (cache flushed before each)")
    group.addoption("--bench-no-roofline", action="store_true",
                    help="skip the roofline calibration (no percent in extra_info)")
