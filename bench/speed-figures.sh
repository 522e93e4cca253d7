#!/usr/bin/env bash
# The speed figures README.md quotes, each beside a reference measured in the same run:
#
#   swift build -c release && bash bench/speed-figures.sh > docs/speed-figures.md
#
# Needs what ../shared/bench/side-by-side.sh needs (gcc, sox, alsa-utils, libsndfile1-dev,
# python3 with numpy) and that folder beside this project. Takes about five minutes; the
# machines are shared and noisy, so read the ratios, not the absolute figures.
set -euo pipefail
# No arguments: the settings come from the environment. --help prints the lines above.
case "${1-}" in
    "") ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$(basename "$0") takes no arguments (settings: SHARED_BENCH BENCH_DIR, in the environment; --help)" >&2; exit 2 ;;
esac
P=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED_BENCH:-$P/../shared/bench}
B=$P/.build/release
[ -x "$B/headroom" ] && [ -x "$B/headroom-bench" ] || { echo "build first: swift build -c release" >&2; exit 1; }
[ -d "$SHARED" ] || { echo "needs the shared yardsticks in $SHARED (SHARED_BENCH=...)" >&2; exit 1; }
W=${BENCH_DIR:-${TMPDIR:-/tmp}/headroom-bench}; mkdir -p "$W"
# timed PREP CMD...: the median wall and CPU seconds of 3 runs of CMD, the shell command PREP
# (or nothing, "") before each.
timed() {
    local prep=$1; shift
    python3 "$SHARED/timecmd.py" -n 3 ${prep:+--prep "$prep"} -- "$@" |
        sed -E 's/.*wall_med=([0-9.]+).*cpu_med=([0-9.]+).*/\1 \2/'
}

echo "# Speed figures"
echo
# The widest vectors the build uses (it is built for this CPU: Package.swift) decide much of it.
isa=$(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || { grep -qw avx2 /proc/cpuinfo && echo AVX2 || echo "no AVX2"; })
echo "Made by \`bench/speed-figures.sh\` on $(lscpu | sed -n 's/^Model name: *//p') ($isa), $(nproc) cores, $(date -u +%Y-%m-%d)."
echo "Every figure stands beside a reference measured in the same run."
echo

echo "## The analyzer in memory"
echo
echo "\`headroom-bench analyzer 5\`: 32 ch x 96 kHz 24-bit; with flat-top detection (the default),"
echo "without it, and with a second analyzer thread; libebur128's true-peak mode on the same"
echo "samples. Beside it, the C reference (\`tp_fir --mem\`: a hand-vectorized Annex 2 x4 filter"
echo "over every sample, in memory) on the mixed material."
echo
echo '```'
"$B/headroom-bench" analyzer 5
gcc -O3 -march=native -Wall -Wno-unused-function -o "$W/tp_fir" "$SHARED/tp_fir.c" -lsndfile -lm
IN=$W/mixed_96000_32ch_30s
[ -f "$IN.wav" ] || python3 "$SHARED/gen.py" --channels 32 --rate 96000 --seconds 30 --raw "$IN.raw" --wav "$IN.wav"
"$W/tp_fir" --mem "$IN.wav" | grep RESULT
echo '```'
echo

echo "## Files and a recorder beside their yardsticks"
echo
echo "\`../shared/bench/side-by-side.sh\` (SECS=30 RUNS=3): the C reference, sox stats and arecord on"
echo "the same 32 ch x 96 kHz mixed material."
echo
echo '```'
SECS=30 RUNS=3 bash "$SHARED/side-by-side.sh" "$P" 2>&1 | tail -6
echo '```'
echo

