#!/usr/bin/env bash
# Nightly benchmarks: roofline calibration + the convolution suites on every backend this machine
# can run, recorded by asv under this machine's name against tonight's commit of the nights
# ledger, the night's provenance beside the results, `asv publish`, the offline-ready dashboard,
# then the gate (exit 1 when tonight, or on the release track the release just recorded, opens a
# regression). See bench/README.md.
#
#   bench/nightly.sh                              # this machine, tonight (UTC), default selection
#   CONVSPEC_NIGHT=2026-11-20 bench/nightly.sh    # record (or re-record) a given night
#   CONVSPEC_MACHINE=gpu-h100 bench/nightly.sh    # record under another machine name
#   CONVSPEC_RESULTS_DIR=/shared/convspec bench/nightly.sh   # one results dir, many machines
#   CONVSPEC_TRACK=release bench/nightly.sh       # the release track: this venv's torch release
#
# Environment (all optional):
#   CONVSPEC_TRACK       "nightly" (default) or "release": record against the ledger commit of
#                        the installed release of CONVSPEC_RELEASE_OF (tagged <library>-<version>,
#                        ordered by version; a rerun replaces that release only), into
#                        <results dir>/release-<library>/ (its own ledger, results, provenance,
#                        dashboard); the gate compares the release just recorded with the
#                        previous release in version order on the same machine
#   CONVSPEC_RELEASE_OF  the distribution the release track follows (default: torch)
#   CONVSPEC_NIGHT       YYYY-MM-DD, the night to record (default: today's UTC date); a rerun of
#                        a night replaces that machine's results of that night only
#   CONVSPEC_MACHINE     asv machine name (default: the host name)
#   CONVSPEC_SUITES      asv classes of bench/convolution.py, space-separated
#                        (default: "Resnet50 MobilenetV2 Dilated Transposed")
#   CONVSPEC_BACKENDS    backends, space-separated (default: every configured backend that loads
#                        here but torch-compile, whose first call per shape compiles for tens of s)
#   CONVSPEC_DTYPES      default "float32" (any of float64 float32 float16 bfloat16)
#   CONVSPEC_DIRECTIONS  default "forward backward"
#   CONVSPEC_WORKLOADS   workload names within the suites, space-separated (default: all), e.g.
#                        "conv3x3 maxpool2x2" for Tiny
#   CONVSPEC_NO_CALIBRATION=1  leave out the machine.* roofline ceilings (about 30 s of GEMM and
#                        copy calibration per run)
#   CONVSPEC_QUICK=1     asv run --quick (one sample each: a smoke test, not a measurement)
#   CONVSPEC_RESULTS_DIR everything goes to $CONVSPEC_RESULTS_DIR/{ledger,results,provenance,html}
#                        instead of .asv/ (with the asv config written there)
#   CONVSPEC_NO_RUN=1    only publish (and gate) what the results directory already holds (the
#                        release track then gates each machine's newest release)
#   CONVSPEC_NO_GATE=1   do not run the gate (either track)
#   CONVSPEC_GATE_THRESHOLD  the gate's minimum slowdown, a fraction (default 0.25)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python}
MACHINE=${CONVSPEC_MACHINE:-$(hostname)}
NIGHT=${CONVSPEC_NIGHT:-$(date -u +%F)}
SUITES=${CONVSPEC_SUITES:-"Resnet50 MobilenetV2 Dilated Transposed"}
DTYPES=${CONVSPEC_DTYPES:-"float32"}
DIRECTIONS=${CONVSPEC_DIRECTIONS:-"forward backward"}
SHARED=${CONVSPEC_RESULTS_DIR:-$ROOT/.asv}
TRACK=${CONVSPEC_TRACK:-nightly}
case "$TRACK" in
    nightly) ;;
    release) LIBRARY=${CONVSPEC_RELEASE_OF:-torch}; SHARED="$SHARED/release-$LIBRARY" ;;
    *) echo "nightly: CONVSPEC_TRACK=$TRACK is not a track: use nightly or release" >&2; exit 2 ;;
esac
mkdir -p "$SHARED"
SHARED=$(cd "$SHARED" && pwd)
CONFIG="$SHARED/asv.conf.json"

