# A capture device with no sound card, for the demo and bench/realtime-cpu.sh (sourced; bash):
# a jackd of its own on JACK's dummy backend, sndfile-jackplay looping a file into it, and
# ALSA's jack plugin (which the caller's asound.conf names) reading its ports. Both processes
# are stopped by their own pids. The caller has a scratch folder in $work for their logs.
jack_rig_pids=()

# A jackd killed without SIGTERM leaves its registration in /dev/shm, and JACK refuses new
# servers past eight; with no jackd running, none of it is live.
jack_clear_stale() {
    if ! pgrep -x jackd >/dev/null; then rm -f /dev/shm/jack-* /dev/shm/jack_* 2>/dev/null || true; fi
}

# jack_rig_start PREFIX RATE PERIOD WAV CHANNELS: starts the server PREFIX-<this shell's pid>
# (exported as JACK_DEFAULT_SERVER) and the player, and returns once the player's last port
# is there.
jack_rig_start() {
    jack_rig_server="$1-$$"
    # JACK 1.9.21's clients cannot join a server whose name is 16k + 8 characters long (24, 40).
    if (( ${#jack_rig_server} % 16 == 8 )); then jack_rig_server+=x; fi
    export JACK_DEFAULT_SERVER="$jack_rig_server"
    jack_clear_stale
    jackd -n "$jack_rig_server" --no-realtime -d dummy -r "$2" -p "$3" >"$work/jackd.log" 2>&1 &
    jack_rig_pids+=($!)
    # jack_wait says "jack server is not running" each time it looks before jackd is up:
    # only jackd's own log is worth showing, and only when it never came up.
    if ! jack_wait -s "$jack_rig_server" -w -t 10 >/dev/null 2>"$work/jack_wait.log"; then
        echo "jackd did not come up within 10 s; its log:" >&2
        cat "$work/jackd.log" >&2
        return 1
    fi
    # sndfile-jackplay fills its ring of 2^18 bytes a whole frame at a time up to the ring's
    # end, which a frame of 3 or 6 float channels does not divide: where the ring wraps, its
    # output shifts by a channel. Such a file is padded with silent channels up to a power of
    # two (the PCM reads the first ones).
    local wav="$4" padded=1
    while [ "$padded" -lt "$5" ]; do padded=$((padded * 2)); done
    if [ "$padded" -ne "$5" ]; then
        wav="$work/player.wav"
        sox -D "$4" "$wav" remix $(seq 1 "$5") $(printf '0 %.0s' $(seq $((padded - $5))))
    fi
    sndfile-jackplay --loop=0 "$wav" >"$work/player.log" 2>&1 &
    jack_rig_pids+=($!)
    for _ in $(seq 200); do
        jack_lsp -s "$jack_rig_server" 2>/dev/null | grep -q "jackplay:out_$5\$" && break
        sleep 0.05
    done
}

# jackd first, with SIGTERM: it closes its clients and unregisters. (With the player killed
# first, jackd died of SIGPIPE writing to the dead client's socket, still registered, and
# after eight such runs JACK refused to start any server.) Then the player, which ignores
# SIGTERM, if the server's going did not end it; then the semaphores the clients leave in
# /dev/shm, this server's only. Safe to call when jack_rig_start did not run or stopped early.
jack_rig_stop() {
    [ ${#jack_rig_pids[@]} -gt 0 ] && kill -TERM "${jack_rig_pids[0]}" 2>/dev/null \
        && wait "${jack_rig_pids[0]}" 2>/dev/null || true
    [ ${#jack_rig_pids[@]} -gt 1 ] && kill -9 "${jack_rig_pids[1]}" 2>/dev/null || true
    for pid in "${jack_rig_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    jack_rig_pids=()
    [ -n "${jack_rig_server-}" ] && rm -f /dev/shm/jack_sem.*_"$jack_rig_server"_*
    return 0
}
