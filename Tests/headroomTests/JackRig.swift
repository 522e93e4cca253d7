import CSndFile
import Foundation
import HeadroomCore
import Testing

/// JACK's dummy backend as a paced, real-time capture device (SPEC: *Testing without
/// sound hardware*): jackd -d dummy, sndfile-jackplay looping a file, and ALSA's jack
/// plugin. Every process is started here and stopped by its own pid.
final class JackRig {
    let server: String
    let directory: String
    let environment: [String: String]
    private(set) var jackd: Process?
    private var player: Process?

    private let wav: String
    private let channels: Int
    private let period: Int

    /// Starts a server named `hr-<name>-<pid>` (see below) playing `wav` (looped) on 2 ports, with
    /// `period`-frame JACK cycles. On a loaded machine the dummy backend misses 256-frame
    /// cycles now and then; each miss is a jump in the signal, whose intersample overshoot
    /// reads up to 1.5 dB above the played level: tests that hold levels to 0.2 dB use
    /// 1024-frame cycles, which it keeps up with.
    init(name: String, wav: String, channels: Int = 2, period: Int = 256) throws {
        self.channels = channels
        self.period = period
        // JACK 1.9.21's clients cannot join a server whose name is 24 or 40 characters long
        // (16k + 8: seen with every such name, sndfile-jackplay's ports never appear), which
        // a test's name and a 4- or 5-digit pid hit by chance: such a name gets one more.
        let named = "hr-\(name)-\(getpid())"
        server = named.utf8.count % 16 == 8 ? named + "x" : named
        directory = scratchDirectory()
        self.wav = try Self.playable(wav, channels: channels, in: directory)
        let conf = directory + "/jack.conf"
        let ports = (0..<channels).map { "\($0) \"jackplay:out_\($0 + 1)\"" }.joined(separator: " ")
        try """
        pcm.jackraw { type jack; capture_ports { \(ports) } }
        pcm.testlive { type plug; slave.pcm "jackraw" }
        """.write(toFile: conf, atomically: true, encoding: .utf8)
        environment = ["ALSA_CONFIG_PATH": "/usr/share/alsa/alsa.conf:" + conf, "JACK_DEFAULT_SERVER": server]
        try startServer()
    }

    /// Starts jackd and the player (again, after ``stop()`` or ``killServer()``); at another
    /// `rate`, another interface plugged in under the same name.
    func startServer(rate: Int = 48000) throws {
        jackd = try Self.launch(
            "/usr/bin/jackd",
            ["-n", server, "--no-realtime", "-d", "dummy", "-r", String(rate), "-p", String(period)],
            environment
        )
        // jack_wait returns once the server is up. JACK_NO_START_SERVER: the tools must never
        // start a server of their own (it would outlive them and hold the test's pipes).
        let ready = try run("/usr/bin/jack_wait", ["-s", server, "-w", "-t", "10"], environment: toolEnvironment)
        guard ready.status == 0 else { throw RigError("jackd \(server) did not come up: \(ready.stderr)") }
        player = try Self.launch("/usr/bin/sndfile-jackplay", ["--loop=0", wav], environment)
        try waitForPorts(channels)
    }

    /// `wav`, or where its channels are not a power of two, a copy with silent channels up to
    /// the next one (played on ports the PCM does not read). sndfile-jackplay's disk thread
    /// fills its ring of 2^18 bytes a whole frame at a time up to the ring's end, which a
    /// frame of 3 or 6 float channels does not divide: where the ring wraps, its output is
    /// shifted by a channel or two for up to a JACK period, about twice a second with 3
    /// channels (36 stretches in 20 s, the same in arecord's take as in headroom's; padded
    /// to 4 channels, none).
    static func playable(_ wav: String, channels: Int, in directory: String) throws -> String {
        guard channels & (channels - 1) != 0 else { return wav }
        guard let audio = readFloats(wav), audio.channels == channels else {
            throw RigError("\(wav) is not a \(channels)-channel file")
        }
        let padded = 1 << (Int.bitWidth - (channels - 1).leadingZeroBitCount)
        var samples = [Float](repeating: 0, count: audio.samples.count / channels * padded)
        for (i, x) in audio.samples.enumerated() { samples[i / channels * padded + i % channels] = x }
        let path = directory + "/player.wav"
        writeFloatWav(path, samples: samples, channels: padded)
        return path
    }

