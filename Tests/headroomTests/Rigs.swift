import Foundation
import Testing

/// ALSA's `file` plugin as a capture device: it hands over a regular file's bytes,
/// unpaced, through the real libasound2 (SPEC: *Testing without sound hardware*).
struct FileRig {
    let directory: String
    let environment: [String: String]

    /// A PCM named `testcap` that reads `bytes`; with `floatDevice`, a `plug` over a device
    /// that offers FLOAT_LE only (as JACK's does), reading `bytes` as floats; with
    /// `deviceFormat`, a `plug` over a device that offers that format only (a 16-bit card).
    init(bytes: Data, floatDevice: Bool = false, deviceFormat: String? = nil) {
        directory = scratchDirectory()
        let infile = directory + "/in.raw"
        try! bytes.write(to: URL(fileURLWithPath: infile))
        let conf = directory + "/test.conf"
        let file = "type file; slave.pcm \"null\"; file \"/dev/null\"; infile \"\(infile)\"; format \"raw\""
        let slave = floatDevice ? "FLOAT_LE" : deviceFormat
        let pcm = slave.map { "type plug; slave { pcm { \(file) }; format \($0) }" } ?? file
        try! "pcm.testcap { \(pcm) }\n".write(toFile: conf, atomically: true, encoding: .utf8)
        environment = ["ALSA_CONFIG_PATH": "/usr/share/alsa/alsa.conf:" + conf]
    }

    /// `headroom record` from `testcap` into `<directory>/takes` with `arguments`, which
    /// must exit 0; the take's path.
    func record(_ arguments: String...) throws -> String {
        let out = directory + "/takes"
        let r = try run(
            headroomBinary,
            ["record", "--device", "testcap", "--dir", out] + arguments,
            environment: environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(files(in: out, ending: ".wav").first)
    }

    /// `headroom record` from `testcap` into its own folder `<directory>/<folder>` with
    /// `arguments`, which must exit 0: what it printed, and its take's log lines.
    func recordLog(into folder: String, _ arguments: String...) throws -> (run: RunResult, log: [[String: Any]]) {
        let out = directory + "/" + folder
        let r = try run(
            headroomBinary,
            ["record", "--device", "testcap", "--dir", out] + arguments,
            environment: environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        let take = try #require(files(in: out, ending: ".wav").first)
        return (r, logLines(take.replacingOccurrences(of: ".wav", with: ".clips.jsonl")))
    }
}

extension FileRig {
    /// A 440 Hz tone, 8 kHz mono S16_LE, `seconds` long: the rig for many short takes
    /// (`--rate 8000 --channels 1 --format S16_LE`), and its samples.
    static func tone(seconds: Int = 1) -> (rig: FileRig, samples: [Int16]) {
        let tone = (0..<8000 * seconds).map { Int16(3000 * sin(2 * Double.pi * 440 * Double($0) / 8000)) }
        return (FileRig(bytes: tone.withUnsafeBufferPointer { Data(buffer: $0) }), tone)
    }
}

/// The pid a line of `text` names ("... (pid 123) ..."): the first line that starts with `prefix`.
func pidNamed(in text: String, lineStartingWith prefix: String) -> Int32? {
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }),
        let after = line.split(separator: "(pid ").dropFirst().first
    else { return nil }
    return Int32(after.prefix { $0.isNumber })
}

/// A float sample as alsa-lib's `lfloat` plugin turns it into a 32-bit code (plugin_ops.h:
/// 1.0 and over the largest code, -1.0 and under the smallest, else scaled by 2^31 and
/// truncated); the 16- and 24-bit formats keep its top bits.
func lfloatCode(_ f: Float) -> Int32 {
    f >= 1 ? .max : f <= -1 ? .min : Int32(f * 2_147_483_648)
}

/// Interleaved test material with clipped runs at known frames, in every capture format.
struct Material {
    let frames: Int
    let channels: Int
    /// Sample values as fractions of full scale, interleaved.
    var values: [Double]
    /// (channel, first frame, length) of each full-scale run.
    var clipRuns: [(channel: Int, frame: Int, length: Int)] = []

    init(frames: Int, channels: Int, seed: UInt64 = 1) {
        self.frames = frames
        self.channels = channels
        var state = seed
        values = (0..<(frames * channels)).map { i in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let noise = Double(Int64(bitPattern: state) >> 11) / Double(1 << 52)
            let c = i % channels
            return 0.3 * sin(Double(i / channels) * 0.01 * Double(c + 1)) + 0.05 * noise
        }
    }

    mutating func clip(channel: Int, frame: Int, length: Int, negative: Bool = false) {
        for f in frame..<(frame + length) { values[f * channels + channel] = negative ? -1 : 1 }
        clipRuns.append((channel, frame, length))
    }

    /// Integer code of a value at `bits` (full scale hits the max or min code).
    static func code(_ v: Double, bits: Int) -> Int64 {
        let maxCode = Double((Int64(1) << (bits - 1)) - 1)
        if v <= -1 { return -(Int64(1) << (bits - 1)) }
        return Int64((v * maxCode).rounded())
    }

    /// Raw little-endian bytes in an ALSA format. `S32_LE/24` is S32_LE as a 24-bit
    /// converter fills it: its codes in the top three bytes.
    func bytes(_ format: String) -> Data {
        var out = Data()
        for v in values {
            switch format {
            case "S16_LE": out += le(Self.code(v, bits: 16), 2)
            case "S24_3LE": out += le(Self.code(v, bits: 24), 3)
            case "S24_LE": out += le(Self.code(v, bits: 24), 4)
            case "S32_LE": out += le(Self.code(v, bits: 32), 4)
            case "S32_LE/24": out += le(Self.code(v, bits: 24) << 8, 4)
            default: withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { out += Data($0) }
            }
        }
        return out
    }

    /// What `sf_readf_int` should return for the take of an integer format.
    func expectedInts(_ format: String) -> [Int32] {
        let bits = format == "S16_LE" ? 16 : format == "S32_LE" ? 32 : 24
        return values.map { Int32(truncatingIfNeeded: Self.code($0, bits: bits) << (32 - bits)) }
    }

    private func le(_ v: Int64, _ n: Int) -> Data {
        withUnsafeBytes(of: v.littleEndian) { Data($0.prefix(n)) }
    }
}

/// Parsed lines of a clip log.
func logLines(_ path: String) -> [[String: Any]] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
}

func files(in dir: String, ending suffix: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
        .map { dir + "/" + $0 }
}

/// Waits (polling, bounded) until `dir` holds `count` files ending in `suffix`; whether it did.
func waitForFiles(in dir: String, ending suffix: String, count: Int, timeout: Double = 20) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while files(in: dir, ending: suffix).count < count && Date() < deadline { usleep(20_000) }
    return files(in: dir, ending: suffix).count >= count
}
