#!/usr/bin/env bash
# make package: the reader build, a one-folder MedVision without torch, and its tar archive.
#   build/reader-venv/                    medvision[gui,cpu] + PyInstaller, never torch (checked)
#   build/reader/dist/medvision/          the application folder (medvision, _internal/, install.sh, .desktop, icon)
#   dist/medvision-reader-VERSION-linux-x86_64.tar.gz
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/build/reader-venv"
STAMP="$VENV/.medvision-reader-installed"
DIST="$ROOT/build/reader/dist"
APP="$DIST/medvision"

START=$(date +%s)
VENV_BUILT=false
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    VENV_BUILT=true
    test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --disable-pip-version-check -q '.[gui,cpu]' 'pyinstaller>=6.10'
    touch "$STAMP"
fi
if "$VENV/bin/python" -c "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('torch') else 1)"; then
    echo "error: $VENV holds torch; the reader build must not (remove the folder and run make package again)" >&2
    exit 1
fi

rm -rf "$APP"
"$VENV/bin/pyinstaller" --noconfirm --log-level WARN --distpath "$DIST" --workpath "$ROOT/build/reader/work" \
    packaging/medvision.spec
for leaked in torch torchvision ray; do
    if [ -e "$APP/_internal/$leaked" ]; then
        echo "error: $leaked leaked into $APP" >&2
        exit 1
    fi
done
# Debug information only (symbols stay): libpython alone carries 16 MB of it. The
# auditwheel-repaired libraries in *.libs folders are left as they are.
find "$APP/_internal" -type f \( -name '*.so' -o -name '*.so.*' \) -not -path '*.libs/*' \
    -exec strip --strip-debug {} + 2>/dev/null || true
install -m 755 packaging/install.sh "$APP/install.sh"
install -m 644 packaging/medvision.desktop packaging/medvision.svg "$APP/"
if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$APP/medvision.desktop"
fi

VERSION="$("$VENV/bin/python" -c 'import medvision_app; print(medvision_app.__version__)')"
ARCHIVE="$ROOT/dist/medvision-reader-$VERSION-linux-$(uname -m).tar.gz"
mkdir -p "$ROOT/dist"
tar -C "$DIST" -czf "$ARCHIVE" medvision
SECONDS_TAKEN=$(( $(date +%s) - START ))
printf '{"seconds": %d, "venv_installed_in_this_build": %s, "load_average_1min": %s}\n' \
    "$SECONDS_TAKEN" "$VENV_BUILT" "$(cut -d' ' -f1 /proc/loadavg)" > "$ROOT/build/reader/build-time.json"
echo "built in ${SECONDS_TAKEN} s"
echo "reader folder: $APP ($(du -sh "$APP" | cut -f1))"
echo "archive:       $ARCHIVE ($(du -sh "$ARCHIVE" | cut -f1))"
