#!/usr/bin/env bash
# Build the documentation site offline: docs/build.sh [serve] [mkdocs options].
# build (default): mkdocs build --strict into build/site; every example on the site runs, every
# picture is drawn by convspec draw (cached in build/docs-pictures). serve: the same, served at
# http://127.0.0.1:8000 and rebuilt on changes. Needs: pip install -e ".[docs]".
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
[ -x "$python" ] || python=python3
export MPLBACKEND=Agg
case "${1:-build}" in
    serve) shift; exec "$python" -m mkdocs serve --strict "$@" ;;
    build) [ $# -gt 0 ] && shift; exec "$python" -m mkdocs build --strict "$@" ;;
    *) exec "$python" -m mkdocs build --strict "$@" ;;
esac
