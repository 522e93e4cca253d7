import Foundation

@testable import HeadroomCore

/// A new empty folder for one test, named after what it holds (`headroom-<name>-<uuid>`);
/// the test removes it.
func scratchFolder(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "headroom-\(name)-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs `analyzer` over interleaved samples in blocks of `block` frames and returns
/// every event, with the analyzer for its summaries.
func analyze<T: Numeric>(
    _ samples: [T],
    channels: Int,
    rate: Int = 48000,
    layout: SampleLayout,
    settings: AnalysisSettings = .init(),
    block: Int = 1024,
    maxBlockFrames: Int = 2048,
    exact: Bool = false,
    bulkHotWalk: Bool = true,
    threads: Int = 1,
    splitsConversion: Bool = false
) -> (events: [Event], analyzer: Analyzer) {
    let analyzer = Analyzer(
        channels: channels,
        rate: rate,
        layout: layout,
        settings: settings,
        maxBlockFrames: maxBlockFrames,
        exactBlockPeaks: exact,
        threads: threads
    )
    analyzer.bulkHotWalk = bulkHotWalk
    analyzer.splitsConversion = splitsConversion
    var events: [Event] = []
    let stride = MemoryLayout<T>.stride
    let frameBytes = layout.bytesPerSample * channels
    samples.withUnsafeBytes { raw in
        let frames = raw.count / frameBytes
        _ = stride
        var done = 0
        while done < frames {
            let n = min(block, frames - done)
            analyzer.process(raw.baseAddress! + done * frameBytes, frames: n)
            events += analyzer.events
            analyzer.events.removeAll()
            done += n
        }
    }
    analyzer.finish()
    events += analyzer.events
    analyzer.events.removeAll()
    return (events, analyzer)
}

func clips(_ events: [Event]) -> [ClipEvent] {
    events.compactMap { if case .clip(let e) = $0 { e } else { nil } }
}

func hots(_ events: [Event]) -> [HotEvent] {
    events.compactMap { if case .hot(let e) = $0 { e } else { nil } }
}

func flats(_ events: [Event]) -> [FlatEvent] {
    events.compactMap { if case .flat(let e) = $0 { e } else { nil } }
}

/// The flat events of one channel of float samples.
func flats(mono samples: [Float], rate: Int = 48000) -> [FlatEvent] {
    flats(analyze(samples, channels: 1, rate: rate, layout: .float32).events)
}

/// 16-bit mono: quiet noise-free base level with the given samples placed at frames.
func int16Signal(frames: Int, level: Int16 = 1000, set: [Int: Int16] = [:]) -> [Int16] {
    var s = [Int16](repeating: 0, count: frames)
    for i in 0..<frames { s[i] = i % 2 == 0 ? level : -level }
    for (f, v) in set { s[f] = v }
    return s
}

/// A deterministic pseudo-random generator for test material.
struct Noise {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    /// Uniform in [-1, 1).
    mutating func next() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(Int64(bitPattern: state) >> 11) / Double(1 << 52)
    }
}

/// An independent implementation of SPEC's true peak: straightforward double-precision
/// convolution with the Annex 2 table, delay line starting at zero, max with the sample peak.
func referenceTruePeak(_ x: [Double]) -> Double {
    let h = TruePeakFilter.phases
    var peak = x.map(abs).max() ?? 0
    for n in 0..<x.count {
        for p in 0..<4 {
            var y = 0.0
            for k in 0..<12 where n - k >= 0 { y += h[p][k] * x[n - k] }
            peak = max(peak, abs(y))
        }
    }
    return peak
}

func dB(_ x: Double) -> Double { 20 * log10(x) }

/// Sample `v` in [-1, 1] as a `bits`-bit code, rounded and cut at the largest code.
func quantized(_ v: Double, bits: Int) -> Int32 {
    let full = Double(Int64(1) << (bits - 1))
    return Int32(max(-full, min(full - 1, (v * full).rounded())))
}

/// 24-bit codes as S24_3LE bytes, three a sample.
func packed24(_ codes: [Int32]) -> [UInt8] {
    codes.flatMap {
        [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0 >> 16)]
    }
}

/// Samples in [-1, 1] as the bytes of interleaved frames in `layout` (``quantized(_:bits:)``).
func encoded(_ x: [Double], _ layout: SampleLayout) -> [UInt8] {
    func bytes<T>(_ codes: [T]) -> [UInt8] { codes.withUnsafeBytes { Array($0) } }
    switch layout {
    case .int16: return bytes(x.map { Int16(quantized($0, bits: 16)) })
    case .int24Packed: return packed24(x.map { quantized($0, bits: 24) })
    case .int24InInt32: return bytes(x.map { quantized($0, bits: 24) })
    case .int32(let bits): return bytes(x.map { quantized($0, bits: bits) << (32 - bits) })
    case .float32: return bytes(x.map { Float($0) })
    }
}
