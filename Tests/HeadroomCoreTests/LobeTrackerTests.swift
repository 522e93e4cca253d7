import CHeadroomKernels
import Foundation
import Testing

@testable import HeadroomCore

@Suite("The lobe tracker (flat tops' frame loop): each vector loop against a walk of its definition")
struct LobeTrackerTests {
    /// A loud lobe the tracker ends: its lane, polarity, peak, first frame at that peak, first
    /// frame, the frame after it (the sample that began the next lobe), and whether its peak is
    /// at the clip level (HR_AT_CLIP: listed for rule A, kept out of rule B's histograms).
    struct Lobe: Hashable, CustomStringConvertible {
        var lane: Int
        var negative: Bool
        var peak: Float
        var peakAt: Int
        var start: Int
        var end: Int
        var atClip = false
        var description: String {
            "lane \(lane) \(negative ? "-" : "+")\(peak) at \(peakAt) in \(start)..<\(end)\(atClip ? " at the clip level" : "")"
        }
    }

    /// What the tracker leaves of a lane's open lobe, and its gate.
    struct Open: Equatable {
        var negative = false
        var peak: Float = 0
        var peakAt = 0
        var start = 0
        var gate: Float = 0
    }

    static let floor: Float = 0.01  // FlatDetector's for float material: -40 dBFS
    static let ceiling: Float = 0.9

    /// `hr_track_lobes`' definition, one lane and one sample at a time: a lobe is a run of one
    /// sign, zeros (of either sign) belonging to the lobe they are in; its peak is its first
    /// largest magnitude. A lobe ends where a nonzero sample of the other sign comes; it is
    /// loud when its peak is at or over the gate, which each sample raises to half its
    /// magnitude, and taken when also at or over the floor. The kernel lists only those 3
    /// samples or longer (rule A's), and files all of them in rule B's histograms, those at
    /// the clip level too.
    static func walk(_ x: [Float], channels: Int, gate: Float) -> (all: [Lobe], open: [Open]) {
        var lobes: [Lobe] = []
        var open = [Open](repeating: Open(gate: gate), count: channels)
        for i in 0..<x.count / channels {
            for l in 0..<channels {
                let v = x[i * channels + l]
                var o = open[l]
                if v != 0 && (v < 0) != o.negative {
                    if o.peak >= o.gate && o.peak >= floor {
                        lobes.append(
                            Lobe(
                                lane: l,
                                negative: o.negative,
                                peak: o.peak,
                                peakAt: o.peakAt,
                                start: o.start,
                                end: i,
                                atClip: o.peak >= ceiling
                            )
                        )
                    }
                    o.negative = v < 0
                    o.peak = abs(v)
                    o.peakAt = i
                    o.start = i
                } else if abs(v) > o.peak {
                    o.peak = abs(v)
                    o.peakAt = i
                }
                o.gate = max(o.gate, abs(v) / 2)
                open[l] = o
            }
        }
        return (lobes, open)
    }