if [[ -z "${CONVSPEC_BACKENDS:-}" ]]; then
    # Loading an adapter checks its library and device; CUDA is not initialized by the check.
    CONVSPEC_BACKENDS=$("$PYTHON" -c '
from bench.convolution import BACKENDS
from convspec.backends.registry import BackendLoadError, BackendUnavailable, load_backend
ok = []
for name in BACKENDS:
    try:
        load_backend(name)
    except (BackendUnavailable, BackendLoadError):
        continue
    if not name.startswith("torch-compile"):
        ok.append(name)
print(" ".join(ok))')
fi

# The asv config used: the checked-in one with repo = the ledger and the directories under $SHARED.
"$PYTHON" bench/nights.py config --root "$ROOT" --shared "$SHARED" --out "$CONFIG"

alternatives() { local IFS='|'; printf '%s' "$*" | sed 's/[.:]/\\&/g'; }
REGEXES=()
[[ -z "${CONVSPEC_NO_CALIBRATION:-}" ]] && REGEXES+=("^machine\\.")
WORKLOAD_RE="[^']+"
[[ -n "${CONVSPEC_WORKLOADS:-}" ]] && WORKLOAD_RE="($(alternatives $CONVSPEC_WORKLOADS))"
for suite in $SUITES; do
    # bench/convolution.py names each case Suite.time_call('backend', 'workload', 'dtype', 'direction')
    REGEXES+=("^convolution\\.${suite}\\.\\w+\\('($(alternatives $CONVSPEC_BACKENDS))', '${WORKLOAD_RE}', '($(alternatives $DTYPES))', '($(alternatives $DIRECTIONS))'\\)")
done
BENCH_ARGS=()
for regex in "${REGEXES[@]}"; do BENCH_ARGS+=(--bench "$regex"); done

WHEN="night $NIGHT"
[[ "$TRACK" == release ]] && WHEN="the installed release of $LIBRARY"
echo "$TRACK: $WHEN; machine $MACHINE; backends: $CONVSPEC_BACKENDS; suites: $SUITES;" \
     "dtypes: $DTYPES; directions: $DIRECTIONS; config: $CONFIG"
if [[ -z "${CONVSPEC_NO_RUN:-}" ]]; then
    # the night's (or release's) ledger commit; this machine's earlier results of it removed;
    # provenance
    if [[ "$TRACK" == release ]]; then
        PREPARED=$("$PYTHON" bench/nights.py release --root "$ROOT" --config "$CONFIG" \
                   --machine "$MACHINE" --library "$LIBRARY" --backends "$CONVSPEC_BACKENDS")
        read -r COMMIT LABEL <<<"$PREPARED"
        echo "release: $LABEL is ledger commit ${COMMIT:0:8}"
    else
        COMMIT=$("$PYTHON" bench/nights.py prepare --root "$ROOT" --config "$CONFIG" \
                 --machine "$MACHINE" --night "$NIGHT" --backends "$CONVSPEC_BACKENDS")
        LABEL=$NIGHT
    fi
    # asv machine with every field given (a --machine other than the host name records none)
    "$PYTHON" bench/nights.py machine --config "$CONFIG" --machine "$MACHINE"
    RUN_ARGS=(--machine "$MACHINE" --set-commit-hash "$COMMIT" --show-stderr)
    [[ -n "${CONVSPEC_QUICK:-}" ]] && RUN_ARGS+=(--quick)
    # asv prints one line per case, skipped ones included; keep the log, print a summary
    LOG="$SHARED/logs/$MACHINE-$LABEL.log"
    mkdir -p "$(dirname "$LOG")"
    "$PYTHON" -m asv run "${RUN_ARGS[@]}" "${BENCH_ARGS[@]}" --config "$CONFIG" >"$LOG" 2>&1 \
        || { tail -n 40 "$LOG"; echo "nightly: asv run failed (log: $LOG)" >&2; exit 2; }
    "$PYTHON" bench/nights.py summary --config "$CONFIG" --machine "$MACHINE" --commit "$COMMIT" \
        --log "$LOG"
fi
"$PYTHON" -m asv publish --config "$CONFIG" >"$SHARED/logs/publish.log" 2>&1 \
    || { cat "$SHARED/logs/publish.log"; exit 2; }
"$PYTHON" bench/dashboard.py --config "$CONFIG"
if [[ -z "${CONVSPEC_NO_GATE:-}" ]]; then
    # nightly: tonight against the machine's night before; release: the release just recorded
    # against the previous release in version order (without a run: each machine's newest)
    GATE_ARGS=(--night "$NIGHT")
    if [[ "$TRACK" == release ]]; then
        GATE_ARGS=(--release-of "$LIBRARY")
        [[ -n "${LABEL:-}" ]] && GATE_ARGS+=(--release "$LABEL")
    fi
    "$PYTHON" -m convspec.perf.gate --config "$CONFIG" "${GATE_ARGS[@]}" \
        --threshold "${CONVSPEC_GATE_THRESHOLD:-0.25}"
fi
