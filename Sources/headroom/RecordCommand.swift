import ArgumentParser
import Foundation
import HeadroomCore

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record takes from an ALSA capture device with live meters, clip warnings and a clip log per take.",
        discussion: """
            On a terminal: one meter row per channel; keys r (reset peak holds and clip latches), \
            m (mark this moment, with an optional label), n (close the take and start the next), \
            q (stop). Otherwise, on stderr, a line saying what it records into which take, one line per \
            warning and a status line every 10 seconds. \
            Ctrl-C, SIGTERM and SIGHUP end the take cleanly (exit 0; under nohup a hang-up does \
            not); SIGUSR1 starts the next take and SIGUSR2 drops a marker. Each take gets <take>.clips.jsonl beside it.
            """
    )

    @OptionGroup var capture: CaptureOptions
    @OptionGroup var analysis: AnalysisOptions

    @Option(
        help: ArgumentHelp("Folder for takes and their clip logs (default: the current folder).", valueName: "dir"),
        transform: Settings.expandingHome
    )
    var dir: String?

    @Option(
        help: ArgumentHelp(
            "Take name: strftime codes plus %n for a take counter (on from the highest number already there); a / makes folders inside --dir (%Y-%m-%d/take-%H%M%S: a folder a day) (default take-%Y%m%d-%H%M%S).",
            valueName: "template"
        )
    )
    var name: String?

    @Option(
        name: .customLong("file-format"),
        help: ArgumentHelp(
            "Container for takes (default wav). wav, rf64 and flac (up to 8 channels, 24 bits) carry names, loudness and markers; caf names only; w64 the audio alone.",
            valueName: "format"
        )
    )
    var fileFormat: TakeFileFormat?

    @Option(
        help: ArgumentHelp(
            "What the channels are: multitrack (independent tracks, no speaker positions: the default) or a speaker layout the take's channel mask then says.",
            valueName: "layout"
        )
    )
    var layout: ChannelLayout?

    @Option(
        name: [.customShort("d"), .long],
        parsing: .unconditional,
        help: ArgumentHelp(
            "Stop by itself after this much audio: seconds (90), a clock (1:30:00) or units (90s, 15m, 2h).",
            valueName: "time"
        ),
        transform: Settings.parsedSeconds
    )
    var duration: Double?

    @Option(
        name: .customLong("max-take-seconds"),
        parsing: .unconditional,
        help: ArgumentHelp(
            "Split a long recording into parts of this length (seconds, 1:00:00 or 1h); no frame is lost between them. Takes also split by themselves before a file size limit (FAT's 4 GiB, ulimit -f).",
            valueName: "time"
        ),
        transform: Settings.parsedSeconds
    )
    var maxTakeSeconds: Double?

    @Flag(help: "No terminal meter: warnings as single lines on stderr and a status line every minute (for services).")
    var headless = false

    @Option(
        help: ArgumentHelp(
            "A calibrate --save file: show each channel's soundcheck level as a reference mark in the meters.",
            valueName: "file"
        ),
        transform: Settings.expandingHome
    )
    var reference: String?

    @Flag(
        name: .customLong("wait-device"),
        help: "When the device is missing or goes away, wait for it and go on with a new take (take-003 -> take-003-2)."
    )
    var waitDevice = false

    @Option(
        name: .customLong("on-take-closed"),
        help: ArgumentHelp(
            "A shell command run after each take and its log are closed, with their paths as arguments unless it names them itself ($1, $2, \"$@\", $HEADROOM_TAKE, $HEADROOM_LOG; HEADROOM_COMPLETE is set too): an rsync, a checksum, an upload. Also run, with HEADROOM_COMPLETE=0, for a take a killed recorder left in --dir, once this one has finished it. One runs at a time, in take order; never delays recording; a failure is reported and recording goes on.",
            valueName: "command"
        )
    )
    var onTakeClosed: String?

    @Option(
        help: ArgumentHelp(
            "Serve /metrics (Prometheus), /status (JSON) and a live meter page on this address (a bare port or localhost means 127.0.0.1, :PORT every IPv4 address, [::]:PORT every address, IPv6 too). Off by default; read-only.",
            valueName: "addr:port"
        )
    )
    var listen: String?

    @Option(
        name: .customLong("metrics-file"),
        help: ArgumentHelp(
            "Write the metrics for node_exporter's textfile collector to this file every 5 s and at each take's end (for units without network).",
            valueName: "path"
        ),
        transform: Settings.expandingHome
    )
    var metricsFile: String?

    func run() throws {
        // A terminal or journal that stops taking output must not hold the live loop.
        Terminal.writeAside()
        try reportingErrors {
            var settings = try analysis.settings()
            try capture.apply(to: &settings)
            if let dir { settings.directory = dir }
            if let name { settings.nameTemplate = name }
            if let fileFormat { settings.fileFormat = fileFormat.rawValue }
            if let duration { settings.durationSeconds = duration }
            if let maxTakeSeconds { settings.maxTakeSeconds = maxTakeSeconds }
            if let reference { settings.referenceFile = reference }
            if headless { settings.headless = true }
            if waitDevice { settings.waitDevice = true }
            if let onTakeClosed { settings.onTakeClosed = onTakeClosed }
            if let layout { settings.layout = layout.rawValue }
            if let listen { settings.listen = listen }
            if let metricsFile { settings.metricsFile = metricsFile }
            let listenAddress = try settings.listen.map { spec throws(HeadroomError) in try WebServer.parse(spec) }
            guard let channelLayout = ChannelLayout(rawValue: settings.layout) else {
                throw HeadroomError(
                    .usage,
                    "layout \(settings.layout) is not one of \(ChannelLayout.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            if let n = channelLayout.channels, n != settings.channels {
                throw HeadroomError(
                    .usage,
                    "--layout \(channelLayout.rawValue) has \(n) channel\(n == 1 ? "" : "s"), not \(settings.channels); use --channels \(n) or --layout multitrack"
                )
            }
            let references =
                try settings.referenceFile.map { path throws(HeadroomError) in try Settings.referenceLevels(path: path)
                } ?? [:]
            guard let container = TakeFileFormat(rawValue: settings.fileFormat.lowercased()) else {
                throw HeadroomError(
                    .usage,
                    "--file-format \(settings.fileFormat) is not one of wav, rf64, w64, flac, caf"
                )
            }
            let format = SampleFormat(name: settings.format)!
            guard container.supports(format) else {
                throw HeadroomError(
                    .usage,
                    "--file-format flac stores at most 24 bits; use --format S24_3LE (from a card that offers S32_LE only, through its plughw: device: a 24-bit converter's samples fit exactly), or --file-format wav for \(format.rawValue)"
                )
            }
            guard settings.channels <= container.maxChannels else {
                throw HeadroomError(
                    .usage,
                    "--file-format \(container.rawValue) holds at most \(container.maxChannels) channels, not \(settings.channels); use --file-format wav (or rf64, w64, caf)"
                )
            }
            // What a frame takes in the take file: for the split before a file size limit and
            // for the time left on the disk.
            let takeBytesPerFrame = settings.channels * format.fileBytesPerSample
            // Ranges checked before any conversion to frames (1e300 s does not fit in an Int). A
            // config file's were checked as it was read: a value out of range here is a flag's.
            for (flag, value, limit) in [
                ("duration", settings.durationSeconds, Settings.durationLimit),
                ("max-take-seconds", settings.maxTakeSeconds, Settings.takeLimit),
            ] {
                if let value { _ = try limit.checked(value, "--" + flag) }
            }
            // Checked now so these errors come before the device's, and before anything is
            // created; RecordingSession checks again when each take begins, which may be
            // hours later with --wait-device.
            // A folder that does not answer (a share gone) is said, not waited on without a word.
            let (directory, template) = (settings.directory, settings.nameTemplate)
            _ = try Self.answering(directory) { () throws(HeadroomError) in
                try TakeNamer(directory: directory, template: template, fileFormat: container)
            }
            // Rewritten every 5 s, so an earlier run's file is replaced; never audio, a clip log or a folder.
            if let path = settings.metricsFile {
                _ = try Self.answering(FilePaths.directory(of: path)) { () throws(HeadroomError) in
                    try TextFile.check(path, option: "--metrics-file", force: true)
                }
            }
            try Self.answering(directory) { () throws(HeadroomError) in try RecordingSession.checkDirectory(directory) }

            // Before the device opens: plugins (ALSA's jack) start threads of their own,
            // and they must inherit SIGINT and SIGTERM blocked for a clean end of take.
            let hangupNote = LiveRecording.takeOverSignals()
            // Notes go to stderr as they come; the first stays on the meter, whose first draw
            // clears the screen (names left over, then the rate, then the path).
            var startNote: String? = nil
            func note(_ text: String) {
                Terminal.error(text)
                startNote = startNote ?? text
            }
            if let hangupNote { note(hangupNote) }
            if let names = settings.unusedNamesNote { note(names) }
            let names = ClipLog.channelNames(settings.names, channels: settings.channels)
            // One monitor for the life of the process: its counters go on across takes and
            // reconnects. The server starts before the device opens, so a bad port is known at once.
            let monitor =
                listenAddress != nil || settings.metricsFile != nil
                ? Monitor(device: settings.device, settings: settings.analysis) : nil
            // A metrics file that cannot be written is known before anything records (exit 73),
            // not a line every 5 s into the take.
            if let path = settings.metricsFile, let monitor {
                let text = monitor.exposition
                try Self.answering(FilePaths.directory(of: path)) { () throws(HeadroomError) in
                    try MetricsFile.write(text, to: path)
                }
            }
            if let path = settings.metricsFile, !path.hasSuffix(".prom") {
                note(
                    "note: --metrics-file \(path): node_exporter's textfile collector reads only files whose names end in .prom"
                )
            }
            var server: WebServer? = nil
            if let (host, port) = listenAddress, let monitor {
                let web = try WebServer(host: host, port: port, monitor: monitor)
                try web.start()
                server = web
                Terminal.error("serving /metrics, /status and the live page on http://\(web.authority)/")
            }
            defer { server?.stop() }
            // One queue of --on-take-closed commands for the whole recording, across device
            // reconnects (a device lost under --wait-device is waited for at once, not the
            // uploads), waited for once, as the recorder ends.
            let takeHook = settings.onTakeClosed.flatMap { TakeHook(command: $0) }
            defer {
                // To systemd: the recorder is ending (its watchdog, fed while frames arrive,
                // no longer applies: TimeoutStopSec bounds the uploads waited for).
                Systemd.notify("STOPPING=1")
                if let takeHook { LiveRecording.waitForHooks(takeHook) }
            }
            var resumedFrom: String? = nil
            var chainBase: String? = nil
            var chainIndex = 2
            /// The audio recorded before a reconnect, seconds.
            var recordedSeconds = 0.0
            /// When the device went away, under --wait-device.
            var lostAt: Double? = nil
            var outcome: RecordingSession.Outcome
            while true {
                // nil: stopped (SIGINT, SIGTERM) while waiting for the device.
                guard let source = try openDevice(settings: settings, format: format, lostAt: lostAt, monitor: monitor)
                else { return }
                if source.rate != settings.rate {
                    note(
                        "note: \(settings.device) runs at \(source.rate) Hz, not \(settings.rate) Hz; recording at \(source.rate) Hz"
                    )
                }
                if resumedFrom == nil,
                    let warning = PCMPath.warning(source.path, device: settings.device, hardware: source.hardware)
                {
                    note(warning)
                }
                var config = RecordingSession.Configuration(
                    settings: settings,
                    fileFormat: container,
                    names: names,
                    deviceName: settings.device
                )
                // --duration counts audio: after a reconnect, what is left of it.
                config.frameLimit = settings.durationSeconds.map {
                    max(1, Int((($0 - recordedSeconds) * Double(source.rate)).rounded()))
                }
                config.maxTakeFrames = settings.maxTakeSeconds.map { Int(($0 * Double(source.rate)).rounded()) }
                // A folder whose files stop short (FAT, ulimit -f): takes split before they
                // would, rather than end in a write error that stops the recording.
                if let limit = try Self.answering(directory, { FileSizeLimit.of(directory: directory) }) {
                    let frames = limit.frames(bytesPerFrame: takeBytesPerFrame)
                    if config.maxTakeFrames.map({ frames < $0 }) ?? true {
                        config.maxTakeFrames = frames
                        if resumedFrom == nil {
                            let every = EventText.timecode(seconds: Double(frames) / Double(source.rate))
                            Terminal.error(
                                "note: \(limit.reason), so takes in \(settings.directory) split every \(every), with no frame lost between them"
                            )
                        }
                    }
                }
                config.resumedFrom = resumedFrom
                // The take after a reconnect follows on from the one the loss cut (take-003 ->
                // take-003-2); the takes after it (--max-take-seconds) are named as ever.
                config.followOnName = chainBase.map { "\($0)-\(chainIndex)" }
                config.takeHook = takeHook
                config.channelMask = channelLayout.channelMask
                let configured = config
                let session = try Self.answering(directory) { () throws(HeadroomError) in
                    try RecordingSession(source: source, configuration: configured)
                }
                outcome = LiveRecording(
                    session: session,
                    settings: settings,
                    takeBytesPerFrame: takeBytesPerFrame,
                    headless: settings.headless,
                    references: references,
                    monitor: monitor,
                    metricsFile: settings.metricsFile,
                    startNote: startNote
                ).run()
                recordedSeconds += Double(outcome.frames) / Double(source.rate)
                guard settings.waitDevice, outcome.reason == .deviceLost, let last = outcome.takes.last else { break }
                resumedFrom = URL(fileURLWithPath: last).lastPathComponent
                // A follow-on cut in turn (a device that comes and goes) is followed on from the
                // same take: take-003-2, take-003-3.
                let cut = TakeNamer.followOnBase(of: last, directory: settings.directory)
                if let chainBase, cut == "\(chainBase)-\(chainIndex)" {
                    chainIndex += 1
                } else {
                    (chainBase, chainIndex) = (cut, 2)
                }
                Terminal.error("waiting for \(settings.device) to come back (Ctrl-C to stop)")
                lostAt = MonotonicClock.now()
                // Not opened again before the lost one is closed: libjack keeps one set of
                // globals for a client closing and one opening, and a recorder whose new open
                // overlapped the old close never opened the device again (once, on CI).
                let capture = session.capture
                switch Systemd.keepingAlive({
                    Self.waitAnswering(seconds: 15) { capture.sourceClosed.load(ordering: .acquiring) }
                }) {
                case .done: break
                case .stopped: return
                case .timedOut:
                    Terminal.error(
                        "note: closing \(settings.device) has not returned in 15 s (its driver or plugin is stuck); trying to open it again regardless"
                    )
                }
            }
            if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
        }
    }

    /// How long a device's open may take before the recorder takes it for stuck.
    static let openSeconds = 15.0

    enum Waited {
        case done
        case stopped
        case timedOut
    }

    /// Waits until `done` is true, up to `seconds`, answering SIGINT and SIGTERM meanwhile
    /// (looked for 20 ms at a time, between looks at `done`, which may wait a while itself:
    /// an ``Aside`` call's `finished(within:)`): for a device's open or close, or a folder,
    /// which a library or a disk can hold for good.
    static func waitAnswering(seconds: Double, until done: () -> Bool) -> Waited {
        let deadline = MonotonicClock.now() + seconds
        while !done() {
            if LiveRecording.waitForEndSignal(seconds: 0.02) { return .stopped }
            if MonotonicClock.now() > deadline { return .timedOut }
        }
        return .done
    }

    enum Opening {
        case opened(ALSACapture)
        case stopped
        /// The open has not returned in the time given, and may never.
        case stuck
    }

    /// Runs `open` on a thread of its own and waits for it, up to `seconds`, while still
    /// answering SIGINT and SIGTERM, and alive to systemd's watchdog. A device's library can
    /// hang for good once the device has gone away (libjack after jackd died mid-take): then
    /// the recorder says so and ends (``stuckOpen(_:seconds:)``), instead of hanging without
    /// a word. `quiet`: stderr goes to /dev/null while the open is waited for (libjack's lines
    /// on every retry) and comes back when the wait ends, whether or not the open has returned.
    static func bounded(
        seconds: Double,
        quiet: Bool = false,
        _ open: @escaping () throws(HeadroomError) -> ALSACapture
    ) throws(HeadroomError) -> Opening {
        // The open starts inside the silence, so that what its library says goes there too.
        let wait = { () -> (Waited, Aside<ALSACapture>) in
            let call = Aside(open)
            return (Systemd.keepingAlive { waitAnswering(seconds: seconds) { call.finished(within: 0.02) } }, call)
        }
        let (waited, call) = quiet ? DeviceList.withStderrSilenced(wait) : wait()
        switch waited {
        case .done: return .opened(try call.result())
        case .stopped: return .stopped
        case .timedOut: return .stuck
        }
    }

    /// Why a recorder ends when its device's open has not returned, even under
    /// `--wait-device`: the call that holds the driver or plugin cannot be taken back, and
    /// another open in the same process meets the same stuck library (or waits on it for
    /// good). A fresh process can open the device; the unit's `Restart=` starts one (exit
    /// 69 is not among its `RestartPreventExitStatus`), where its watchdog would have killed
    /// this one with a core dump.
    static func stuckOpen(_ device: String, seconds: Double) -> HeadroomError {
        HeadroomError(
            .unavailable,
            "opening \(device) has not returned in \(String(format: "%g", seconds)) s: its driver or plugin is stuck, and only a new process can open it again; start headroom again (under systemd, Restart= does)"
        )
    }

    /// Runs `work`, a call that touches the takes' folder before recording starts, on a
    /// thread of its own. A folder on a share whose server went away, or on a failing disk,
    /// holds such a call without end and without an error: after 2 s that is said, and the
    /// recorder waits on, answering the end signals (once they are taken over): one leaves,
    /// exit 74, with nothing recorded. (Once recording, the writer's stalls are said by
    /// ``LiveRecording``.) Under systemd the recorder is alive meanwhile (`WATCHDOG=1`), and
    /// ready once it has said so: a share that is slow to come back, at boot or after a
    /// device reconnect, is waited for as the device is, not ended by `WatchdogSec` or
    /// `TimeoutStartSec`.
    static func answering<T>(
        _ directory: String,
        _ work: @escaping () throws(HeadroomError) -> T
    ) throws(HeadroomError) -> T {
        let call = Aside(work)
        let start = MonotonicClock.now()
        let answered = { call.finished(within: 0.02) }
        let said = Systemd.keepingAlive { () -> Bool in
            var waited = waitAnswering(seconds: 2, until: answered)
            let said = waited == .timedOut
            if said {
                Terminal.line(
                    "DISK: \(directory) has not answered for 2 s (a share gone? a failing disk?); recording starts when it does, Ctrl-C leaves"
                )
                // Ready, as while a device is waited for: a share that is slow to come back at
                // boot is this service's work to wait for, not a start that TimeoutStartSec ends.
                _ = Systemd.notify(
                    "READY=1\nSTATUS=waiting for \(directory) to answer (a share gone? a failing disk?)"
                )
                waited = waitAnswering(seconds: .infinity, until: answered)
            }
            if waited == .stopped {
                Terminal.error("left without recording: \(directory) has not answered (a share gone? a failing disk?)")
                // The call that holds the folder cannot be taken back; the process ends around it.
                Terminal.leave(.io)
            }
            return said
        }
        if said { Terminal.line(LiveRecording.diskAnswers(after: MonotonicClock.now() - start)) }
        return try call.result()
    }
    /// Opens the capture device. With --wait-device a missing device is waited for
    /// (tried once a second); returns nil when SIGINT or SIGTERM arrives meanwhile.
    ///
    /// Each reason it cannot be opened is said once, as it first comes: a card plugged back
    /// in that refuses the settings (another interface on the same name, at 44.1 kHz only) is
    /// said, not waited on under the line that said it was missing. Once it opens after a
    /// wait, that is said too, so a journal does not end on "waiting" until the next take
    /// closes; `lostAt` is when the device went away mid-recording. While it waits, systemd
    /// and `monitor` hear of it.
    func openDevice(
        settings: Settings,
        format: SampleFormat,
        lostAt: Double? = nil,
        monitor: Monitor? = nil
    ) throws(HeadroomError) -> ALSACapture? {
        /// The reasons said so far (none: the first try).
        var reasons: Set<String> = []
        var stuck = false
        let waitingSince = lostAt ?? MonotonicClock.now()
        while true {
            do throws(HeadroomError) {
                func open() throws(HeadroomError) -> ALSACapture {
                    try ALSACapture(
                        device: settings.device,
                        rate: settings.rate,
                        channels: settings.channels,
                        format: format,
                        periodFrames: settings.periodFrames,
                        bufferFrames: settings.bufferFrames
                    )
                }
                // Retries stay quiet: the first failure was said once, in one line.
                switch try Self.bounded(seconds: Self.openSeconds, quiet: !reasons.isEmpty, open) {
                case .stuck:
                    stuck = true
                    throw Self.stuckOpen(settings.device, seconds: Self.openSeconds)
                case .opened(let source):
                    if !reasons.isEmpty || lostAt != nil {
                        let seconds = String(format: "%.1f", MonotonicClock.now() - waitingSince)
                        Terminal.error(
                            "recording\(lostAt == nil ? "" : " again"): \(settings.device) \(lostAt == nil ? "is there" : "is back") after \(seconds) s"
                        )
                    }
                    return source
                case .stopped: return nil
                }
            } catch {
                guard settings.waitDevice, error.code == .unavailable, !stuck else { throw error }
                if reasons.insert(error.message).inserted {
                    Terminal.error("waiting for \(settings.device): \(error.message)")
                }
                // To systemd: waiting for the device is this service's work (ready, so that
                // TimeoutStartSec does not end it), and it is alive while it does (WatchdogSec).
                Systemd.notify("READY=1\nSTATUS=waiting for \(settings.device)\nWATCHDOG=1")
                monitor?.waitingForDevice(reason: error.message, seconds: MonotonicClock.now() - waitingSince)
                if LiveRecording.waitForEndSignal(seconds: 1) { return nil }
            }
        }
    }
}

/// A call run on a thread of its own, for a caller that keeps answering signals while it
/// waits: a device's library or a disk may hold the call for good.
final class Aside<T>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Result<T, HeadroomError>?

    init(_ work: @escaping () throws(HeadroomError) -> T) {
        nonisolated(unsafe) let work = work
        Thread.detachNewThread {
            do throws(HeadroomError) {
                self.outcome = .success(try work())
            } catch {
                self.outcome = .failure(error)
            }
            self.done.signal()
        }
    }

    /// True once the call has returned; waits up to `seconds` for it.
    func finished(within seconds: Double) -> Bool {
        guard done.wait(timeout: .now() + seconds) == .success else { return false }
        done.signal()  // for the next look
        return true
    }

    /// What the call returned or threw; only once ``finished(within:)`` is true.
    func result() throws(HeadroomError) -> T { try outcome!.get() }
}