    /// The kernel at `width` lanes a vector, over `x` in blocks of the given sizes, as the
    /// analyzer calls it: the lobes it lists (3 samples or longer), how many loud lobes it
    /// filed per lane and polarity (the histograms' totals) and their peaks' sum (the
    /// histograms' sums, from which a pile-up's level is read), and the open lobes at the end.
    static func track(
        _ x: [Float],
        channels: Int,
        width: Int,
        blocks: [Int],
        gate: Float
    ) -> (
        longer: [Lobe], filed: [Int], filedPeaks: [Double], open: [Open]
    ) {
        let groups = (channels + width - 1) / width
        let frames = x.count / channels
        let detectors = (0..<channels).map {
            FlatDetector(channel: $0, rate: 48000, bits: nil, clipCandidate: ceiling)
        }
        defer { for d in detectors { d.deallocate() } }
        #expect(detectors.allSatisfy { $0.floor == floor })
        let lanes = UnsafeMutablePointer<UnsafeMutablePointer<hr_flat_lane>?>.allocate(capacity: groups * width)
        lanes.initialize(repeating: nil, count: groups * width)
        for c in 0..<channels { lanes[c] = detectors[c].lane }
        // Per group: sign, peak, peak frame, start frame and gate rows, as Analyzer keeps them.
        let state = UnsafeMutablePointer<Float>.allocate(capacity: groups * 5 * width)
        defer { state.deallocate() }
        for g in 0..<groups {
            for l in 0..<width {
                state[g * 5 * width + l] = 1
                state[g * 5 * width + width + l] = 0
                state[g * 5 * width + 2 * width + l] = 0
                state[g * 5 * width + 3 * width + l] = 0
                state[g * 5 * width + 4 * width + l] = g * width + l < channels ? gate : .infinity
            }
        }
        let lobes = UnsafeMutablePointer<hr_lobes>.allocate(capacity: 1)
        // hr_lobes' fields one after another, each HR_LOBE_CAPACITY + 16 four-byte words (Swift
        // does not import C arrays that long).
        let fieldBytes = (Int(HR_LOBE_CAPACITY) + 16) * 4
        #expect(MemoryLayout<hr_lobes>.size == 5 * fieldBytes + Int(HR_LOBE_CAPACITY) * 4)
        func field<T>(_ k: Int, _: T.Type) -> UnsafePointer<T> {
            (UnsafeRawPointer(lobes) + k * fieldBytes).assumingMemoryBound(to: T.self)
        }
        let (code, peak, peakAt) = (field(0, Int32.self), field(1, Float.self), field(2, Float.self))
        let (startAt, end, longer) = (field(3, Float.self), field(4, Float.self), field(5, UInt32.self))
        // Lobe r of the kernel's list, for group g of the block at `blockStart`.
        func lobe(_ r: Int, group g: Int, blockStart: Int) -> Lobe {
            Lobe(
                lane: g * width + Int(code[r] >> 17 & 31),
                negative: code[r] >> 16 & 1 == 1,
                peak: peak[r],
                peakAt: blockStart + Int(peakAt[r]),
                start: blockStart + Int(startAt[r]),
                end: blockStart + Int(end[r]),
                atClip: code[r] & HR_AT_CLIP != 0
            )
        }
        var listed: [Lobe] = []
        var block = [Float](repeating: 0, count: (blocks.max() ?? 1) * width)
        var blockStart = 0
        var b = 0
        while blockStart < frames {
            let n = min(blocks[b % blocks.count], frames - blockStart)
            b += 1
            for g in 0..<groups {
                // The group's lanes interleaved, zeros in lanes past the last channel.
                for i in 0..<n {
                    for l in 0..<width {
                        let c = g * width + l
                        block[i * width + l] = c < channels ? x[(blockStart + i) * channels + c] : 0
                    }
                }
                let row = state + g * 5 * width
                var at = 0
                while at < n {
                    var stopped = 0
                    let count = hr_track_lobes(
                        block,
                        Int64(blockStart),
                        at,
                        n,
                        width,
                        row,
                        row + width,
                        row + 2 * width,
                        row + 3 * width,
                        row + 4 * width,
                        lanes + g * width,
                        lobes,
                        &stopped
                    )
                    listed += (0..<count).map { lobe(Int(longer[$0]), group: g, blockStart: blockStart) }
                    at = stopped
                }
                // The next block counts its frames from its own start.
                for l in 0..<width {
                    row[2 * width + l] -= Float(n)
                    row[3 * width + l] -= Float(n)
                }
            }
            blockStart += n
        }
        lobes.deallocate()
        lanes.deallocate()
        // Rule B's histograms hold every loud lobe filed: [polarity][quarter][bin], a count and
        // a `preceded` count interleaved, and beside them the peaks' sums; the quarter stays 0
        // here.
        var filed: [Int] = []
        var filedPeaks: [Double] = []
        for d in detectors {
            for polarity in 0..<2 {
                let row = d.lane.pointee.counts + 2 * polarity * 4 * d.bins
                filed.append((0..<d.bins).reduce(0) { $0 + Int(row[2 * $1]) })
                let sums = d.lane.pointee.sums + polarity * 4 * d.bins
                filedPeaks.append((0..<d.bins).reduce(0) { $0 + Double(sums[$1]) })
            }
        }
        let open = (0..<channels).map { c -> Open in
            let row = (c / width) * 5 * width + c % width
            return Open(
                negative: state[row] < 0,
                peak: state[row + width],
                peakAt: frames + Int(state[row + 2 * width]),
                start: frames + Int(state[row + 3 * width]),
                gate: state[row + 4 * width]
            )
        }
        return (listed, filed, filedPeaks, open)
    }

