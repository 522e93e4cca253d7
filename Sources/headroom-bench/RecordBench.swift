import CMallocCounter
import Foundation
import HeadroomCore

/// Benchmarks of `headroom record` through ALSA's `file` plugin (unpaced).
enum RecordBench {
    /// A scratch folder with `in.raw` and an ALSA config defining `benchcap` on it. The
    /// file holds `seconds` of session material (at most 10 s are generated, then
    /// repeated), so every frame a recorder reads is material: past the end of its file,
    /// ALSA's `file` plugin hands out the silence of its `null` slave instead.
    static func rig(
        channels: Int,
        rate: Int,
        seconds: Double,
        format: String,
        kind: Material = .session
    ) -> (dir: String, env: [String: String]) {
        let dir = NSTemporaryDirectory() + "headroom-bench-\(getpid())-\(channels)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let data = material(channels: channels, rate: rate, seconds: min(seconds, 10), kind: kind)
        let bytes: [UInt8]
        if format == "S24_3LE" {
            bytes = data.flatMap { v -> [UInt8] in
                let x = UInt32(bitPattern: v)
                return [
                    UInt8(truncatingIfNeeded: x >> 8), UInt8(truncatingIfNeeded: x >> 16),
                    UInt8(truncatingIfNeeded: x >> 24),
                ]
            }
        } else {
            bytes = data.withUnsafeBytes { Array($0) }  // little-endian already
        }
        let total = Int(seconds * Double(rate)) * channels * (format == "S24_3LE" ? 3 : 4)
        let fd = open(dir + "/in.raw", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot create \(dir)/in.raw")
        var written = 0
        while written < total {
            let n = min(bytes.count, total - written)
            precondition(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, n) } == n, "cannot write in.raw")
            written += n
        }
        close(fd)
        try! """
        pcm.benchcap { type file; slave.pcm "null"; file "/dev/null"; infile "\(dir)/in.raw"; format "raw" }
        """.write(toFile: dir + "/bench.conf", atomically: true, encoding: .utf8)
        return (dir, ["ALSA_CONFIG_PATH": "/usr/share/alsa/alsa.conf:\(dir)/bench.conf"])
    }

    /// posix_spawn + wait4: wall seconds, exit status, peak RSS in KiB.
    static func spawn(_ argv: [String], env: [String: String]) -> (seconds: Double, status: Int32, maxRSSKiB: Int) {
        var environment = ProcessInfo.processInfo.environment.merging(env) { $1 }.map { "\($0.key)=\($0.value)" }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var cargs = argv.map { strdup($0) } + [nil]
        var cenv = environment.map { strdup($0) } + [nil]
        defer {
            for p in cargs { free(p) }
            for p in cenv { free(p) }
            posix_spawn_file_actions_destroy(&actions)
        }
        environment.removeAll()
        var pid = pid_t()
        let t0 = now()
        guard posix_spawn(&pid, argv[0], &actions, nil, &cargs, &cenv) == 0 else { return (0, -1, 0) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        return (now() - t0, (status >> 8) & 0xFF, usage.ru_maxrss)
    }

    static var headroomBinary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("headroom")
            .path
    }

    /// headroom record vs arecord, 32 ch x 96 kHz S32_LE to WAV, unpaced. The two take
    /// turns, five runs each; the page cache is flushed before every run (`sync`), so
    /// neither pays for the other's writeback; the best run of each is compared.
    static func throughput(seconds: Double, kind: Material) {
        let (dir, env) = rig(channels: 32, rate: 96000, seconds: seconds, format: "S32_LE", kind: kind)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var ours: [Double] = []
        var theirs: [Double] = []
        for i in 0..<5 {
            let out = dir + "/takes\(i)"
            sync()
            let a = spawn(
                [
                    headroomBinary, "record", "--device", "benchcap", "--channels", "32", "--rate", "96000", "--format",
                    "S32_LE",
                    "--duration", String(seconds), "--dir", out, "--name", "take",
                ],
                env: env
            )
            try? FileManager.default.removeItem(atPath: out)
            sync()
            let b = spawn(
                [
                    "/usr/bin/arecord", "-q", "-D", "benchcap", "-f", "S32_LE", "-c", "32", "-r", "96000", "-d",
                    String(Int(seconds)),
                    "-t", "wav", dir + "/arecord\(i).wav",
                ],
                env: env
            )
            try? FileManager.default.removeItem(atPath: dir + "/arecord\(i).wav")
            precondition(a.status == 0 && b.status == 0, "a recorder failed: headroom \(a.status), arecord \(b.status)")
            ours.append(a.seconds)
            theirs.append(b.seconds)
        }
        let bytes = seconds * 96000 * 32 * 4
        func runs(_ t: [Double]) -> String { t.map { String(format: "%.2f", $0) }.joined(separator: " ") }
        print(
            "record vs arecord: \(Int(seconds)) s of 32 ch x 96 kHz S32_LE to WAV through ALSA's file plugin (5 runs each, taking turns)"
        )
        print(
            "  material: \(kind.rawValue)"
        )
        print(
            String(
                format: "  headroom record (full analyzer)  best %5.2f s  %7.1f MB/s   runs: ",
                ours.min()!,
                bytes / ours.min()! / 1e6
            )
                + runs(ours)
        )
        print(
            String(
                format: "  arecord (no analysis)            best %5.2f s  %7.1f MB/s   runs: ",
                theirs.min()!,
                bytes / theirs.min()! / 1e6
            )
                + runs(theirs)
        )
        print(
            String(
                format: "  headroom throughput / arecord throughput = %.2fx (best), %.2fx (median)",
                theirs.min()! / ours.min()!,
                median(theirs) / median(ours)
            )
        )
    }

    static func median(_ t: [Double]) -> Double { t.sorted()[t.count / 2] }

    /// Heap allocations on the capture thread per period, in steady state: two runs of
    /// different length; start-up and shut-down cancel out in the difference.
    static func allocations() {
        let (dir, env) = rig(channels: 8, rate: 48000, seconds: 5, format: "S24_3LE")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (k, v) in env { setenv(k, v, 1) }
        func run(frames: Int) -> (allocations: Int, periods: Int) {
            let source = try! ALSACapture(device: "benchcap", rate: 48000, channels: 8, format: .s24packed)
            let bytes = source.periodFrames * 8 * 3
            let writerRing = SPSCRing(slots: 64, slotBytes: bytes)
            let analyzerRing = SPSCRing(slots: 64, slotBytes: bytes)
            let capture = CaptureThread(
                source: source,
                writerRing: writerRing,
                analyzerRing: analyzerRing,
                frameLimit: frames
            )
            nonisolated(unsafe) var counted = 0
            let done = DispatchSemaphore(value: 0)
            let consumers = DispatchGroup()
            for ring in [writerRing, analyzerRing] {
                consumers.enter()
                Thread {
                    while let (h, _) = ring.next(timeoutMilliseconds: 1000) {
                        ring.release()
                        if h.isLast { break }
                    }
                    consumers.leave()
                }.start()
            }
            Thread {
                let before = CMallocCounter_threadAllocations()
                capture.run()
                counted = CMallocCounter_threadAllocations() - before
                done.signal()
            }.start()
            done.wait()
            consumers.wait()
            return (counted, frames / source.periodFrames)
        }
        // The counter must count: a fresh array on this thread is one allocation.
        let before = CMallocCounter_threadAllocations()
        let probe = [UInt8](repeating: 1, count: 4096 + Int(getpid() % 7))
        let counted = CMallocCounter_threadAllocations() - before
        precondition(counted >= 1 && probe.count > 0, "the malloc interposer is not counting")
        let short = run(frames: 48000 * 2)
        let long = run(frames: 48000 * 20)
        let perPeriod = Double(long.allocations - short.allocations) / Double(long.periods - short.periods)
        print(
            "capture thread heap allocations (8 ch S24_3LE, file plugin; interposer check: \(counted) for one array):"
        )
        print("  \(short.periods) periods: \(short.allocations) allocations (start-up and shut-down included)")
        print("  \(long.periods) periods: \(long.allocations) allocations")
        print(String(format: "  steady state: %.3f allocations per period", perPeriod))
    }

    /// Peak RSS of `headroom record` for a 1-minute and a 10-minute unpaced take.
    static func memory() {
        let (dir, env) = rig(channels: 2, rate: 48000, seconds: 600, format: "S24_3LE")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // One take of 1 and of 10 minutes, then the same in one-second takes (60 and 600): a
        // recorder that splits its takes for weeks must not grow with them.
        var results: [(label: String, kib: Int)] = []
        for split in [false, true] {
            for minutes in [1, 10] {
                let r = spawn(
                    [
                        headroomBinary, "record", "--device", "benchcap", "--duration", String(minutes * 60), "--dir",
                        dir + "/m\(minutes)\(split ? "s" : "")",
                    ] + (split ? ["--max-take-seconds", "1"] : []),
                    env: env
                )
                precondition(r.status == 0, "headroom record failed: \(r.status)")
                results.append((split ? "\(minutes * 60) one-second takes" : "\(minutes)-minute take", r.maxRSSKiB))
            }
        }
        print("headroom record peak memory (2 ch S24_3LE, file plugin, unpaced):")
        for (label, kib) in results {
            print(
                "  " + label.padding(toLength: 24, withPad: " ", startingAt: 0)
                    + String(format: "%6.1f MiB", Double(kib) / 1024)
            )
        }
        print(String(format: "  10-minute / 1-minute take = %.3f", Double(results[1].kib) / Double(results[0].kib)))
        print(String(format: "  600 / 60 takes           = %.3f", Double(results[3].kib) / Double(results[2].kib)))
    }
}
