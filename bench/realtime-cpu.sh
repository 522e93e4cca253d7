#!/usr/bin/env bash
# CPU of a real-time recording, headroom beside arecord, on the JACK rig (the demo's, at 32 ch
# x 96 kHz): JACK's dummy backend plays ../shared/bench's mixed material in real time into
# ALSA's jack plugin; each recorder takes SECS seconds of it to WAV, in turns, RUNS times;
# CPU is the process's user + system time over the wall time, for the whole run and for its
# steady state (without the first 3 s and the last 2), and headroom's steady state by thread
# (what the analyzer costs beside capture, writing and libjack's own thread).
#
#   swift build -c release --product headroom && bash bench/realtime-cpu.sh
#   SECS=20 RUNS=2 CH=32 RATE=96000 PERIOD=256 FORMAT=S32_LE   (defaults; HEADROOM=path: another build)
#
# Needs jackd2, libasound2-plugins, sndfile-tools (sndfile-jackplay), alsa-utils, time.
set -euo pipefail
# No arguments: the settings come from the environment. --help prints the lines above.
case "${1-}" in
    "") ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$(basename "$0") takes no arguments (settings: SECS RUNS CH RATE PERIOD FORMAT HEADROOM, in the environment; --help)" >&2; exit 2 ;;
esac
P=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED_BENCH:-$P/../shared/bench}
BIN=${HEADROOM:-$P/.build/release/headroom}  # HEADROOM=path measures another build
[ -x "$BIN" ] || { echo "no headroom at $BIN (build it: swift build -c release --product headroom)" >&2; exit 1; }
for c in jackd jack_wait jack_lsp sndfile-jackplay arecord sox /usr/bin/time; do
    command -v "$c" >/dev/null || { echo "needs $c (Debian: jackd2, sndfile-tools, alsa-utils, sox, time)" >&2; exit 1; }
done
SECS=${SECS:-20}; RUNS=${RUNS:-2}; CH=${CH:-32}; RATE=${RATE:-96000}; PERIOD=${PERIOD:-256}; FORMAT=${FORMAT:-S32_LE}
[ "$SECS" -ge 10 ] || { echo "SECS must be 10 or more (the steady-state window is SECS - 5 s)" >&2; exit 1; }
work=$(mktemp -d -t headroom-rtcpu.XXXXXX)
source "$P/.ci/jack-rig.sh"
cleanup() {
    jack_rig_stop
    rm -rf "$work"
}
trap cleanup EXIT

python3 "$SHARED/gen.py" --channels "$CH" --rate "$RATE" --seconds 10 --raw "$work/in.raw" --wav "$work/in.wav" >/dev/null
ports=$(for i in $(seq 0 $((CH - 1))); do printf '%d "jackplay:out_%d" ' "$i" $((i + 1)); done)
printf 'pcm.rt { type plug; slave.pcm { type jack; capture_ports { %s } } }\n' "$ports" >"$work/asound.conf"
export ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$work/asound.conf"
jack_rig_start headroom-rtcpu "$RATE" "$PERIOD" "$work/in.wav" "$CH"