    /// Sixteen channels of what breaks a lobe tracker: zeros and negative zeros inside lobes
    /// and between them, quantized noise (equal peaks: the first one counts), tones clipped
    /// at and under the clip level, lobes hundreds of frames long across blocks, silence that
    /// turns loud, and levels that fall under the gate and the floor.
    static func material(frames: Int, seed: UInt64) -> [Float] {
        let channels = 16
        var noise = Noise(seed: seed)
        var x = [Float](repeating: 0, count: frames * channels)
        for i in 0..<frames {
            let t = Double(i)
            for c in 0..<channels {
                let r = noise.next()
                var v: Double
                switch c % 8 {
                case 0: v = (r * 4).rounded() / 6  // steps of 1/6, zeros a fifth of the time
                case 1: v = 0.8 * sin(t * 2 * .pi / Double(37 + c)) * (abs(r) < 0.2 ? 0 : 1)  // zeros inside lobes
                case 2:  // flat tops under the clip level
                    v = min(max(1.5 * sin(t * 2 * .pi / 211), -0.5), 0.5) + 0.002 * r
                case 3: v = min(max(2 * sin(t * 2 * .pi / 900), -1), 1)  // long lobes at the clip level
                case 4: v = i < frames / 3 ? 0 : 0.7 * r * sin(t / 500)  // silence, then noise swelling
                case 5: v = 0.05 * sin(t * 2 * .pi / 50) * exp(-t / 3000) + (i % 997 < 3 ? 0.6 : 0)  // decay, spikes
                case 6: v = r < -0.9 ? -0.0 : (r * 8).rounded(.towardZero) / 10  // negative zeros
                default: v = 0.3 * r + 0.4 * sin(t * 2 * .pi / 133)
                }
                x[i * channels + c] = Float(v)
            }
        }
        return x
    }

    @Test(
        "the 4-, 8- and 16-lane loops list, file and leave exactly what the walk does, in blocks of any size",
        arguments: [4, 8, 16]
    )
    func vectorLoopsMatchTheWalk(width: Int) {
        let channels = 16
        let x = Self.material(frames: 12000, seed: 9)
        let gate: Float = 0.02
        let reference = Self.walk(x, channels: channels, gate: gate)
        let longer = reference.all.filter { $0.end - $0.start >= 3 }
        // The premise: lobes of every length, and more in a group of four lanes than the
        // kernel lists at once (it stops and is called again from where it stopped).
        #expect(longer.count > 200 && reference.all.count > 2 * longer.count)
        #expect(longer.filter(\.atClip).count > 20)
        #expect(reference.all.count / 4 > Int(HR_LOBE_CAPACITY))
        let order: (Lobe, Lobe) -> Bool = { ($0.end, $0.lane) < ($1.end, $1.lane) }
        for blocks in [[12000], [1000], [1, 7, 333, 64, 2, 1500]] {
            let kernel = Self.track(x, channels: channels, width: width, blocks: blocks, gate: gate)
            let listed = kernel.longer.sorted(by: order)
            #expect(listed.count == longer.count, "blocks of \(blocks)")
            let first = zip(listed, longer).first { $0 != $1 }
            if let (mine, walked) = first {
                Issue.record("blocks of \(blocks): the kernel listed \(mine) where the walk has \(walked)")
            }
            var filed = [Int](repeating: 0, count: 2 * channels)
            for lobe in reference.all { filed[2 * lobe.lane + (lobe.negative ? 1 : 0)] += 1 }
            #expect(kernel.filed == filed, "blocks of \(blocks)")
            var peaks = [Double](repeating: 0, count: 2 * channels)
            for lobe in reference.all { peaks[2 * lobe.lane + (lobe.negative ? 1 : 0)] += Double(lobe.peak) }
            // Summed per bin in floats, in the kernel's order.
            let apart = zip(kernel.filedPeaks, peaks).enumerated().first { abs($1.0 - $1.1) > 1e-4 * max($1.1, 1) }
            if let (j, (mine, walked)) = apart {
                Issue.record(
                    "blocks of \(blocks), lane \(j / 2) polarity \(j % 2): peaks sum to \(mine), the walk's \(walked)"
                )
            }
            for c in 0..<channels where kernel.open[c] != reference.open[c] {
                Issue.record("blocks of \(blocks), lane \(c): left \(kernel.open[c]), the walk \(reference.open[c])")
            }
        }
    }

    @Test("a piece's peak per lane (the flat gate's, and whether a piece can be skipped) is its largest magnitude")
    func piecePeaks() {
        var noise = Noise(seed: 12)
        for width in [4, 8, 16] {
            for frames in [0, 1, 3, 4, 5, 8, 9, 1001] {
                // Each lane's largest sample somewhere, of either sign, among smaller ones.
                var x = (0..<frames * width).map { _ in Float(0.5 * noise.next()) }
                for l in 0..<width where frames > 0 {
                    let at = (l * 7 + frames / 2) % frames
                    x[at * width + l] = l % 2 == 0 ? 0.75 : -0.75
                }
                var peaks = [Float](repeating: 0, count: width)
                hr_peaks(x, frames, width, &peaks)
                let expected = (0..<width).map { l in (0..<frames).map { abs(x[$0 * width + l]) }.max() ?? 0 }
                #expect(peaks == expected, "\(frames) frames of \(width) lanes")
            }
        }
    }
}
