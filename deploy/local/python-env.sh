#!/usr/bin/env bash
# The project's Python environment (.venv), created or brought up to date from uv.lock.
# Installs uv from the Python package index when the machine lacks it.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if ! command -v uv >/dev/null; then
    command -v python3 >/dev/null || apt_install python3 python3-pip python3-venv
    say "installing uv from the Python package index"
    mkdir -p "$AR_LOCAL_DIR/logs"
    python3 -m pip install --quiet uv >"$AR_LOCAL_DIR/logs/uv-install.log" 2>&1 \
        || python3 -m pip install --quiet --break-system-packages uv >>"$AR_LOCAL_DIR/logs/uv-install.log" 2>&1 \
        || fail "could not install uv with pip" "$AR_LOCAL_DIR/logs/uv-install.log"
    hash -r
    command -v uv >/dev/null || fail "uv was installed but is not on PATH (pip's script folder is missing from PATH)"
fi
# The PDF engine (WeasyPrint) lays text out with Pango and HarfBuzz from the system, in the
# DejaVu fonts every document names; the tests read PDFs back with poppler's pdftotext and
# draw pages with pdftoppm.
apt_install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core poppler-utils
cd "$REPO_DIR"
uv sync --frozen --quiet || fail "uv could not install the locked Python dependencies"
