import Glibc

/// headroom's one clock: CLOCK_MONOTONIC_RAW, the monotonic clock without NTP's slewing,
/// which is what a device's crystal is compared with. Every timer in the program (gap
/// detection, stalls, header updates, the meter's holds) reads it.
public enum MonotonicClock {
    /// Seconds since an arbitrary start. Real-time safe (a vDSO call).
    @inline(__always)
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_RAW, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
