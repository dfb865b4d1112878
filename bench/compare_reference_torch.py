"""Fast reference ``conv`` (float64) against ``torch.nn.functional.conv2d`` on float64 CPU tensors.

Both run in this process on the ResNet-50 convolution shapes (unique geometry and input size
from ``convspec.spec.models.NETWORKS["resnet50"]``), at each batch size, limited to the same number
of threads (OpenBLAS/OMP/MKL variables are set before numpy and torch are imported, and
``torch.set_num_threads``). Calls are interleaved (reference, torch, reference, ...) and each
side's median over the repeats is reported. The ratio is reference time / torch time, so a
value at or below 1 means the reference is at least as fast; the geometric means are over the
layers of one batch size and over all (layer, batch) pairs.

    python bench/compare_reference_torch.py [--batches 1 8] [--repeats 7] [--threads 2]
                                            [--omp-wait-policy passive]

``--omp-wait-policy`` sets ``OMP_WAIT_POLICY`` for torch's OpenMP threads. The default (spin
before sleeping) is fastest on an idle machine; on a busy one (more runnable threads than cores)
a spinning thread can hold the core its partner needs, and torch's 2-thread conv2d then takes
tens of milliseconds whatever its size. ``passive`` avoids that; the header prints the policy.
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per side (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per side first")
    parser.add_argument("--threads", type=int, default=2, help="threads for both libraries")
    parser.add_argument("--network", default="resnet50")
    parser.add_argument("--limit", type=int, default=None, help="only the first N unique layers")
    parser.add_argument("--omp-wait-policy", choices=["passive", "active"], default=None,
                        help="OMP_WAIT_POLICY for torch (default: leave the environment's)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    if args.omp_wait_policy:
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()
    if "numpy" in sys.modules:
        print("warning: numpy was imported before the thread limits were set", file=sys.stderr)

    import math
    import statistics
    import time

    import numpy as np
    import torch

    from convspec.spec.models import NETWORKS
    from convspec.reference import conv

    torch.set_num_threads(args.threads)
    unique = {}
    for layer in NETWORKS[args.network].conv_layers():
        unique.setdefault((layer.geometry, layer.input_shape[1:]), layer)
    layers = list(unique.items())[:args.limit]
    print(f"{args.network}: {len(layers)} unique conv shapes, float64, {args.threads} threads, "
          f"median of {args.repeats} interleaved calls; numpy {np.__version__}, "
          f"torch {torch.__version__}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')}; "
          f"load average {os.getloadavg()[0]:.1f}")

    rng = np.random.default_rng(0)
    all_ratios: list[float] = []
    for batch in args.batches:
        ratios = []
        print(f"\nbatch {batch}")
        print(f"{'layer':<22} {'kernel':>7} {'stride':>6} {'input (C,H,W)':>16} "
              f"{'reference ms':>13} {'torch ms':>9} {'ratio':>6}")
        for (geometry, spatial), layer in layers:
            x = rng.standard_normal((batch, *spatial))
            w = rng.standard_normal(geometry.weight_shape)
            kwargs = geometry.conv_kwargs()
            xt, wt = torch.from_numpy(x), torch.from_numpy(w)
            torch_kwargs = {"stride": geometry.stride, "padding": geometry.symmetric_padding,
                            "dilation": geometry.dilation, "groups": geometry.groups}

            def run_reference() -> np.ndarray:
                return conv(x, w, None, **kwargs)

            def run_torch() -> torch.Tensor:
                return torch.nn.functional.conv2d(xt, wt, None, **torch_kwargs)

            expected = run_torch().numpy()
            got = run_reference()
            if not np.allclose(got, expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max()):
                raise SystemExit(f"{layer.name}: reference and torch disagree")
            for _ in range(args.warmup):
                run_reference()
                run_torch()
            times: dict[str, list[float]] = {"reference": [], "torch": []}
            for _ in range(args.repeats):
                for side, fn in (("reference", run_reference), ("torch", run_torch)):
                    start = time.perf_counter()
                    fn()
                    times[side].append(time.perf_counter() - start)
            ref, tor = statistics.median(times["reference"]), statistics.median(times["torch"])
            ratios.append(ref / tor)
            print(f"{layer.name:<22} {'x'.join(map(str, geometry.kernel)):>7} "
                  f"{geometry.stride[0]:>6} {str(spatial):>16} {ref * 1e3:>13.2f} "
                  f"{tor * 1e3:>9.2f} {ref / tor:>6.2f}")
        geo = math.exp(statistics.fmean(math.log(r) for r in ratios))
        all_ratios += ratios
        print(f"batch {batch}: geometric-mean ratio reference/torch = {geo:.3f}")
    overall = math.exp(statistics.fmean(math.log(r) for r in all_ratios))
    verdict = "meets" if overall <= 1 else "misses"
    print(f"\noverall geometric-mean ratio reference/torch = {overall:.3f} "
          f"({verdict} the target ratio <= 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