    /// Polls `jack_lsp` until the player's ports exist (the player's readiness signal).
    private func waitForPorts(_ channels: Int) throws {
        for _ in 0..<100 {
            // SIGKILL: a child inherits the test process's blocked signals, SIGTERM among
            // them, and a jack_lsp stuck on a server's futex outlived timeout's SIGTERM by 23
            // minutes on CI.
            let ports = try run(
                "/usr/bin/timeout",
                ["-s", "KILL", "10", "/usr/bin/jack_lsp", "-s", server],
                environment: toolEnvironment
            ).stdout
            if ports.contains("jackplay:out_\(channels)") { return }
            usleep(50_000)
        }
        throw RigError("sndfile-jackplay did not register its ports on \(server)")
    }

    private var toolEnvironment: [String: String] { environment.merging(["JACK_NO_START_SERVER": "1"]) { $1 } }

    /// Stops jackd (and with it the device) by its pid: SIGTERM, then SIGKILL if it has
    /// not gone within 15 s, so a stuck server cannot hang the suite.
    func killServer() {
        guard let jackd else { return }
        let pid = jackd.processIdentifier
        kill(pid, SIGTERM)
        if !Self.reap(pid, seconds: 15) {
            kill(pid, SIGKILL)
            _ = Self.reap(pid, seconds: 5)
        }
        self.jackd = nil
    }

    /// Waits up to `seconds` for `pid` to exit: waitpid on it, or Foundation reaped it first.
    static func reap(_ pid: pid_t, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        repeat {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno == ECHILD) || kill(pid, 0) != 0 { return true }
            usleep(20_000)
        } while Date() < deadline
        return false
    }

    func stop() {
        if let player {
            // sndfile-jackplay does not exit on SIGTERM; it holds no state worth a clean stop.
            kill(player.processIdentifier, SIGKILL)
            _ = Self.reap(player.processIdentifier, seconds: 5)
        }
        player = nil
        killServer()
        // Clients that were attached when their server went (the player, a recorder that lost
        // its device) leave their semaphores in /dev/shm under the server's name: only ours.
        let shm = "/dev/shm"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: shm)) ?? []
        where entry.hasPrefix("jack_sem.") && entry.contains("_\(server)_") {
            try? FileManager.default.removeItem(atPath: shm + "/" + entry)
        }
    }

    deinit { stop() }

    static func launch(_ path: String, _ args: [String], _ env: [String: String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        return p
    }
}

struct RigError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A recorder started in the background, to be signalled by its pid.
final class BackgroundRecorder {
    let process = Process()
    let stderrFile: String

    /// `through`: a program that runs the recorder (`/usr/bin/nohup`), nil for none.
    init(_ arguments: [String], environment: [String: String], directory: String, through: String? = nil) throws {
        stderrFile = directory + "/stderr.txt"
        _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
        process.executableURL = URL(fileURLWithPath: through ?? headroomBinary)
        process.arguments = (through == nil ? [] : [headroomBinary]) + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: stderrFile)
        try process.run()
    }

    var pid: pid_t { process.processIdentifier }

    /// Waits for the process to end, up to `seconds`; its exit status, or nil if still running.
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { return nil }
        return process.terminationStatus
    }

    var stderr: String { (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "" }

    deinit {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Waits (polling, bounded) until `recorder` has said `text` on stderr.
func waitFor(_ text: String, in recorder: BackgroundRecorder, seconds: Double = 15) -> Bool {
    eventually(seconds) { recorder.stderr.contains(text) }
}

/// Waits (polling, bounded) until the take file in `dir` holds `seconds` of audio at
/// `bytesPerFrame`: the recorder is then known to be recording.
func waitForAudio(
    in dir: String,
    seconds: Double,
    bytesPerFrame: Int = 8,
    ending: String = ".wav",
    timeout: Double = 20
) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let take = files(in: dir, ending: ending).first,
            let size = try? FileManager.default.attributesOfItem(atPath: take)[.size] as? Int,
            Double(size) > seconds * 48000 * Double(bytesPerFrame)
        {
            return true
        }
        usleep(50_000)
    }
    return false
}

/// Stops the recorder `pid` (SIGSTOP) once `take` holds at least `frames` past what its header
/// counts, as a recorder killed then leaves it: stopped, it cannot bring the header up to date
/// between the look and what the caller does next (SIGKILL, or SIGCONT). Between looks it
/// records on. What is uncounted then, or nil when the take never got there (the recorder is
/// then left running).
func stopLeavingUncounted(_ pid: pid_t, take: String, frames: Int, timeout: Double = 20) -> UncountedAudio? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        kill(pid, SIGSTOP)
        waitStopped(pid)
        if let u = UncountedAudio.find(path: take), u.frames >= frames { return u }
        kill(pid, SIGCONT)
        usleep(20_000)  // let it record on between looks
    }
    return nil
}

