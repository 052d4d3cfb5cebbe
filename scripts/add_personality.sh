#!/usr/bin/env bash
# Copy personalities from a source zoo into your zoo: see `scripts/add_personality.sh --help`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$python" -m gradio_app.add_personality "$@"
