#!/usr/bin/env bash
# CPU of a real-time recording, headroom beside arecord, on the JACK rig (the demo's, at 32 ch
# x 96 kHz): JACK's dummy backend plays ../shared/bench's mixed material in real time into
# ALSA's jack plugin; each recorder takes SECS seconds of it to WAV, in turns, RUNS times;
# CPU is the process's user + system time (GNU time) over the wall time.
#
#   swift build -c release --product headroom && bash bench/realtime-cpu.sh
#   SECS=20 RUNS=2 CH=32 RATE=96000 PERIOD=256 FORMAT=S32_LE   (defaults; HEADROOM=path: another build)
#
# Needs jackd2, libasound2-plugins, sndfile-tools (sndfile-jackplay), alsa-utils, time.
set -euo pipefail
P=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED_BENCH:-$P/../shared/bench}
BIN=${HEADROOM:-$P/.build/release/headroom}  # HEADROOM=path measures another build
[ -x "$BIN" ] || { echo "no headroom at $BIN (build it: swift build -c release --product headroom)" >&2; exit 1; }
for c in jackd jack_wait jack_lsp sndfile-jackplay arecord /usr/bin/time; do
    command -v "$c" >/dev/null || { echo "needs $c (Debian: jackd2, sndfile-tools, alsa-utils, time)" >&2; exit 1; }
done
SECS=${SECS:-20}; RUNS=${RUNS:-2}; CH=${CH:-32}; RATE=${RATE:-96000}; PERIOD=${PERIOD:-256}; FORMAT=${FORMAT:-S32_LE}
work=$(mktemp -d -t headroom-rtcpu.XXXXXX)
server="headroom-rtcpu-$$"
pids=()
cleanup() {
    # The player first (it ignores SIGTERM), then jackd, each by its own pid.
    [ ${#pids[@]} -gt 1 ] && kill -9 "${pids[1]}" 2>/dev/null || true
    [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[0]}" 2>/dev/null || true
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

python3 "$SHARED/gen.py" --channels "$CH" --rate "$RATE" --seconds 10 --raw "$work/in.raw" --wav "$work/in.wav" >/dev/null
ports=$(for i in $(seq 0 $((CH - 1))); do printf '%d "jackplay:out_%d" ' "$i" $((i + 1)); done)
printf 'pcm.rt { type plug; slave.pcm { type jack; capture_ports { %s } } }\n' "$ports" >"$work/asound.conf"
export ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$work/asound.conf"
export JACK_DEFAULT_SERVER="$server"
jackd -n "$server" --no-realtime -d dummy -r "$RATE" -p "$PERIOD" >"$work/jackd.log" 2>&1 &
pids+=($!)
jack_wait -s "$server" -w -t 10 >/dev/null
sndfile-jackplay --loop=0 "$work/in.wav" >"$work/player.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
    jack_lsp -s "$server" 2>/dev/null | grep -q "jackplay:out_$CH\$" && break
    sleep 0.05
done

# Prints "cpu_percent" for one command: (user + system) / wall.
cpu() {
    /usr/bin/time -f "%U %S %e" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    awk '{ printf "%.2f\n", ($1 + $2) / $3 * 100 }' "$work/time"
}
echo "real-time CPU: $CH ch x $RATE Hz $FORMAT, $PERIOD-frame JACK periods, $SECS s to WAV per run; $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
h=(); a=()
for r in $(seq "$RUNS"); do
    rm -rf "$work/takes"; mkdir -p "$work/takes"
    h+=("$(cpu "$BIN" record --device rt --format "$FORMAT" --rate "$RATE" --channels "$CH" --duration "$SECS" --dir "$work/takes" --headless)")
    a+=("$(cpu arecord -q -D rt -f "$FORMAT" -r "$RATE" -c "$CH" -d "$SECS" "$work/a.wav")")
done
python3 - "${h[*]}" "${a[*]}" <<'PY'
import statistics, sys
h = [float(x) for x in sys.argv[1].split()]
a = [float(x) for x in sys.argv[2].split()]
print(f"headroom record (full analysis)  CPU {statistics.median(h):5.1f} % of a core   runs {h}")
print(f"arecord (no analysis)            CPU {statistics.median(a):5.1f} % of a core   runs {a}")
print(f"ratio                            {statistics.median(h) / statistics.median(a):.2f}x arecord")
PY
