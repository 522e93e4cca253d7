import CHeadroomKernels
import Foundation
import Glibc
import Synchronization

/// State the recording threads share with the session (all behind locks: none of it is
/// touched by the capture thread).
final class SessionShared: Sendable {
    let snapshot: Mutex<MeterSnapshot>
    let warnings = Mutex<[String]>([])
    /// Why the writer failed (a full disk), once it has.
    let diskFailure = Mutex<String?>(nil)
    /// Markers asked for (`m`, SIGUSR2), at the capture position when asked; the analyzer
    /// thread logs them once it has analyzed up to that frame.
    let markerRequests = Mutex<[(frame: Int, label: String?)]>([])
    /// A marker whose label is still being typed (the `m` key): the frame it marks, the
    /// label so far, and when the key was pressed. See ``RecordingSession/beginMarker(at:)``.
    let markerDraft = Mutex<(frame: Int, label: String, began: Double)?>(nil)

    /// Asks for the drafted marker with the label typed so far (none when nothing was
    /// typed), once: by Enter, or by the recording's end while it is still being typed.
    func commitDraft() {
        markerDraft.withLock { draft in
            guard let d = draft else { return }
            draft = nil
            markerRequests.withLock { $0.append((d.frame, d.label.isEmpty ? nil : d.label)) }
        }
    }

    /// A pipe the analyzer thread writes a byte to when a person should look now (a
    /// warning, a clip or flat-top latch): the terminal loop sleeps on its read end
    /// (`attention`), not on a timer. Both ends non-blocking: a full pipe already says so.
    let attention: Int32
    private let attentionWriter: Int32

    init(snapshot: MeterSnapshot) {
        self.snapshot = Mutex(snapshot)
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for fd in ends {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        }
        attention = ends[0]
        attentionWriter = ends[1]
    }

    deinit {
        if attention >= 0 { close(attention) }
        if attentionWriter >= 0 { close(attentionWriter) }
    }

    /// Wakes whoever waits in ``RecordingSession/waitForAttention(seconds:)``.
    func attend() {
        var byte: UInt8 = 1
        if attentionWriter >= 0 { _ = write(attentionWriter, &byte, 1) }
    }
}

/// One recording: a capture thread, a writer thread and an analyzer thread around two
/// rings (SPEC: *Real-time rules*):
///
/// ```
/// CaptureSource ──► CaptureThread ──► writer ring ──► WriterLoop ──► take files
///                                 └─► analyzer ring ─► AnalyzerLoop ─► clip logs, meters, warnings
/// ```
public final class RecordingSession: @unchecked Sendable {
    /// Everything a recording needs besides its source.
    public struct Configuration: Sendable {
        public var settings: Settings
        public var fileFormat: TakeFileFormat
        /// Channel names, one per channel.
        public var names: [String]
        /// The device name for the logs.
        public var deviceName: String
        /// Stop after this many frames; `nil`: until stopped.
        public var frameLimit: Int?
        /// Split into parts of this many frames.
        public var maxTakeFrames: Int?
        /// Seconds of audio the writer ring holds (absorbs a slow disk).
        public var writerRingSeconds: Double = 4
        /// Seconds of audio the analyzer ring holds.
        public var analyzerRingSeconds: Double = 2
        /// Seconds without frames before the device counts as lost.
        public var stallSeconds: Double = 2
        /// The take this recording follows on from (after a device came back).
        public var resumedFrom: String?
        /// The first take's name within `--dir`, without extension, when it follows on from
        /// the take a device loss cut (`take-003-2`); the takes after it follow `--name`.
        public var followOnName: String?
        /// `--on-take-closed`: the command run with each take and its log once closed. The
        /// recorder's, not the session's: with `--wait-device` the sessions before and after a
        /// reconnect share its queue, so their commands run in take order and a device that
        /// comes back never waits for an upload.
        public var takeHook: TakeHook?
        /// The WAVE_FORMAT_EXTENSIBLE channel mask of finished takes (`--layout`; 0: multitrack).
        public var channelMask: UInt32 = 0
        /// Test hook: runs on the writer thread before each block is written.
        public var beforeWrite: (@Sendable () -> Void)?
        /// Every warning line, none held to one a minute (``RepeatedWarnings``): for the
        /// latency benchmark, which times each clip's line.
        public var everyLine = false

        public init(settings: Settings, fileFormat: TakeFileFormat, names: [String], deviceName: String) {
            self.settings = settings
            self.fileFormat = fileFormat
            self.names = names
            self.deviceName = deviceName
        }
    }

