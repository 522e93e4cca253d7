import CEBUR128
import CSndFile
import Foundation
import Testing

@testable import HeadroomCore

/// headroom's loudness meter against libebur128, the reference implementation, on the same
/// samples: integrated loudness, range, and the largest momentary and short-term loudness.
@Suite("Loudness (BS.1770-4, EBU R 128, Tech 3342) against libebur128")
struct LoudnessTests {
    /// Material whose loudness moves: tones and noise at levels that change every few
    /// seconds, a silent stretch (gated out), a fade, per channel different.
    static func material(channels: Int, rate: Int, seconds: Double, seed: UInt64) -> [Float] {
        var noise = Noise(seed: seed)
        let frames = Int(Double(rate) * seconds)
        var x = [Float](repeating: 0, count: frames * channels)
        for c in 0..<channels {
            let f = 60.0 * pow(2, Double(c) * 1.3)
            for i in 0..<frames {
                let t = Double(i) / Double(rate)
                let section = Int(t / 2.5) % 5
                let level = [0.3, 0.05, 0.0, 0.6, 0.01][(section + c) % 5] * (1 - 0.5 * t / seconds)
                let tone = sin(2 * .pi * f * t) + 0.3 * sin(2 * .pi * f * 7.1 * t)
                x[i * channels + c] = Float(level * (c % 2 == 0 ? tone * 0.7 : noise.next()))
            }
        }
        return x
    }

    @Test(
        "our figures equal libebur128's within 0.01 LU, every channel and as one programme",
        arguments: [(1, 44100), (2, 48000), (5, 96000), (11, 48000)]
    )
    func matchesLibebur128(channels: Int, rate: Int) throws {
        let x = Self.material(channels: channels, rate: rate, seconds: 12.7, seed: UInt64(channels * rate))
        let frames = x.count / channels
        let meter = LoudnessMeter(channels: channels, rate: rate)
        // Uneven blocks, so segment edges fall inside them.
        var done = 0
        var block = 333
        while done < frames {
            let n = min(block, frames - done)
            x.withUnsafeBufferPointer { meter.add(floats: $0.baseAddress! + done * channels, frames: n) }
            done += n
            block = block * 7 % 5003 + 1
        }

        // libebur128, as one programme (every channel weight 1), momentary and short-term
        // read every 100 ms.
        let mode = Int32(
            EBUR128_MODE_I.rawValue | EBUR128_MODE_LRA.rawValue | EBUR128_MODE_M.rawValue | EBUR128_MODE_S.rawValue
        )
        var all = ebur128_init(UInt32(channels), UInt(rate), mode)
        defer { ebur128_destroy(&all) }
        for c in 0..<channels { ebur128_set_channel(all, UInt32(c), Int32(EBUR128_LEFT.rawValue)) }
        let step = (rate + 5) / 10
        var maxM = -Double.infinity
        var maxS = -Double.infinity
        var at = 0
        while at + step <= frames {
            x.withUnsafeBufferPointer { _ = ebur128_add_frames_float(all, $0.baseAddress! + at * channels, step) }
            at += step
            var m = 0.0
            var s = 0.0
            ebur128_loudness_momentary(all, &m)
            ebur128_loudness_shortterm(all, &s)
            maxM = max(maxM, m)
            maxS = max(maxS, s)
        }
        x.withUnsafeBufferPointer { _ = ebur128_add_frames_float(all, $0.baseAddress! + at * channels, frames - at) }
        var integrated = 0.0
        var range = 0.0
        ebur128_loudness_global(all, &integrated)
        ebur128_loudness_range(all, &range)
        let ours = meter.programme
        #expect(abs(try #require(ours.integratedLUFS) - integrated) < 0.01, "integrated \(integrated)")
        #expect(abs(try #require(ours.rangeLU) - range) < 0.01, "range \(range)")
        #expect(range > 3)  // the material does move
        #expect(abs(try #require(ours.maxMomentaryLUFS) - maxM) < 0.01, "momentary \(maxM)")
        #expect(abs(try #require(ours.maxShortTermLUFS) - maxS) < 0.01, "short-term \(maxS)")

        // Each channel as a mono programme.
        for c in 0..<channels {
            var mono = ebur128_init(1, UInt(rate), Int32(EBUR128_MODE_I.rawValue | EBUR128_MODE_LRA.rawValue))
            defer { ebur128_destroy(&mono) }
            let samples = (0..<frames).map { x[$0 * channels + c] }
            samples.withUnsafeBufferPointer { _ = ebur128_add_frames_float(mono, $0.baseAddress!, frames) }
            ebur128_loudness_global(mono, &integrated)
            ebur128_loudness_range(mono, &range)
            let channel = meter.channel(c)
            #expect(abs(try #require(channel.integratedLUFS) - integrated) < 0.01, "channel \(c)")
            #expect(abs(try #require(channel.rangeLU) - range) < 0.01, "channel \(c)")
        }
    }

    @Test(
        "measured as a file is analyzed (one pass: review of a take without a log, or a pipe) equals a read of the file, to the bit",
        arguments: [
            Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16), Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_24),
            Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_32), Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_U8),
            Int32(SF_FORMAT_WAV | SF_FORMAT_FLOAT), Int32(SF_FORMAT_WAV | SF_FORMAT_ULAW),
            Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_24), Int32(SF_FORMAT_OGG | SF_FORMAT_VORBIS),
        ]
    )
    func onePassEqualsFileRead(format: Int32) throws {
        let (channels, rate) = (3, 48000)
        let x = Self.material(channels: channels, rate: rate, seconds: 7.3, seed: 9)
        let path = NSTemporaryDirectory() + "headroom-loudness-\(UUID().uuidString)"
        defer { unlink(path) }
        var info = SF_INFO(
            frames: 0,
            samplerate: Int32(rate),
            channels: Int32(channels),
            format: format,
            sections: 0,
            seekable: 0
        )
        let file = try #require(sf_open(path, Int32(SFM_WRITE), &info))
        #expect(
            x.withUnsafeBufferPointer { sf_writef_float(file, $0.baseAddress!, sf_count_t(x.count / channels)) } > 0
        )
        sf_close(file)
        let analyzed = try #require(
            try FileAnalysis.run(path: path, settings: Settings(), measuresLoudness: true).loudness
        )
        let read = try #require(LoudnessMeter.measure(path: path)).measured
        #expect(analyzed == read)
        #expect(read.programme.integratedLUFS != nil && read.channels.count == channels)
    }

    @Test("silence has no loudness; a 997 Hz sine at -20 dBFS on one channel reads -23.01 LUFS")
    func silenceAndSine() {
        let rate = 48000
        let silent = LoudnessMeter(channels: 2, rate: rate)
        let zeros = [Float](repeating: 0, count: rate * 2 * 5)
        zeros.withUnsafeBufferPointer { silent.add(floats: $0.baseAddress!, frames: rate * 5) }
        #expect(silent.programme == ProgrammeLoudness.Figures())
        #expect(silent.channel(0) == Loudness.Channel())
        // BS.1770: a 0 dBFS 997 Hz sine in one channel reads -3.01 LUFS; at -20 dBFS, -23.01.
        let sine = LoudnessMeter(channels: 1, rate: rate)
        let x = (0..<(rate * 10)).map { Float(0.1 * sin(2 * Double.pi * 997 * Double($0) / Double(rate))) }
        x.withUnsafeBufferPointer { sine.add(floats: $0.baseAddress!, frames: x.count) }
        #expect(abs((sine.channel(0).integratedLUFS ?? 0) - -23.01) < 0.05)
        #expect((sine.channel(0).rangeLU ?? 99) < 0.1)
    }
}
