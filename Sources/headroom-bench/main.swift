// headroom-bench: figures a person can compare, each against a reference run in the
// same process. Not a test: CI builds it but never times it.
//
//   swift run -c release headroom-bench analyzer [seconds] [session|steady|overloaded|clipped|fizzy]
//   swift build -c release && .build/release/headroom-bench sox [seconds]
//   .build/release/headroom-bench record [seconds] [session|steady|overloaded|clipped|fizzy] | allocations | memory
//   .build/release/headroom-bench latency [period frames] [timer]
//   perf record .build/release/headroom-bench profile [seconds] [material] [plain]
//
// analyzer: 32 channels x 96 kHz 24-bit material through headroom's analyzer and
// through libebur128 in EBUR128_MODE_TRUE_PEAK, same samples, same process.
// sox: `headroom analyze --json` and `sox FILE -n stats` on the same 60 s WAV.
import CEBUR128
import CSndFile
import Foundation
import HeadroomCore

func now() -> Double { MonotonicClock.now() }

enum Material: String, CaseIterable {
    /// A session set up as headroom asks: hits that decay and phrases at varied levels,
    /// peaks a little above -6 dBFS.
    case session = "session (peaks near -6 dBFS)"
    /// Steady full-band noise at -10 dBFS: the filter runs on every block.
    case steady = "steady noise at -10 dBFS (filter always runs)"
    /// Noise near -1 dBFS: every channel hot all the time, every frame walked.
    case overloaded = "overloaded noise near -1 dBFS (worst case)"
    /// Low tones swelling 4 to 10 dB past full scale: clip runs of tens to hundreds of
    /// frames, clip events open most of the time (the clip walk).
    case clipped = "clipped tones, 4-10 dB past full scale (long clip runs)"
    /// Tones under loud noise driven 3 to 12 dB past full scale (the clipped channels of
    /// `../shared/bench/gen.py`): runs and gaps of a few frames, one clip event throughout.
    case fizzy = "fizzy clipping: noisy tones 3-12 dB past full scale (short runs)"

    /// What the command line calls it: the description's first word.
    var name: String { String(rawValue.prefix { $0 != " " }) }
}

/// Deterministic material, 24-bit left-justified in Int32 (what `sf_readf_int` gives).
func material(channels: Int, rate: Int, seconds: Double, kind: Material) -> [Int32] {
    let dynamic = kind == .session
    let noiseLevel = kind == .steady ? 0.316 : 0.85
    let frames = Int(Double(rate) * seconds)
    var out = [Int32](repeating: 0, count: frames * channels)
    var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
    func noise() -> Double {
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(Int64(bitPattern: seed) >> 11) / Double(1 << 52)
    }
    for c in 0..<channels {
        let f0 = 55.0 * pow(2, Double(c % 24) / 6)
        let beat = Double(rate) * (0.35 + 0.05 * Double(c % 7))
        let phraseLevel = [0.5, 0.3, 0.55, 0.15, 0.45, 0.35]
        for i in 0..<frames {
            let t = Double(i) / Double(rate)
            var x: Double
            if kind == .fizzy {
                let drive = pow(10, (3 + 3 * Double(c % 4)) / 20)
                x = max(-1, min(1, drive * (0.8 * sin(2 * .pi * (220 + 700 * Double(c % 4)) * t) + 0.35 * noise())))
            } else if kind == .clipped {
                let swell = 1.6 + 1.6 * (0.5 + 0.5 * sin(2 * .pi * 0.5 * t + Double(c)))
                x = max(-1, min(1, swell * sin(2 * .pi * (60 + 7 * Double(c)) * t) + 0.01 * noise()))
            } else if dynamic {
                let sinceHit = Double(i).truncatingRemainder(dividingBy: beat) / Double(rate)
                let phrase = phraseLevel[(i / (rate * 2) + c) % phraseLevel.count]
                let env = phrase * (0.25 + 0.75 * exp(-sinceHit * 8))
                x = env * (0.7 * sin(2 * .pi * f0 * t) + 0.2 * sin(2 * .pi * f0 * 3.01 * t) + 0.1 * noise())
            } else {
                x = noiseLevel * noise()
            }
            out[i * channels + c] = Int32(max(-8_388_608, min(8_388_607, (x * 8_388_607).rounded()))) << 8
        }
    }
    return out
}

/// Hands `analyzer` the whole material (`channels` interleaved), `block` frames a call, and
/// finishes the stream; the events are dropped as they come.
func feed(_ analyzer: Analyzer, _ data: [Int32], channels: Int, block: Int) {
    let frames = data.count / channels
    data.withUnsafeBytes { raw in
        var done = 0
        while done < frames {
            let n = min(block, frames - done)
            analyzer.process(raw.baseAddress! + done * channels * 4, frames: n)
            analyzer.events.removeAll(keepingCapacity: true)
            done += n
        }
    }
    analyzer.finish()
}

