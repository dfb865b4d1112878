#!/usr/bin/env bash
# Nightly benchmarks: roofline calibration + the convolution suites on every backend this machine
# can run, recorded by asv under this machine's name, then `asv publish` and the offline-ready
# dashboard. See bench/README.md.
#
#   bench/nightly.sh                              # this machine, default selection
#   CONVSPEC_MACHINE=gpu-h100 bench/nightly.sh    # record under another machine name
#   CONVSPEC_RESULTS_DIR=/shared/convspec-results bench/nightly.sh   # one results dir, many machines
#
# Environment (all optional):
#   CONVSPEC_MACHINE     asv machine name (default: the host name)
#   CONVSPEC_SUITES      asv classes of bench/convolution.py, space-separated
#                        (default: "Resnet50 MobilenetV2 Dilated Transposed")
#   CONVSPEC_BACKENDS    backends, space-separated (default: every built-in that loads here but
#                        torch-compile, whose first call per shape compiles for tens of seconds)
#   CONVSPEC_DTYPES      default "float32" (any of float64 float32 float16 bfloat16)
#   CONVSPEC_DIRECTIONS  default "forward backward"
#   CONVSPEC_QUICK=1     asv run --quick (one sample each: a smoke test, not a measurement)
#   CONVSPEC_RESULTS_DIR results and html go to $CONVSPEC_RESULTS_DIR/{results,html}
#                        instead of .asv/{results,html} (with the asv config used there)
#   CONVSPEC_BRANCH      branch whose commits the dashboard plots (default: asv.conf.json's, main)
#   CONVSPEC_NO_RUN=1    only publish what the results directory already holds
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python}
MACHINE=${CONVSPEC_MACHINE:-$(hostname)}
SUITES=${CONVSPEC_SUITES:-"Resnet50 MobilenetV2 Dilated Transposed"}
DTYPES=${CONVSPEC_DTYPES:-"float32"}
DIRECTIONS=${CONVSPEC_DIRECTIONS:-"forward backward"}

if [[ -z "${CONVSPEC_BACKENDS:-}" ]]; then
    # Loading an adapter checks its library and device; CUDA is not initialized by the check.
    CONVSPEC_BACKENDS=$("$PYTHON" -c '
from convspec.backends.registry import BUILTIN_BACKENDS, BackendLoadError, BackendUnavailable, load_backend
ok = []
for name in BUILTIN_BACKENDS:
    try:
        load_backend(name)
    except (BackendUnavailable, BackendLoadError):
        continue
    if not name.startswith("torch-compile"):
        ok.append(name)
print(" ".join(ok))')
fi

CONFIG="$ROOT/asv.conf.json"
if [[ -n "${CONVSPEC_RESULTS_DIR:-}${CONVSPEC_BRANCH:-}" ]]; then
    SHARED=${CONVSPEC_RESULTS_DIR:-$ROOT/.asv}
    mkdir -p "$SHARED"
    SHARED=$(cd "$SHARED" && pwd)
    CONFIG="$SHARED/asv.conf.json"
    "$PYTHON" - "$ROOT" "$SHARED" "$CONFIG" "${CONVSPEC_BRANCH:-}" <<'EOF'
import json, os, sys
from asv.util import load_json
root, shared, out, branch = sys.argv[1:]
conf = load_json(os.path.join(root, "asv.conf.json"), js_comments=True)
conf.update(repo=root, benchmark_dir=os.path.join(root, "bench"),
            env_dir=os.path.join(root, ".asv", "env"),
            results_dir=os.path.join(shared, "results"), html_dir=os.path.join(shared, "html"))
if branch:
    conf["branches"] = [branch]
with open(out, "w") as fh:
    json.dump(conf, fh, indent=2)
EOF
fi

alternatives() { local IFS='|'; echo "$*"; }
REGEXES=("^machine\\.")
for suite in $SUITES; do
    # bench/convolution.py names each case Suite.benchmark('backend', 'workload', 'dtype', 'direction')
    REGEXES+=("^convolution\\.${suite}\\.\\w+\\('($(alternatives $CONVSPEC_BACKENDS))', '[^']+', '($(alternatives $DTYPES))', '($(alternatives $DIRECTIONS))'\\)")
done
BENCH_ARGS=()
for regex in "${REGEXES[@]}"; do BENCH_ARGS+=(--bench "$regex"); done

echo "nightly: machine $MACHINE; backends: $CONVSPEC_BACKENDS; suites: $SUITES;" \
     "dtypes: $DTYPES; directions: $DIRECTIONS; config: $CONFIG"
if [[ -z "${CONVSPEC_NO_RUN:-}" ]]; then
    "$PYTHON" -m asv machine --yes --machine "$MACHINE" --config "$CONFIG"
    RUN_ARGS=(--machine "$MACHINE" --set-commit-hash "$(git rev-parse HEAD)" --show-stderr)
    [[ -n "${CONVSPEC_QUICK:-}" ]] && RUN_ARGS+=(--quick)
    "$PYTHON" -m asv run "${RUN_ARGS[@]}" "${BENCH_ARGS[@]}" --config "$CONFIG"
fi
"$PYTHON" -m asv publish --config "$CONFIG"
HTML_DIR=$("$PYTHON" -c 'import sys; from asv.util import load_json
print(load_json(sys.argv[1], js_comments=True)["html_dir"])' "$CONFIG")
"$PYTHON" bench/dashboard.py "$HTML_DIR"
echo "nightly: dashboard in $HTML_DIR (serve it: python -m http.server -d $HTML_DIR)"
