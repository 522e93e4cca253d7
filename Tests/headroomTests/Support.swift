import CSndFile
import Foundation
import Testing

/// The `headroom` executable built next to the test bundle (`HEADROOM_BINARY` runs the
/// tests against another build, e.g. to see a new test fail on the code before a fix).
let headroomBinary: String = {
    if let other = ProcessInfo.processInfo.environment["HEADROOM_BINARY"] { return other }
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return dir.appendingPathComponent("headroom").path
}()

/// The repository's root (README.md, docs/, udev/, monitoring/), from this file's place in it.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
    /// stdout split into lines and parsed as JSON objects.
    var jsonLines: [[String: Any]] {
        stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

/// Runs a program to completion and collects its output.
@discardableResult
func run(
    _ program: String,
    _ arguments: [String],
    cwd: String? = nil,
    environment: [String: String] = [:]
) throws -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes to the end before waiting, so a chatty child never blocks.
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    DispatchQueue.global().async(group: group) { outData = out.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
    group.wait()
    process.waitUntilExit()
    return RunResult(
        status: process.terminationStatus,
        stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self)
    )
}

func headroom(_ arguments: String..., cwd: String? = nil, environment: [String: String] = [:]) throws -> RunResult {
    try run(headroomBinary, arguments, cwd: cwd, environment: environment)
}

/// Runs headroom with `arguments` on a terminal and returns the screen: util-linux's
/// `script` gives it a pseudo-terminal and keeps everything written there, carriage returns
/// and erasures included.
func onTerminal(
    _ arguments: String...,
    in dir: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> String {
    try onTerminal(arguments, in: dir, sourceLocation: sourceLocation)
}

func onTerminal(
    _ arguments: [String],
    in dir: String,
    environment: [String: String] = [:],
    sourceLocation: SourceLocation
) throws -> String {
    let typescript = dir + "/typescript"
    // One shell command for script: each word quoted.
    let command = ([headroomBinary] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        .joined(separator: " ")
    let r = try run("/usr/bin/script", ["-qec", command, typescript], environment: environment)
    #expect(r.status == 0, "\(r.stderr)", sourceLocation: sourceLocation)
    return try String(contentsOfFile: typescript, encoding: .utf8)
}

/// Runs headroom with `arguments` on a terminal and through a pipe: the screen shows
/// `line` drawn as a status line (erased, then written in place), the pipe gets nothing on
/// stderr, and what it gets first comes on screen right after a status line's erasure.
/// Returns both for what else a test asks of them.
@discardableResult
func expectStatusLine(
    _ line: String,
    _ arguments: String...,
    in dir: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> (screen: String, piped: RunResult) {
    let screen = try onTerminal(arguments, in: dir, sourceLocation: sourceLocation)
    #expect(screen.contains("\r\u{1B}[K" + line), "\(screen)", sourceLocation: sourceLocation)
    let piped = try run(headroomBinary, arguments)
    #expect(piped.status == 0 && piped.stderr.isEmpty, "\(piped.stderr)", sourceLocation: sourceLocation)
    let firstLine = try #require(piped.stdout.split(separator: "\n").first, sourceLocation: sourceLocation)
    #expect(screen.contains("\r\u{1B}[K" + firstLine), "\(screen)", sourceLocation: sourceLocation)
    return (screen, piped)
}

/// A 24-bit mono WAV of a 100 Hz tone at -12 dBFS, `seconds` long (10 s: 59 blocks of 8192
/// frames, long enough for a progress line).
func writeTone(_ path: String, seconds: Int = 10) {
    let samples = (0..<(48000 * seconds)).map {
        Int32(0.25 * sin(2 * Double.pi * 100 * Double($0) / 48000) * 8_388_607) << 8
    }
    writeAudio(path, samples: samples, channels: 1)
}

/// A fresh scratch folder for one test.
func scratchDirectory() -> String {
    let path = NSTemporaryDirectory() + "headroom-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Writes interleaved Int32 samples (left-justified) as a libsndfile file.
func writeAudio(
    _ path: String,
    samples: [Int32],
    channels: Int,
    rate: Int = 48000,
    format: Int32 = Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_24)
) {
    var info = SF_INFO()
    info.channels = Int32(channels)
    info.samplerate = Int32(rate)
    info.format = format
    let file = sf_open(path, Int32(SFM_WRITE), &info)!
    samples.withUnsafeBufferPointer { _ = sf_writef_int(file, $0.baseAddress!, sf_count_t(samples.count / channels)) }
    sf_close(file)
}

/// Writes interleaved floats as a 48 kHz float WAV.
func writeFloatWav(_ path: String, samples: [Float], channels: Int) {
    var info = SF_INFO()
    info.channels = Int32(channels)
    info.samplerate = 48000
    info.format = Int32(SF_FORMAT_WAV | SF_FORMAT_FLOAT)
    let file = sf_open(path, Int32(SFM_WRITE), &info)!
    samples.withUnsafeBufferPointer { _ = sf_writef_float(file, $0.baseAddress!, sf_count_t(samples.count / channels)) }
    sf_close(file)
}

/// Reads a file back as left-justified Int32 (libsndfile `sf_readf_int`).
func readAudio(_ path: String) -> (samples: [Int32], channels: Int, rate: Int, format: Int32)? {
    var info = SF_INFO()
    guard let file = sf_open(path, Int32(SFM_READ), &info) else { return nil }
    defer { sf_close(file) }
    var samples = [Int32](repeating: 0, count: Int(info.frames) * Int(info.channels))
    let n = samples.withUnsafeMutableBufferPointer { sf_readf_int(file, $0.baseAddress!, info.frames) }
    samples.removeLast(samples.count - Int(n) * Int(info.channels))
    return (samples, Int(info.channels), Int(info.samplerate), info.format)
}

/// 24-bit full-scale code, left-justified.
let max24: Int32 = ((1 << 23) - 1) << 8

/// nil when `got` is `want`; else where they first differ. Audio is compared with
/// `#expect(firstDifference(a, b) == nil)`, not `#expect(a == b)`: on failure swift-testing
/// diffs two arrays, which for a take's million samples ran for minutes instead of failing.
func firstDifference<T: Equatable>(_ got: [T]?, _ want: [T]) -> String? {
    guard let got else { return "nothing read" }
    if got == want { return nil }
    let at = (0..<min(got.count, want.count)).first { got[$0] != want[$0] } ?? min(got.count, want.count)
    let values = at < min(got.count, want.count) ? ": \(got[at]) against \(want[at])" : ""
    return "\(got.count) values against \(want.count); the first difference at \(at)\(values)"
}