/// Waits (up to 5 s) until every thread of `pid` has stopped: kill(SIGSTOP) returns before
/// they do, and a writer thread on the other core can finish a write or two after it (seen on
/// CI: a take read just after the signal had grown when read again).
func waitStopped(_ pid: pid_t) {
    let deadline = Date().addingTimeInterval(5)
    while Date() < deadline {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        let stopped = tasks.allSatisfy { task in
            // The state follows the command name's closing parenthesis: "pid (comm) T ...".
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return true }  // gone
            let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
            return state == "T" || state == "t"
        }
        if stopped { return }
        usleep(1_000)
    }
}

/// The set-up most real-time tests share: a scratch folder, a noise file looped by a JACK
/// rig, and `headroom record` on the rig's `testlive` device, writing into `out`. Call
/// ``stop()`` (in a `defer`) to stop the rig; the recorder is the test's to end.
struct RigRecording {
    let dir: String
    let input: [Float]
    let rig: JackRig
    let out: String
    let recorder: BackgroundRecorder
    let channels: Int

    init(
        _ name: String,
        seconds: Double,
        channels: Int = 2,
        clipEvery: Int? = nil,
        level: Float = 0.4,
        arguments: [String] = ["--format", "FLOAT_LE"],
        environment: [String: String] = [:],
        through: String? = nil
    )
        throws
    {
        dir = scratchDirectory()
        self.channels = channels
        input = writeNoiseWav(
            dir + "/in.wav",
            seconds: seconds,
            channels: channels,
            level: level,
            clipEvery: clipEvery
        )
        rig = try JackRig(name: name, wav: dir + "/in.wav", channels: channels)
        out = dir + "/takes"
        do {
            recorder = try BackgroundRecorder(
                ["record", "--device", "testlive", "--channels", String(channels), "--dir", out] + arguments,
                environment: rig.environment.merging(environment) { $1 },
                directory: dir,
                through: through
            )
        } catch {
            rig.stop()
            throw error
        }
    }

    func stop() { rig.stop() }