    /// How a recording ended.
    public struct Outcome: Sendable {
        public var reason: EndReason
        /// Take files, in order.
        public var takes: [String]
        /// Clip logs, in order.
        public var logs: [String]
        public var clipEvents: Int
        /// Frames captured (the takes hold them, less any the disk refused).
        public var frames = 0
        /// What finishing the takes a killed recorder left in the folder did, a line a take.
        public var finishedLeftBehind: [String] = []
        /// SPEC's exit code: 0, or 74 after a device loss or a disk failure.
        public var exitCode: Int32 {
            switch reason {
            case .stopped, .duration: 0
            case .deviceLost, .deviceError, .disk: HeadroomError.Code.io.rawValue
            }
        }
    }

    public let source: any CaptureSource
    public let configuration: Configuration
    public let capture: CaptureThread
    /// The path of the recording's first take, created before it starts.
    public let firstTake: String
    private let registry: TakeRegistry
    private let shared: SessionShared
    private let writer: WriterLoop
    private let analyzer: AnalyzerLoop
    private var threads: [Thread] = []
    private let done = DispatchGroup()

    /// Prepares the threads (nothing runs yet). Throws when `--dir` is unusable.
    public init(source: any CaptureSource, configuration: Configuration) throws(HeadroomError) {
        self.source = source
        self.configuration = configuration
        // A recorder runs for weeks, and each take has an analyzer, a loudness meter and a
        // writer of its own: blocks of tens to hundreds of KB, made and freed take after take
        // among small ones that live on. glibc's heap kept their space, split and never given
        // back (about 25 KB more per take for 2 channels, 45 KB for 32: 6.7 GB after 250,000
        // one-second takes); mapped on their own, they go back to the system as each take ends.
        _ = hr_map_blocks_from(32 << 10)
        let settings = configuration.settings
        try Self.checkDirectory(settings.directory)
        var namer = try TakeNamer(
            directory: settings.directory,
            template: settings.nameTemplate,
            fileFormat: configuration.fileFormat
        )
        namer.followOn = configuration.followOnName
        let rate = source.rate
        let frameBytes = source.channels * source.format.bytesPerSample
        let slotBytes = source.periodFrames * frameBytes
        func slots(_ seconds: Double) -> Int { max(8, Int(seconds * Double(rate) / Double(source.periodFrames)) + 1) }
        let writerRing = SPSCRing(slots: slots(configuration.writerRingSeconds), slotBytes: slotBytes)
        let analyzerRing = SPSCRing(slots: slots(configuration.analyzerRingSeconds), slotBytes: slotBytes)
        let captureThread = CaptureThread(
            source: source,
            writerRing: writerRing,
            analyzerRing: analyzerRing,
            frameLimit: configuration.frameLimit,
            stallSeconds: configuration.stallSeconds
        )
        capture = captureThread
        let started = Date()
        registry = TakeRegistry(
            namer: namer,
            dateOfFrame: { Self.date(ofFrame: $0, rate: rate, started: started, capture: captureThread) },
            channels: source.channels,
            addsMarkers: configuration.fileFormat.carriesMarkers,
            hook: configuration.takeHook
        )
        shared = SessionShared(
            snapshot: MeterSnapshot(
                channels: configuration.names.map { MeterSnapshot.Channel(name: $0) },
                rate: rate
            )
        )
        let shared = self.shared
        let capture = self.capture
        writer = WriterLoop(
            ring: writerRing,
            registry: registry,
            format: source.format,
            fileFormat: configuration.fileFormat,
            rate: rate,
            channels: source.channels,
            maxTakeFrames: configuration.maxTakeFrames,
            description: "headroom take from \(configuration.deviceName)",
            names: configuration.names,
            channelMask: configuration.channelMask,
            onFailure: { failure in
                shared.diskFailure.withLock { if $0 == nil { $0 = failure } }
                capture.stop(.disk)
            },
            beforeWrite: configuration.beforeWrite
        )
        firstTake = try writer.prepareFirstTake()
        analyzer = AnalyzerLoop(
            ring: analyzerRing,
            registry: registry,
            settings: settings.analysis,
            format: source.format,
            rate: rate,
            channels: source.channels,
            names: configuration.names,
            device: configuration.deviceName,
            path: source.path,
            converterBits: source.converterBits,
            maxTakeFrames: configuration.maxTakeFrames,
            channelMask: configuration.channelMask,
            resumedFrom: configuration.resumedFrom,
            holdsRepeatedLines: !configuration.everyLine,
            shared: shared,
            unpaced: { capture.unpaced.load(ordering: .relaxed) }
        )
    }