echo "## Where record's time goes"
echo
echo "The side-by-side's recorder row, taken apart: \`record\` closes each take with an fsync (a"
echo "take must survive a crash or a power cut), which arecord does not do, so the same 30 s"
echo "of mixed material (the file plugin, unpaced) is also timed with arecord followed by a"
echo "sync of its file, and both to tmpfs (\`/dev/shm\`: no disk at all, where what is left is"
echo "CPU on 2 cores). Medians of 3 runs; each run starts from a synced, empty folder."
echo
R=$W/record-split; A=$W/asound.conf
rec() {  # rec DIR: headroom record into DIR, as side-by-side.sh runs it
    timed "rm -rf $1; mkdir -p $1; sync" "$B/headroom" record --device benchcap --format S32_LE --rate 96000 \
        --channels 32 --duration 30 --dir "$1" --name take
}
are() {  # are DIR [sync]: arecord into DIR, then (with sync) fsync of the file
    local then=true; [ "${2-}" = sync ] && then="sync $1/a.wav"
    timed "rm -rf $1; mkdir -p $1; sync" sh -c "arecord -q -D benchcap -f S32_LE -r 96000 -c 32 -s 2880000 $1/a.wav && $then"
}
echo '```'
if [ -f "$A" ] && [ -d /dev/shm ]; then
    export ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:$A
    read -r ad ac < <(are "$R/a")
    read -r as_ asc < <(are "$R/a" sync)
    read -r hd hc < <(rec "$R/h")
    read -r am amc < <(are /dev/shm/headroom-record-split)
    read -r hm hmc < <(rec /dev/shm/headroom-record-split)
    rm -rf "$R" /dev/shm/headroom-record-split
    row() { printf '%-34s %6.3f s wall  %6.3f s CPU  %s\n' "$1" "$2" "$3" "$4"; }
    row "arecord -> disk" "$ad" "$ac" ""
    row "arecord -> disk, then sync" "$as_" "$asc" ""
    row "headroom record -> disk (fsync)" "$hd" "$hc" "$(python3 -c "print(f'{$ad/$hd:.2f}x arecord, {$as_/$hd:.2f}x arecord + sync')")"
    row "arecord -> tmpfs" "$am" "$amc" ""
    row "headroom record -> tmpfs" "$hm" "$hmc" "$(python3 -c "print(f'{$am/$hm:.2f}x arecord')")"
else
    echo "(skipped: needs side-by-side.sh's $A and /dev/shm)"
fi
echo '```'
echo

echo "## Many files"
echo
echo "\`headroom analyze --json\` of 16 files (8 ch x 48 kHz x 20 s of mixed material each), one at"
echo "a time (\`-j 1\`) and on every core (\`-j $(nproc)\`); outputs compared without the \`started\` stamps."
echo
M=$W/many; mkdir -p "$M"
if [ ! -f "$M/f15.wav" ]; then
    for k in $(seq 0 15); do
        python3 "$SHARED/gen.py" --channels 8 --rate 48000 --seconds 20 --raw "$M/f$k.raw" --wav "$M/f$k.wav" >/dev/null
        rm -f "$M/f$k.raw"
    done
fi
cat "$M"/*.wav >/dev/null
read -r one _ < <(timed "" "$B/headroom" analyze --json -j 1 "$M"/f*.wav)
read -r all _ < <(timed "" "$B/headroom" analyze --json -j "$(nproc)" "$M"/f*.wav)
"$B/headroom" analyze --json -j 1 "$M"/f*.wav | sed -E 's/"started":"[^"]*"//' >"$W/one.jsonl"
"$B/headroom" analyze --json -j "$(nproc)" "$M"/f*.wav | sed -E 's/"started":"[^"]*"//' >"$W/all.jsonl"
same=$(cmp -s "$W/one.jsonl" "$W/all.jsonl" && echo identical || echo DIFFERENT)
echo '```'
printf 'one at a time  %6.3f s\n' "$one"
printf 'every core     %6.3f s   (%.2f of the time; output %s)\n' "$all" "$(python3 -c "print($all/$one)")" "$same"
echo '```'
echo

echo "## How soon a clip is seen"
echo
echo "\`headroom-bench latency\`: from the period holding a clip reaching the capture thread to the"
echo "terminal loop holding its \`CLIP:\` line and meter latch; then the same with the loop on the"
echo "66 ms timer it used before."
echo
echo '```'
"$B/headroom-bench" latency 256
"$B/headroom-bench" latency 256 timer
echo '```'
echo

echo "## Real time"
echo
echo "\`bench/realtime-cpu.sh\`: CPU of \`record\` and of arecord taking the same 32 ch x 96 kHz material"
echo "from JACK's dummy backend in real time (256-frame periods)."
echo
echo '```'
if command -v jackd >/dev/null && command -v sndfile-jackplay >/dev/null; then
    bash "$P/bench/realtime-cpu.sh" 2>/dev/null | grep -v '^Jack'
else
    echo "(skipped: needs jackd2 and sndfile-tools)"
fi
echo '```'
echo

echo "## The capture thread"
echo
echo '```'
"$B/headroom-bench" allocations | tail -3
echo '```'
