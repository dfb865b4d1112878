"""Options of the pytest-benchmark comparison (``pytest bench/ --benchmark-only``).

Every option has an environment variable for its default, so a nightly job or a bigger local
run needs no long command line::

    CONVSPEC_BENCH_WORKLOADS=resnet50 pytest bench/ --benchmark-only
    pytest bench/ --benchmark-only --bench-workloads=resnet50,transposed --bench-dtypes=float64

The default set is small (a few layers, float32, forward: about 30 s on two cores). The
results are saved as JSON under ``.benchmarks/`` (gitignored) unless ``--benchmark-json`` or
``--benchmark-save`` says otherwise.
"""

from __future__ import annotations

import os

import pytest

DEFAULT_WORKLOADS = ("resnet50/conv1,resnet50/layer1.0.conv2,resnet50/layer3.1.conv1,"
                     "transposed/dcgan.g3,mobilenet_v2/features.2.depthwise")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CONVSPEC_BENCH_{name}", default)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convspec-bench", "convspec backend comparison")
    group.addoption("--bench-backends", default=_env("BACKENDS", "default"), metavar="NAME,...",
                    help="backends to compare: names, 'all', or 'default' (every built-in "
                         "but the slow ones: torch-compile, compiling per shape, and scipy); "
                         "env CONVSPEC_BENCH_BACKENDS")
    group.addoption("--bench-workloads", default=_env("WORKLOADS", DEFAULT_WORKLOADS),
                    metavar="SPEC",
                    help="workloads as suite/name keys or whole suites, comma-separated "
                         "(default: a few ResNet-50, MobileNetV2 and DCGAN layers); "
                         "env CONVSPEC_BENCH_WORKLOADS")
    group.addoption("--bench-dtypes", default=_env("DTYPES", "float32"), metavar="DTYPE,...",
                    help="env CONVSPEC_BENCH_DTYPES")
    group.addoption("--bench-directions", default=_env("DIRECTIONS", "forward"),
                    metavar="forward,backward", help="env CONVSPEC_BENCH_DIRECTIONS")
    group.addoption("--bench-batch", type=int, default=int(_env("BATCH", "1")),
                    help="env CONVSPEC_BENCH_BATCH")
    group.addoption("--bench-rounds", type=int, default=int(_env("ROUNDS", "10")),
                    help="timed rounds per case (cache flushed before each); "
                         "env CONVSPEC_BENCH_ROUNDS")
    group.addoption("--bench-no-roofline", action="store_true",
                    help="skip the roofline calibration (no percent in extra_info)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Save every timed run as JSON (``.benchmarks/``) unless the user chose where.

    Runs before pytest-benchmark's own ``pytest_configure`` reads the options.
    """
    option = config.option
    if not hasattr(option, "benchmark_autosave") or getattr(option, "benchmark_disable", False):
        return
    if not (option.benchmark_json or option.benchmark_save or option.benchmark_autosave):
        from pytest_benchmark.utils import get_tag

        option.benchmark_autosave = get_tag()  # what --benchmark-autosave stores: commit_date
