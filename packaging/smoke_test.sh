#!/usr/bin/env bash
# Smoke test of the built app (packaging/build.sh first): runs it headless from a temporary
# folder outside the repository, with a fresh HOME and a bare environment (no venv, no
# PYTHONPATH), so it proves the bundle is self-contained and writes nothing beside itself.
#   packaging/smoke_test.sh [dist/ecgviewer]
# Exit status: 0 when every check passed, 1 otherwise. Prints start-up times.
set -uo pipefail
APP_DIR=$(cd "${1:-$(dirname "$0")/../dist/ecgviewer}" && pwd) || { echo "no app folder"; exit 1; }
EXE=$APP_DIR/ecgviewer
SAMPLES=$APP_DIR/_internal/resources/samples   # the copies inside the bundle
SCAN=$SAMPLES/ecg00015.png
STRIP=$SAMPLES/cinc2017_A00004_strip.png
PHOTO=$SAMPLES/ecg00033.jpg                      # a phone photo: perspective correction
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ecgviewer-smoke.XXXXXX")
mkdir -p "$WORK/home" "$WORK/tmp" "$WORK/run"
cd "$WORK/run"
fails=0
pass() { echo "PASS  $*"; }
fail() { echo "FAIL  $*"; fails=$((fails + 1)); }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# Bare environment: only what a desktop session would have.
app() {
    env -i PATH=/usr/bin:/bin HOME="$WORK/home" TMPDIR="$WORK/tmp" LANG=C.UTF-8 \
        QT_QPA_PLATFORM=offscreen "$EXE" "$@"
}
listing() { (cd "$APP_DIR" && find . -printf '%y %s %T@ %p\n' | sort); }
no_traceback() { ! grep -q "Traceback" "$1" || { fail "$2: Python traceback:"; tail -5 "$1"; }; }

[ -x "$EXE" ] || { echo "FAIL  $EXE is missing (run packaging/build.sh)"; exit 1; }
for f in "$SCAN" "$STRIP" "$PHOTO"; do [ -f "$f" ] || fail "bundled sample missing: $f"; done
listing > "$WORK/before.txt"
echo "app: $APP_DIR   work: $WORK"

# 1. --version (first run = cold for this process; file cache may be warm after a build)
t0=$(now); out=$(app --version 2>&1); rc=$?; t1=$(now)
out2=$(app --version 2>&1); t2=$(now)
if [ $rc = 0 ] && [[ $out =~ ^ecgviewer\ [0-9] ]] && [ "$out" = "$out2" ]; then
    pass "--version: '$out' (first $(secs "$t0" "$t1") s, second $(secs "$t1" "$t2") s)"
else
    fail "--version: rc=$rc output='$out'"
fi

# 2. digitize a bundled scan
t0=$(now); app digitize "$SCAN" -o out > digitize.log 2>&1; rc=$?; t1=$(now)
stem=$(basename "$SCAN" .png)
if [ $rc = 0 ] && [ -s "out/$stem.hea" ] && [ -s "out/$stem.dat" ] && [ -s "out/$stem.json" ]; then
    pass "digitize: $(tail -1 digitize.log) ($(secs "$t0" "$t1") s)"
else
    fail "digitize: rc=$rc"; tail -5 digitize.log; ls -la out 2>/dev/null
fi
no_traceback digitize.log digitize

# 3. digitize with 2 worker processes: the frozen executable must work as a spawn worker
t0=$(now); app digitize "$PHOTO" "$STRIP" -o out2 --workers 2 > workers.log 2>&1; rc=$?; t1=$(now)
if [ $rc = 0 ] && [ "$(ls out2/*.hea 2>/dev/null | wc -l)" = 2 ]; then
    pass "digitize --workers 2: 2 records ($(secs "$t0" "$t1") s)"
else
    fail "digitize --workers 2: rc=$rc"; tail -5 workers.log
fi
no_traceback workers.log "digitize --workers 2"

# 4. classify (needs the bundled model; without it, one clear error line and exit 2)
t0=$(now); app classify "$STRIP" --json > classify.json 2> classify.err; rc=$?; t1=$(now)
if [ -f "$APP_DIR/_internal/models/rhythm_cnn.pt" ]; then
    if [ $rc = 0 ] && python3 -c 'import json, sys; d = json.loads(open(sys.argv[1]).readline());
assert d["label"] in ("N", "A", "O", "~"), d; print(d["label"], d.get("label_name", ""))' classify.json \
        > classify.label 2>&1; then
        pass "classify --json: $(cat classify.label) ($(secs "$t0" "$t1") s)"
    else
        fail "classify --json: rc=$rc"; head -c 600 classify.json; tail -5 classify.err
    fi
else
    if [ $rc = 2 ] && [ "$(wc -l < classify.err)" -le 2 ] && grep -q "error: rhythm model" classify.err; then
        pass "classify without bundled model: clear error, exit 2: $(grep error classify.err)"
    else
        fail "classify without bundled model: rc=$rc"; tail -5 classify.err
    fi
fi
no_traceback classify.err classify

# 5. GUI start: open a file that fails at once (empty), screenshot the error, quit
: > empty.png
t0=$(now); app gui empty.png --screenshot start.png > gui_start.log 2>&1; rc=$?; t1=$(now)
if [ $rc = 0 ] && [ -s start.png ]; then
    pass "gui start (window shown, failed open reported, quit): $(secs "$t0" "$t1") s"
else
    fail "gui start: rc=$rc"; tail -5 gui_start.log
fi
no_traceback gui_start.log "gui start"

# 6. GUI on a scan: digitise + rhythm in the window, screenshot, clean exit
t0=$(now); app gui "$SCAN" --screenshot shot.png --size 1600x950 > gui.log 2>&1; rc=$?; t1=$(now)
if [ $rc = 0 ] && [ "$(head -c 4 shot.png | tail -c 3)" = PNG ] \
    && [ "$(stat -c %s shot.png)" -gt 20000 ]; then
    pass "gui --screenshot: $(stat -c %s shot.png) bytes PNG ($(secs "$t0" "$t1") s)"
else
    fail "gui --screenshot: rc=$rc size=$(stat -c %s shot.png 2>/dev/null)"; tail -5 gui.log
fi
no_traceback gui.log "gui --screenshot"

# 7. nothing written inside the app folder; report what went to HOME
listing > "$WORK/after.txt"
if diff -q "$WORK/before.txt" "$WORK/after.txt" > /dev/null; then
    pass "app folder unchanged ($(wc -l < "$WORK/before.txt") entries)"
else
    fail "app folder changed during the run:"; diff "$WORK/before.txt" "$WORK/after.txt" | head -20
fi
echo "written to HOME: $(cd "$WORK/home" && find . -type f | tr '\n' ' ')"
echo "screenshot: $WORK/run/shot.png"
[ $fails = 0 ] && echo "smoke test: all checks passed" || echo "smoke test: $fails check(s) FAILED"
[ $fails = 0 ]