# Writes "total steady" for one command to $work/cpu, each as a percentage of a core: its user + system
# time over its wall time (GNU time), and the same from 3 s after it starts to 2 s before it
# ends (/proc/PID/stat), leaving out start-up (a recorder's buffers are mapped and zeroed
# then: on a virtual machine up to 0.3 s of CPU for headroom's rings at 32 ch x 96 kHz,
# which an hour's take does not notice) and the close.
cpu() {
    /usr/bin/time -f "%U %S %e" -o "$work/time" "$@" >/dev/null 2>"$work/err" &
    local t=$! pid ticks0 ticks1 t0 t1
    sleep 3
    pid=$(cat "/proc/$t/task/$t/children" 2>/dev/null || true); pid=${pid%% *}
    # A recorder that has already exited (a format the rig does not offer, say) says why.
    [ -n "$pid" ] || { wait "$t" || true; echo "$1 ended within 3 s:" >&2; cat "$work/err" >&2; exit 1; }
    ticks0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat"); t0=$(date +%s.%N)
    threads "$pid" >"$work/threads0"
    sleep $((SECS - 5))
    ticks1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat"); t1=$(date +%s.%N)
    threads "$pid" >"$work/threads1"
    wait "$t" || { cat "$work/err" >&2; exit 1; }
    awk -v d="$((ticks1 - ticks0))" -v hz="$(getconf CLK_TCK)" -v w0="$t0" -v w1="$t1" \
        '{ printf "%.2f %.2f\n", ($1 + $2) / $3 * 100, d / hz / (w1 - w0) * 100 }' "$work/time" >"$work/cpu"
    # The steady state by thread name, as percentages of a core, dearest first.
    awk -v hz="$(getconf CLK_TCK)" -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" '
        NR == FNR { before[$1] = $3; next }
        { used[$2] += $3 - (($1 in before) ? before[$1] : $3) }
        END { for (n in used) printf "%s %.1f\n", n, used[n] / hz / w * 100 }' \
        "$work/threads0" "$work/threads1" | sort -k2 -rn | awk '{ printf("%s%s %s %%", (NR > 1 ? ", " : ""), $1, $2) }' >"$work/bythread"
}

# "tid name ticks" for each thread of process $1 (user + system time). headroom's threads are
# hr-capture, hr-writer, hr-analyzer and hr-analyzer-2; the process's first thread is named
# "main" here, and its other threads keep the process's name (libjack's process thread, in
# both recorders, is the one that works: it copies the JACK ports into the plugin's buffer).
threads() {
    local task line name rest
    for task in /proc/"$1"/task/*; do
        read -r line 2>/dev/null <"$task/stat" || continue
        # The name sits in parentheses as field 2 and may hold spaces; the counters are fields
        # 14 and 15, the 12th and 13th after it.
        name=${line#*(}; name=${name%)*}; rest=${line##*) }
        [ "${task##*/}" = "$1" ] && name=main
        echo "${task##*/} ${name// /_} $(echo "$rest" | awk '{ print $12 + $13 }')"
    done
}

isa=$(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || { grep -qw avx2 /proc/cpuinfo && echo AVX2 || echo "no AVX2"; })
echo "real-time CPU: $CH ch x $RATE Hz $FORMAT, $PERIOD-frame JACK periods, $SECS s to WAV per run; $(lscpu | sed -n 's/^Model name: *//p') ($isa), $(nproc) cores"
h=(); a=(); hs=(); as=()
for r in $(seq "$RUNS"); do
    rm -rf "$work/takes"; mkdir -p "$work/takes"
    cpu "$BIN" record --device rt --format "$FORMAT" --rate "$RATE" --channels "$CH" --duration "$SECS" --dir "$work/takes" --headless
    read -r total steady <"$work/cpu"
    h+=("$total"); hs+=("$steady")
    hthreads=$(cat "$work/bythread")
    cpu arecord -q -D rt -f "$FORMAT" -r "$RATE" -c "$CH" -d "$SECS" "$work/a.wav"
    read -r total steady <"$work/cpu"
    a+=("$total"); as+=("$steady")
    athreads=$(cat "$work/bythread")
done
python3 - "${h[*]}" "${a[*]}" "${hs[*]}" "${as[*]}" <<'PY'
import statistics, sys
h, a, hs, as_ = ([float(x) for x in arg.split()] for arg in sys.argv[1:5])
m = statistics.median
print(f"headroom record (full analysis)  CPU {m(h):5.1f} % of a core   runs {h}")
print(f"arecord (no analysis)            CPU {m(a):5.1f} % of a core   runs {a}")
print(f"ratio                            {m(h) / m(a):.2f}x arecord")
print(f"steady state (3 s in to 2 s before the end): headroom {m(hs):.1f} %, arecord {m(as_):.1f} %, "
      f"{m(hs) / m(as_):.2f}x   runs {hs} / {as_}")
PY
echo "steady state by thread (last run; \"main\" is each process's first thread):"
echo "  headroom: $hthreads"
echo "  arecord:  $athreads"
