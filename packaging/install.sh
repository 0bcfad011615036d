#!/usr/bin/env bash
# Install the MedVision reader for this user: run from the unpacked folder.
#
#   ./install.sh                   check the system libraries, then install under ~/.local
#   ./install.sh --check           only check the system libraries Qt's X11 (xcb) plugin needs
#   ./install.sh --ignore-missing  install even when some are missing (the command line still works)
#   ./install.sh --prefix DIR      install under DIR instead of ~/.local
#   ./install.sh --uninstall       remove what an earlier install put there
#
# Files: PREFIX/lib/medvision/ (the application), PREFIX/bin/medvision,
# PREFIX/share/applications/medvision.desktop, PREFIX/share/icons/hicolor/scalable/apps/medvision.svg
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${HOME}/.local"
MODE=install
IGNORE_MISSING=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX="${2:?--prefix needs a folder}"; shift 2 ;;
        --check) MODE=check; shift ;;
        --uninstall) MODE=uninstall; shift ;;
        --ignore-missing) IGNORE_MISSING=1; shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: $1: unknown option (see --help)" >&2; exit 2 ;;
    esac
done
TARGET="$PREFIX/lib/medvision"
DESKTOP="$PREFIX/share/applications/medvision.desktop"
ICON="$PREFIX/share/icons/hicolor/scalable/apps/medvision.svg"

# Debian/Ubuntu package of each library Qt's xcb platform plugin may need.
package_of() {
    case "$1" in
        libxcb-cursor.so.*) echo libxcb-cursor0 ;;
        libxcb-icccm.so.*) echo libxcb-icccm4 ;;
        libxcb-keysyms.so.*) echo libxcb-keysyms1 ;;
        libxcb-image.so.*) echo libxcb-image0 ;;
        libxcb-render-util.so.*) echo libxcb-render-util0 ;;
        libxcb-shape.so.*) echo libxcb-shape0 ;;
        libxcb-randr.so.*) echo libxcb-randr0 ;;
        libxcb-xfixes.so.*) echo libxcb-xfixes0 ;;
        libxcb-sync.so.*) echo libxcb-sync1 ;;
        libxcb-shm.so.*) echo libxcb-shm0 ;;
        libxcb-xkb.so.*) echo libxcb-xkb1 ;;
        libxcb-render.so.*) echo libxcb-render0 ;;
        libxcb-xinput.so.*) echo libxcb-xinput0 ;;
        libxcb.so.*) echo libxcb1 ;;
        libxkbcommon-x11.so.*) echo libxkbcommon-x11-0 ;;
        libxkbcommon.so.*) echo libxkbcommon0 ;;
        libX11-xcb.so.*) echo libx11-xcb1 ;;
        libX11.so.*) echo libx11-6 ;;
        libEGL.so.*) echo libegl1 ;;
        libGL.so.*) echo libgl1 ;;
        libOpenGL.so.*) echo libopengl0 ;;
        libfontconfig.so.*) echo libfontconfig1 ;;
        libfreetype.so.*) echo libfreetype6 ;;
        libdbus-1.so.*) echo libdbus-1-3 ;;
        libglib-2.0.so.*) echo libglib2.0-0 ;;
        *) echo "" ;;
    esac
}

# The libraries the xcb plugin (and the Qt libraries under it) cannot find here.
missing_libraries() {
    local plugin qtlib
    plugin="$(find "$HERE/_internal" -name 'libqxcb.so' -print -quit)"
    if [ -z "$plugin" ]; then
        echo "error: $HERE: Qt's xcb platform plugin (libqxcb.so) is not in this folder; the build is incomplete" >&2
        exit 2
    fi
    qtlib="$(dirname "$(dirname "$(dirname "$plugin")")")/lib"
    LD_LIBRARY_PATH="$qtlib:$HERE/_internal${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$plugin" \
        | awk '/not found/ {print $1}' | sort -u
}

check_libraries() {
    local missing packages lib pkg
    missing="$(missing_libraries)"
    if [ -z "$missing" ]; then
        echo "system libraries: everything Qt's X11 plugin needs is installed"
        return 0
    fi
    packages=""
    echo "MedVision's window needs system libraries that are missing here:" >&2
    for lib in $missing; do
        pkg="$(package_of "$lib")"
        echo "  $lib${pkg:+ (Debian/Ubuntu package $pkg)}" >&2
        packages="$packages${pkg:+ $pkg}"
    done
    if [ -n "$packages" ]; then
        echo "Install them with: sudo apt-get install$packages" >&2
    fi
    return 1
}

case "$MODE" in
    check)
        check_libraries
        exit $?
        ;;
    uninstall)
        rm -rf "$TARGET" "$DESKTOP" "$ICON"
        if [ -L "$PREFIX/bin/medvision" ]; then rm -f "$PREFIX/bin/medvision"; fi
        echo "removed MedVision from $PREFIX"
        exit 0
        ;;
esac

if ! check_libraries; then
    if [ "$IGNORE_MISSING" != 1 ]; then
        echo "Nothing was installed. Install the libraries above, or run ./install.sh --ignore-missing" \
             "to install anyway (the command line works without them; the window does not)." >&2
        exit 1
    fi
    echo "installing anyway (--ignore-missing): the window will not open until they are installed" >&2
fi

if [ "$HERE" != "$TARGET" ]; then
    rm -rf "$TARGET.new"
    mkdir -p "$PREFIX/lib"
    cp -a "$HERE" "$TARGET.new"
    rm -rf "$TARGET"
    mv "$TARGET.new" "$TARGET"
fi
mkdir -p "$PREFIX/bin" "$(dirname "$DESKTOP")" "$(dirname "$ICON")"
ln -sfn "$TARGET/medvision" "$PREFIX/bin/medvision"
install -m 644 "$TARGET/medvision.svg" "$ICON"
# Exec with the full path: a desktop session's PATH often lacks ~/.local/bin.
sed "s|^Exec=medvision |Exec=\"$TARGET/medvision\" |" "$TARGET/medvision.desktop" > "$DESKTOP"
chmod 644 "$DESKTOP"
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$(dirname "$DESKTOP")" || true
fi
echo "installed MedVision in $TARGET"
echo "  command:      $PREFIX/bin/medvision (medvision gui --sample opens the sample study)"
echo "  menu entry:   $DESKTOP"
case ":$PATH:" in
    *":$PREFIX/bin:"*) ;;
    *) echo "  note: $PREFIX/bin is not on your PATH; add it, or start $TARGET/medvision" ;;
esac