func benchAnalyzer(seconds: Double, only: Material?) {
    let channels = 32
    let rate = 96000
    print("analyzer: \(channels) ch x \(rate) Hz, 24-bit, \(seconds) s of audio per run")
    for kind in Material.allCases where only == nil || kind == only {
        let data = material(channels: channels, rate: rate, seconds: seconds, kind: kind)
        let frames = data.count / channels
        let samples = Double(data.count)
        let block = 4096

        var best = Double.infinity
        var bestPlain = Double.infinity
        var bestTwo = Double.infinity
        var truePeak = 0.0
        /// Seconds for `analyzer` to take the whole material, block by block.
        func time(_ analyzer: Analyzer) -> Double {
            let t0 = now()
            feed(analyzer, data, channels: channels, block: block)
            return now() - t0
        }
        for run in 0..<9 {
            // In turn: everything on one thread; without flat-top detection, to show what it
            // costs; everything with a second analyzer thread.
            let analyzer = Analyzer(
                channels: channels,
                rate: rate,
                layout: .int32(bits: 24),
                settings: AnalysisSettings(),
                threads: run % 3 == 2 ? 2 : 1,
                handoffSpin: Analyzer.idleHandoffSpin
            )
            analyzer.detectsFlatTops = run % 3 != 1
            analyzer.splitsConversion = true  // as `analyze` has it
            let t = time(analyzer)
            switch run % 3 {
            case 0: best = min(best, t)
            case 1: bestPlain = min(bestPlain, t)
            default: bestTwo = min(bestTwo, t)
            }
            truePeak = (0..<channels).compactMap { analyzer.summary(channel: $0).truePeakDBTP }.max() ?? 0
        }
        let ours = samples / best

        var refBest = Double.infinity
        var refPeak = 0.0
        for _ in 0..<2 {
            let st = ebur128_init(UInt32(channels), UInt(rate), Int32(EBUR128_MODE_TRUE_PEAK.rawValue))!
            var state: UnsafeMutablePointer<ebur128_state>? = st
            let t0 = now()
            data.withUnsafeBufferPointer { p in
                var done = 0
                while done < frames {
                    let n = min(block, frames - done)
                    ebur128_add_frames_int(st, p.baseAddress! + done * channels, n)
                    done += n
                }
            }
            refBest = min(refBest, now() - t0)
            var peak = 0.0
            for c in 0..<channels {
                var v = 0.0
                ebur128_true_peak(st, UInt32(c), &v)
                peak = max(peak, v)
            }
            refPeak = 20 * log10(peak)
            ebur128_destroy(&state)
        }
        let ref = samples / refBest
        print("  \(kind.rawValue):")
        print(
            String(format: "    headroom analyzer   %8.1f M samples/s  (max true peak %.2f dBTP)", ours / 1e6, truePeak)
        )
        print(
            String(format: "    libebur128 true peak %7.1f M samples/s  (max true peak %.2f dBTP)", ref / 1e6, refPeak)
        )
        print(String(format: "    ratio               %8.1fx", ours / ref))
        print(
            String(
                format: "    without flat tops   %8.1f M samples/s  (flat-top detection costs %.0f %%)",
                samples / bestPlain / 1e6,
                (best / bestPlain - 1) * 100
            )
        )
        print(
            String(
                format: "    on two threads      %8.1f M samples/s  (%.2fx one thread)",
                samples / bestTwo / 1e6,
                best / bestTwo
            )
        )
        if kind == .clipped || kind == .fizzy {
            // The clip path run by run (the default) against frame by frame (the reference
            // the tests hold it to).
            var bestFramewise = Double.infinity
            for _ in 0..<3 {
                let analyzer = Analyzer(channels: channels, rate: rate, layout: .int32(bits: 24), settings: .init())
                analyzer.bulkHotWalk = false
                bestFramewise = min(bestFramewise, time(analyzer))
            }
            print(
                String(
                    format: "    frame by frame      %8.1f M samples/s  (run by run is %.2fx)",
                    samples / bestFramewise / 1e6,
                    bestFramewise / best
                )
            )
        }
    }
}

/// The analyzer alone, ten times over the material, one thread, with flat-top detection
/// unless `plain`: something for a profiler to look at, without the reference and the
/// material's making in the way (they are most of an `analyzer` run's time).
func profileAnalyzer(seconds: Double, kind: Material, plain: Bool) {
    let channels = 32
    let rate = 96000
    let data = material(channels: channels, rate: rate, seconds: seconds, kind: kind)
    let t0 = now()
    for _ in 0..<10 {
        let analyzer = Analyzer(channels: channels, rate: rate, layout: .int32(bits: 24), settings: AnalysisSettings())
        analyzer.detectsFlatTops = !plain
        feed(analyzer, data, channels: channels, block: 4096)
    }
    print(
        String(
            format: "profile: %@, %@: %.1f M samples/s",
            kind.name,
            plain ? "plain" : "flat tops",
            10 * Double(data.count) / (now() - t0) / 1e6
        )
    )
}