    /// Once `seconds` of audio are in the take, ends the recorder with SIGINT (Ctrl-C), which
    /// must exit 0; the take's samples, read as floats, and its log's lines.
    func interrupted(after seconds: Double) throws -> (samples: [Float], log: [[String: Any]]) {
        #expect(waitForAudio(in: out, seconds: seconds, bytesPerFrame: 4 * channels))
        kill(recorder.pid, SIGINT)
        #expect(recorder.wait(seconds: 10) == 0, "\(recorder.stderr)")
        let (file, lines) = try take()
        return (try #require(readFloats(file)).samples, lines)
    }

    /// The first take and its log's lines.
    func take() throws -> (file: String, log: [[String: Any]]) {
        let file = try #require(files(in: out, ending: ".wav").first)
        return (file, logLines(file.replacingOccurrences(of: ".wav", with: ".clips.jsonl")))
    }
}

/// A float WAV of noise that never repeats within its length, so any stretch of it
/// can be located: what the player loops and the takes must contain exactly.
func writeNoiseWav(
    _ path: String,
    seconds: Double,
    channels: Int = 2,
    level: Float = 0.4,
    clipEvery: Int? = nil
) -> [Float] {
    let frames = Int(seconds * 48000)
    var state: UInt64 = 12345
    var samples = [Float](repeating: 0, count: frames * channels)
    for i in samples.indices {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        samples[i] = level * Float(Double(Int64(bitPattern: state) >> 11) / Double(1 << 52))
    }
    if let clipEvery {
        for f in stride(from: clipEvery, to: frames - 10, by: clipEvery) {
            for k in 0..<5 { samples[(f + k) * channels] = 1.0 }
        }
    }
    writeFloatWav(path, samples: samples, channels: channels)
    return samples
}

/// Reads a take as floats.
func readFloats(_ path: String) -> (samples: [Float], channels: Int)? {
    var info = SF_INFO()
    guard let file = sf_open(path, Int32(SFM_READ), &info) else { return nil }
    defer { sf_close(file) }
    var samples = [Float](repeating: 0, count: Int(info.frames) * Int(info.channels))
    let n = samples.withUnsafeMutableBufferPointer { sf_readf_float(file, $0.baseAddress!, info.frames) }
    samples.removeLast(samples.count - Int(n) * Int(info.channels))
    return (samples, Int(info.channels))
}

/// Holds a take recorded on the JACK rig to the player's output, sample for sample: in each
/// channel, from its first sound to its end, every sample is the looped `input`'s, exactly
/// and in order, or silence its log accounts for. Where the log says frames were lost, the
/// take holds silence of that length, and within two of the recorder's periods of it (2,048
/// frames), before or after, the player's output may jump once, by any amount: the hole the
/// silence stands for. (The recorder puts the silence after what the device held at its
/// last reading on time, on a block's edge: what arrived between that reading and the stall
/// puts it up to a period before the hole, the edge up to half a period after. On this rig,
/// 16 stalls of 0.1 and 1.5 s: 0 to 768 frames before the hole. The jump's size is the time
/// the player's clock, JACK's dummy backend, went on for, which may itself lose time while
/// a client is stopped.) Otherwise, one thing the rig
/// does on a loaded machine is allowed, because no ALSA client can tell it from the sound
/// itself: JACK's graph drops or repeats a 256-frame period of a port (the take stays exact,
/// the player's output jumps by one or two periods, in one channel or both). Measured with
/// six busy loops on 2 cores: every take's mismatches were logged gaps (the dummy backend
/// fell behind the clock; the recorder logged the time missed and wrote silence, and the
/// player went on where it was) and such jumps, and nothing else. (A loss of exactly a
/// period inside the recorder would pass here; the `file` plugin rig holds whole takes
/// bit-exact, with no clock to skip.)
func expectPlayerOutput(
    _ take: [Float],
    log: [[String: Any]],
    of input: [Float],
    channels: Int,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    // Frames that never reached the take, by frame (an analysis-only drop leaves it whole).
    var losses: [Int: Int] = [:]
    for line in log where ["gap", "xrun", "dropped"].contains(line["type"] as? String ?? "") && line["in"] == nil {
        if let at = line["frame"] as? Int, let lost = line["lost_frames"] as? Int { losses[at, default: 0] += lost }
    }
    for channel in 0..<channels {
        if let fault = playerOutputFault(take, losses: losses, of: input, channels: channels, channel: channel) {
            Issue.record("channel \(channel + 1): \(fault)", sourceLocation: sourceLocation)
        }
    }
}

/// Where one channel of a take stops being what ``expectPlayerOutput`` allows, or nil.
private func playerOutputFault(
    _ take: [Float],
    losses: [Int: Int],
    of input: [Float],
    channels: Int,
    channel: Int
) -> String? {
    let inputFrames = input.count / channels
    let takeFrames = take.count / channels
    func same(_ f: Int, _ i: Int) -> Bool {
        take[f * channels + channel] == input[(i % inputFrames) * channels + channel]
    }
    // Where the 8 samples from take frame f are in the input (noise: nowhere else).
    func locate(_ f: Int) -> Int? { (0..<inputFrames).first { o in (0..<8).allSatisfy { same(f + $0, o + $0) } } }
    guard var f = (0..<takeFrames).first(where: { take[$0 * channels + channel] != 0 }) else { return "silent" }
    var source: Int? = nil  // the input frame take frame f follows on from, when in step
    var hole: Int? = nil  // where the silence for a loss ended, until the output's jump is seen
    var explained: Set<Int> = []  // losses whose jump came just before their silence
    let holeSlack = 2048  // two of the recorder's periods on this rig
    while f < takeFrames {
        if let lost = losses[f] {
            let end = min(takeFrames, f + lost)
            guard (f..<end).allSatisfy({ take[$0 * channels + channel] == 0 }) else {
                return "no silence for the \(lost) frames lost at \(f)"
            }
            hole = explained.contains(f) ? nil : end
            f = end
            continue
        }
        // Fewer than 8 frames left cannot be located: they must follow on.
        if f + 8 > takeFrames {
            guard let source, (f..<takeFrames).allSatisfy({ same($0, source + $0 - f) }) else {
                return "the last \(takeFrames - f) frames are not the player's"
            }
            return nil
        }
        guard let o = locate(f) else { return "frames from \(f) are not the player's output" }
        if let source, o != source {
            var jump = (o - source) % inputFrames
            if jump > inputFrames / 2 { jump -= inputFrames }
            if jump < -inputFrames / 2 { jump += inputFrames }
            if let end = hole, f - end <= holeSlack {
                hole = nil  // the hole the silence stands for
            } else if let next = losses.keys.filter({ $0 >= f && $0 - f <= holeSlack && !explained.contains($0) }).min()
            {
                explained.insert(next)  // the hole, just before the silence that stands for it
            } else if jump % 256 != 0 || abs(jump) > 1024 {
                let logged = losses.keys.sorted().map { "\($0)+\(losses[$0]!)" }.joined(separator: ", ")
                return "at frame \(f) the take jumps \(jump) frames in the player's output (logged losses at \(logged))"
            }
        }
        if let end = hole, f - end > holeSlack { hole = nil }
        var n = 8
        while f + n < takeFrames && losses[f + n] == nil && same(f + n, o + n) { n += 1 }
        f += n
        source = (o + n) % inputFrames
    }
    return nil
}
