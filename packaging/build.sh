#!/usr/bin/env bash
# Build the ECG Viewer app with PyInstaller (build.spec) and report its size against the budget.
#   packaging/build.sh                       one folder:  dist/ecgviewer/ecgviewer
#   ECGVIEWER_ONEFILE=1 packaging/build.sh   one file:    dist/ecgviewer-onefile
#   packaging/build.sh --log-level INFO      extra arguments go to PyInstaller
# Exit status: PyInstaller's on failure, 3 when the app is over the size budget.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ] && . .venv/bin/activate

BUDGET_DIR_MB=${BUDGET_DIR_MB:-750}       # unpacked folder, MB (10^6 bytes)
BUDGET_ARCHIVE_MB=${BUDGET_ARCHIVE_MB:-280}
NICE=${NICE:-10}
version=$(python -c 'import ecgviewer; print(ecgviewer.__version__)')
platform=$(python -c 'import sys, platform; print(f"{sys.platform}-{platform.machine()}")')
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

t0=$(date +%s)
# --clean: PyInstaller's module cache was seen to ship a stale ecgviewer module after an edit
nice -n "$NICE" python -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller "$@" build.spec
t1=$(date +%s)
echo "build: $((t1 - t0)) s (PyInstaller, nice -n $NICE)"

over=0
set +o pipefail  # `sort | head` below closes its pipe early on purpose
if [ "${ECGVIEWER_ONEFILE:-0}" = 1 ]; then
    f=dist/ecgviewer-onefile
    size=$(stat -c %s "$f")
    echo "one file: $f $(mb "$size") MB"
    exit 0
fi

app=dist/ecgviewer
archive=dist/ecgviewer-$version-$platform.tar.gz
dir_bytes=$(du -sb "$app" | cut -f1)
nice -n "$NICE" tar -C dist -czf "$archive" ecgviewer
arc_bytes=$(stat -c %s "$archive")
t2=$(date +%s)
echo "archive: $((t2 - t1)) s ($archive)"
echo
echo "folder : $(mb "$dir_bytes") MB  (budget $BUDGET_DIR_MB MB)  $app"
echo "archive: $(mb "$arc_bytes") MB  (budget $BUDGET_ARCHIVE_MB MB)  $archive"
echo
echo "largest files (MB):"
find "$app" -type f -printf '%s %P\n' | sort -rn | head -10 | awk '{ printf "  %8.1f  %s\n", $1 / 1e6, $2 }'
echo "largest folders (MB, two levels under _internal):"
(cd "$app/_internal" && du -b --max-depth=2 . | sort -rn | sed -n '2,11p' \
    | awk '{ printf "  %8.1f  %s\n", $1 / 1e6, $2 }')
[ "$dir_bytes" -gt $((BUDGET_DIR_MB * 1000000)) ] && { echo "OVER BUDGET: folder"; over=1; }
[ "$arc_bytes" -gt $((BUDGET_ARCHIVE_MB * 1000000)) ] && { echo "OVER BUDGET: archive"; over=1; }
[ "$over" = 0 ] && echo "within budget"
exit $((over * 3))