/// Runs a command with stdout to /dev/null; returns wall seconds and the exit status.
func timeCommand(_ path: String, _ arguments: [String]) -> (seconds: Double, status: Int32) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    let t0 = now()
    try! p.run()
    p.waitUntilExit()
    return (now() - t0, p.terminationStatus)
}

/// `headroom analyze --json` against `sox FILE -n stats` on one 32-channel 96 kHz
/// 24-bit WAV, best of three runs each, alternating.
func benchAnalyzeVsSox(seconds: Double) {
    let channels = 32
    let rate = 96000
    let path = NSTemporaryDirectory() + "headroom-bench-\(getpid()).wav"
    defer { unlink(path) }
    let data = material(channels: channels, rate: rate, seconds: seconds, kind: .session)
    var info = SF_INFO()
    info.channels = Int32(channels)
    info.samplerate = Int32(rate)
    info.format = Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_24)
    let file = sf_open(path, Int32(SFM_WRITE), &info)!
    data.withUnsafeBufferPointer { _ = sf_writef_int(file, $0.baseAddress!, sf_count_t(data.count / channels)) }
    sf_close(file)
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "headroom"
    ).path
    guard FileManager.default.isExecutableFile(atPath: binary) else {
        print("build headroom first: swift build -c release")
        return
    }
    let sox = "/usr/bin/sox"
    var ours = Double.infinity
    var theirs = Double.infinity
    for _ in 0..<3 {
        let a = timeCommand(binary, ["analyze", "--json", path])
        let b = timeCommand(sox, [path, "-n", "stats"])
        precondition(a.status == 0 && b.status == 0, "a command failed")
        ours = min(ours, a.seconds)
        theirs = min(theirs, b.seconds)
    }
    print("analyze vs sox: \(Int(seconds)) s, \(channels) ch x \(rate) Hz, 24-bit WAV (best of 3)")
    print(String(format: "  headroom analyze --json  %6.2f s", ours))
    print(String(format: "  sox FILE -n stats        %6.2f s", theirs))
    print(String(format: "  headroom takes %.2fx the time sox takes (%.1fx faster)", ours / theirs, theirs / ours))
}

let args = Array(CommandLine.arguments.dropFirst())
let materials = Material.allCases.map(\.name).joined(separator: "|")
let usage =
    "usage: headroom-bench analyzer [seconds] [\(materials)] | sox [seconds] | record [seconds] [\(materials)] | allocations | memory | latency [period frames] [timer] | profile [seconds] [material] [plain]"

/// Exits 64 with the usage and what was wrong, as the other commands do.
func fail(_ why: String) -> Never {
    FileHandle.standardError.write("headroom-bench: \(why)\n\(usage)\n".data(using: .utf8)!)
    exit(64)
}

/// Argument `i` as a positive number, or `fallback` when it is not given.
func number(_ i: Int, or fallback: Double) -> Double {
    guard i < args.count else { return fallback }
    guard let v = Double(args[i]), v > 0 else { fail("not a positive number: \(args[i])") }
    return v
}

/// Whether argument `i` is `word` (false when it is not given; anything else exits 64, so
/// that a misspelt word does not quietly measure something else).
func flag(_ i: Int, _ word: String) -> Bool {
    guard i < args.count else { return false }
    guard args[i] == word else { fail("expected \(word) or nothing, not: \(args[i])") }
    return true
}

/// Argument `i` as a material (its name, or the start of it), or nil when it is not given.
func materialArgument(_ i: Int) -> Material? {
    guard i < args.count else { return nil }
    guard let kind = Material.allCases.first(where: { $0.name.hasPrefix(args[i]) }) else {
        fail("no such material: \(args[i])")
    }
    return kind
}

switch args.first ?? "analyzer" {
case "-h", "--help", "help":
    print(usage)
case "analyzer":
    benchAnalyzer(seconds: number(1, or: 10), only: materialArgument(2))
case "record":
    RecordBench.throughput(seconds: number(1, or: 60), kind: materialArgument(2) ?? .session)
case "allocations":
    RecordBench.allocations()
case "latency":
    LatencyBench.run(periodFrames: Int(number(1, or: 256)), timer: flag(2, "timer"))
case "profile":
    profileAnalyzer(
        seconds: number(1, or: 5),
        kind: materialArgument(2) ?? .session,
        plain: flag(3, "plain")
    )
case "memory":
    RecordBench.memory()
case "sox":
    benchAnalyzeVsSox(seconds: number(1, or: 60))
case let other:
    fail("no such benchmark: \(other)")
}