    /// When `frame` was captured, by the system's clock: the clock now, less the audio
    /// captured since. Each take is named, and its log and `bext` dated, by it. Counting
    /// frames from the start instead put a take weeks into a recording as far off as the
    /// device's crystal had drifted (100 ppm: 4 minutes a month), and kept a clock that was
    /// wrong when the recording started wrong to its end (a Raspberry Pi has no clock of its
    /// own: it starts from the time it was last shut down until NTP sets it). An unpaced
    /// source (ALSA's `file` plugin) has no time but its frames: the start plus them.
    static func date(ofFrame frame: Int, rate: Int, started: Date, capture: CaptureThread) -> Date {
        if capture.unpaced.load(ordering: .relaxed) {
            return started.addingTimeInterval(Double(frame) / Double(rate))
        }
        let since = max(0, capture.frameCount.load(ordering: .relaxed) - frame)
        return Date().addingTimeInterval(-Double(since) / Double(rate))
    }

    /// `--dir` must exist (it is created when missing) and be writable: exit 73 otherwise
    /// (64 when it is empty).
    public static func checkDirectory(_ path: String) throws(HeadroomError) {
        // `--dir "$TAKES"` with the variable unset.
        guard !path.isEmpty else { throw HeadroomError(.usage, "--dir is empty: name a folder (. for this one)") }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            if let (folder, error) = FilePaths.makeFolders(path) {
                // As `mkdir -p` says it: the system's reason, and which folder, when it is not
                // the last one.
                let which = folder == path ? "" : "\(folder): "
                throw HeadroomError(
                    .cantCreate,
                    "cannot create --dir \(path): \(which)\(String(cString: strerror(error)))"
                )
            }
        } else if !isDirectory.boolValue {
            throw HeadroomError(.cantCreate, "--dir \(path) is a file, not a folder")
        }
        guard access(path, W_OK | X_OK) == 0 else {
            throw HeadroomError(
                .cantCreate,
                "cannot write takes into --dir \(path): \(String(cString: strerror(errno)))"
            )
        }
    }

    /// Starts the three threads, named so `top -H` and `perf` tell them apart (Linux
    /// allows 15 characters).
    public func start() {
        for (name, body) in [("hr-capture", capture.run), ("hr-writer", writer.run), ("hr-analyzer", analyzer.run)] {
            done.enter()
            let group = done
            let thread = Thread {
                Self.nameThisThread(name)
                body()
                group.leave()
            }
            thread.name = name
            thread.stackSize = 1 << 20
            threads.append(thread)
            thread.start()
        }
        // Once per recorder, not again for each take that follows a reconnect.
        if configuration.resumedFrom == nil { registry.finishLeftBehind(settings: configuration.settings) }
    }

    /// Names the calling thread (`/proc/thread-self/comm`, what `pthread_setname_np` does;
    /// Foundation's `Thread.name` is not what `top -H` and `perf` show).
    static func nameThisThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        _ = name.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    /// The metadata the analyzer thread handed over for each take (its loudness measured
    /// while recording, or nil where the finisher measures the file), in order.
    var takeMetadata: [TakeMetadata?] { registry.all.map(\.metadata) }

    /// Ends the recording (Ctrl-C, SIGTERM, `q`): the take is closed cleanly.
    public func stop() { capture.stop(.stopped) }

    /// Closes the current take and starts the next one, without losing a frame (`n`).
    public func nextTake() { capture.splitRequested.store(true, ordering: .relaxed) }

    /// Drops a marker at the frame being captured now (the `m` key, SIGUSR2). Never
    /// waits on the capture thread: it reads the capture position and leaves the rest
    /// to the analyzer thread.
    public func mark(label: String?) {
        mark(label: label, at: currentFrame)
    }

    /// Drops a marker at `frame` (a ``currentFrame`` taken earlier: the moment the `m` key
    /// was pressed, before its label was typed).
    public func mark(label: String?, at frame: Int) {
        shared.markerRequests.withLock { $0.append((frame, label)) }
    }

    /// The `m` key on the meter: takes this moment for a marker whose label is typed next
    /// (``labelMarker(_:)``, as each key is typed), then asked for with Enter
    /// (``commitMarker()``) or dropped with Esc (``cancelMarker()``). The label being typed
    /// loses nothing: the take the moment falls in is held open for it if it closes
    /// meanwhile (a `--max-take-seconds` split, SIGUSR1), for up to
    /// ``RecordingSession/draftHoldSeconds``, and a recording that ends meanwhile (its
    /// `--duration`, Ctrl-C) logs it with the label typed so far.
    public func beginMarker(at frame: Int? = nil) {
        let frame = frame ?? currentFrame
        shared.markerDraft.withLock { $0 = (frame, "", MonotonicClock.now()) }
    }

    /// The label of the marker begun with ``beginMarker(at:)``, as typed so far.
    public func labelMarker(_ label: String) {
        shared.markerDraft.withLock { $0?.label = label }
    }

    /// Asks for the marker begun with ``beginMarker(at:)``, with its label (Enter).
    public func commitMarker() { shared.commitDraft() }

    /// Drops the marker begun with ``beginMarker(at:)`` (Esc).
    public func cancelMarker() { shared.markerDraft.withLock { $0 = nil } }

    /// How long a closed take waits for the label of a marker that falls in it; past that
    /// it is finished (its cue markers written, `--on-take-closed` run), and the marker
    /// goes at the start of the take being recorded when its label is done.
    public static let draftHoldSeconds = 60.0

    /// Frames captured since the recording started.
    public var currentFrame: Int { capture.frameCount.load(ordering: .relaxed) }

    /// Seconds the writer has been in one call to the disk (a write, a header update, a
    /// close), 0 between calls: a disk that stopped answering (a network share gone, a
    /// failing disk) shows here while the rest of the recorder goes on.
    public var diskStalledSeconds: Double {
        let began = Double(bitPattern: writer.diskCallBegan.load(ordering: .relaxed))
        return began == 0 ? 0 : max(0, MonotonicClock.now() - began)
    }

    /// The folder takes go to: `--dir`, or its new name when it was renamed while recording.
    public var directory: String { registry.directory }

    /// True once every thread has finished.
    public var isFinished: Bool { done.wait(timeout: .now()) == .success }

    /// Waits up to `seconds` for the recording to end; true when it has.
    public func wait(seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }

    /// Waits for the end and says how it went, once every take is finished (its
    /// `--on-take-closed` command queued: the recorder that owns the ``TakeHook`` waits for
    /// those, once, when it ends, so that a device lost under `--wait-device` is waited for
    /// at once).
    public func outcome() -> Outcome {
        done.wait()
        registry.waitFinished()
        let takes = registry.kept
        let reason =
            analyzer.endReason ?? EndReason(rawValue: capture.requestedEnd.load(ordering: .relaxed)) ?? .stopped
        return Outcome(
            reason: reason,
            takes: takes.map(\.file),
            logs: takes.map(\.log),
            clipEvents: takes.reduce(0) { $0 + $1.clipEvents },
            frames: currentFrame,
            finishedLeftBehind: registry.leftBehind.withLock { $0 }
        )
    }

    /// What the meter shows now; the peaks since the last call start again from here.
    public func snapshot() -> MeterSnapshot {
        shared.snapshot.withLock { s in
            let copy = s
            for c in s.channels.indices { s.channels[c].truePeakSinceRead = 0 }
            return copy
        }
    }

    /// A descriptor that turns readable when a warning or a meter latch is waiting (poll it
    /// beside the keyboard; ``waitForAttention(seconds:)`` also empties it).
    public var attentionDescriptor: Int32 { shared.attention }

    /// Waits up to `seconds` for a warning, a meter latch or the end of the recording; true
    /// when something came. A terminal that sleeps here shows a clip within a period or two
    /// of the analyzer seeing it, not on the next tick of a timer.
    @discardableResult
    public func waitForAttention(seconds: Double) -> Bool {
        guard shared.attention >= 0 else { return wait(seconds: seconds) }
        var pfd = pollfd(fd: shared.attention, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, Int32(seconds * 1000))
        Self.drainAttention(shared.attention)
        return ready > 0
    }

    /// Empties an attention descriptor that poll found readable.
    public static func drainAttention(_ fd: Int32) {
        var bytes = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &bytes, { read(fd, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// Warning lines since the last call, oldest first.
    public func takeWarnings() -> [String] {
        var lines = shared.warnings.withLock { w -> [String] in
            defer { w.removeAll() }
            return w
        }
        lines += registry.problems.withLock { p -> [String] in
            defer { p.removeAll() }
            return p
        }
        lines += registry.hook?.failures() ?? []
        return lines
    }

    /// The takes finished since the last call (file and log, by their names now), oldest
    /// first: cue markers and metadata in, `--on-take-closed` started.
    public func finishedTakes() -> [(file: String, log: String)] {
        registry.finished.withLock { f in
            defer { f.removeAll() }
            return f
        }
    }

    /// 1 when the capture thread runs with real-time priority, -1 when refused, 0 not yet known.
    public var realtimeStatus: Int { capture.realtime.load(ordering: .relaxed) }
}
