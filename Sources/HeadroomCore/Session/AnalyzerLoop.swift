import Foundation
import Synchronization

/// The analyzer thread: takes blocks from the analyzer ring, runs the per-channel
/// ``Analyzer``, and writes each take's clip log as things happen: the `take` header,
/// events as they become final, losses (`xrun`, `gap`, `dropped`), how it ended
/// (`device_lost`, `disk`) and the `summary`. It also publishes the live meter's
/// snapshot and the warning lines.
final class AnalyzerLoop: @unchecked Sendable {
    let ring: SPSCRing
    let registry: TakeRegistry
    let settings: AnalysisSettings
    let layout: SampleLayout
    /// The converter's bits when fewer than the layout's (``CaptureSource/converterBits``).
    let converterBits: Int?
    let format: SampleFormat
    let rate: Int
    let channels: Int
    let names: [String]
    let device: String
    /// The `resumed` line for the first take (after a device came back).
    let resumedFrom: String?
    let shared: SessionShared

    private var analyzer: Analyzer?
    private var log: ClipLogFile?
    private var take: TakeRegistry.Take?
    private var takeIndex = 0
    private var boundary: TakeBoundary
    private var globalFrame = 0
    private var trouble = ClipLog.Trouble()
    private var markers: [CueMarkers.Marker] = []
    /// Qualifying clip runs seen in this take, and in the whole recording, per channel.
    private var takeRuns: [Int]
    private var sessionRuns: [Int]
    /// Flat events counted in this take, and in the whole recording, per channel (as the log
    /// has them: ``ChannelLevels/flatEvents``), and the newest a FLAT line named in this take
    /// (``ChannelLevels/newestFlatEvent``).
    private var takeFlats: [Int]
    private var sessionFlats: [Int]
    private var takeFlatLines: [Int]
    private var sessionHotEvents: [Int]
    private var sessionClippedSamples: [Int]
    /// The largest block peak of about the last second, and when it was seen.
    private var recentPeaks: [(value: Float, time: Double)]
    private var sessionClipEvents: [Int]
    private var wasClipping: [Bool]
    /// The first frame of the hot burst a "still hot" line named, per channel (-1: none).
    private var hotLines: [Int]
    /// The lines a channel repeats held to one a minute, per take (unless not
    /// `holdsRepeatedLines`).
    private var repeated: RepeatedWarnings
    private let holdsRepeatedLines: Bool
    private var lastSync = 0.0
    /// The capture PCM's chain, for the `take` header.
    private let path: [String]
    /// `--layout`'s channel mask for finished takes.
    private let channelMask: UInt32
    private let zeros: UnsafeMutableRawPointer
    private let zeroFrames = 4096
    /// The take's programme loudness (for `bext`), measured here from the frames the take
    /// gets, converted to the very floats libsndfile reads back from it, so the figures are
    /// the ones `review` measures and a long take is not read again once it is closed. Nil
    /// when the take's frames are not the analyzed ones (a drop, a disk failure): the
    /// finisher then measures the file.
    private var loudness: LoudnessMeter?
    /// True while the frames being analyzed are not the take's: silence analyzed for frames
    /// the take has (`dropped`), or frames the take lost (the writer fell behind).
    private var framesDifferFromTake = false
    /// Whether the source runs faster than real time (ALSA's `file` plugin): capture and the
    /// writer are then as busy as this thread.
    private let unpaced: @Sendable () -> Bool
    /// Cores for capture, the writer and two analyzer threads at once.
    private let coresToSpare = ProcessInfo.processInfo.activeProcessorCount >= 4

    init(
        ring: SPSCRing,
        registry: TakeRegistry,
        settings: AnalysisSettings,
        format: SampleFormat,
        rate: Int,
        channels: Int,
        names: [String],
        device: String,
        path: [String],
        converterBits: Int? = nil,
        maxTakeFrames: Int?,
        channelMask: UInt32 = 0,
        resumedFrom: String?,
        holdsRepeatedLines: Bool = true,
        shared: SessionShared,
        unpaced: @escaping @Sendable () -> Bool
    ) {
        self.unpaced = unpaced
        self.ring = ring
        self.registry = registry
        self.settings = settings
        self.format = format
        layout = format.layout
        self.rate = rate
        self.channels = channels
        self.names = names
        self.device = device
        self.path = path
        self.converterBits = converterBits
        self.channelMask = channelMask
        boundary = TakeBoundary(maxFrames: maxTakeFrames)
        self.resumedFrom = resumedFrom
        self.shared = shared
        takeRuns = Array(repeating: 0, count: channels)
        sessionRuns = Array(repeating: 0, count: channels)
        takeFlats = Array(repeating: 0, count: channels)
        takeFlatLines = takeFlats
        sessionFlats = Array(repeating: 0, count: channels)
        sessionHotEvents = Array(repeating: 0, count: channels)
        sessionClippedSamples = Array(repeating: 0, count: channels)
        recentPeaks = Array(repeating: (0, 0), count: channels)
        sessionClipEvents = Array(repeating: 0, count: channels)
        wasClipping = Array(repeating: false, count: channels)
        hotLines = Array(repeating: -1, count: channels)
        repeated = RepeatedWarnings(rate: rate)
        self.holdsRepeatedLines = holdsRepeatedLines
        zeros = .allocate(byteCount: zeroFrames * channels * format.bytesPerSample, alignment: 64)
        zeros.initializeMemory(as: UInt8.self, repeating: 0, count: zeroFrames * channels * format.bytesPerSample)
    }

    deinit {
        zeros.deallocate()
    }

    func run() {
        openTake()
        while true {
            guard let (header, payload) = ring.next(timeoutMilliseconds: 250) else {
                tick()
                continue
            }
            if header.splitBefore && boundary.frames > 0 { closeTake(complete: false) }
            // The last block leaves the take closed before it open to markers asked for at
            // the recording's end; `finish` settles it.
            if !closing.isEmpty && !header.isLast { settleClosedTakes(waitingForWriter: false) }
            if header.lostFrames > 0 || header.loss != .none { lost(header) }
            if header.missingFromTake {
                if takeDrop == nil { takeDrop = (boundary.frames, 0) }
                takeDrop!.frames += header.frames
            } else {
                flushTakeDrop()
            }
            // Two analyzer threads only while blocks queue up behind this one, and only where
            // a core is free for the second: from an unpaced source the capture and writer
            // threads never rest, and on fewer than four cores the pair waited on each other
            // in turn (an unpaced 32-channel take at 96 kHz on two: 0.44 s with two analyzer
            // threads, 0.37 s with one).
            analyzer?.splitsBlocks = ring.fill > 2 && (coresToSpare || !unpaced())
            framesDifferFromTake = header.missingFromTake
            if header.frames > 0 { append(payload, frames: header.frames) }
            framesDifferFromTake = false
            ring.release()
            logMarkers(upTo: globalFrame)
            if header.isLast {
                // A marker whose label is still being typed is logged with what was typed.
                shared.commitDraft()
                logMarkers(upTo: .max)
                finish(header.endReason)
                break
            }
            // The meter redraws 15 times a second: publishing every 10 ms is plenty, even
            // when an unpaced source runs far faster than real time. Each block's peak is
            // kept until then, so no short peak is lost between publishes.
            if let analyzer {
                for c in 0..<channels {
                    pendingPeaks[c] = max(pendingPeaks[c], analyzer.blockTruePeak(channel: c))
                }
            }
            let now = MonotonicClock.now()
            if latched || now - lastPublish >= 0.01 {
                publish()
                lastPublish = now
                // A new CLIP or FLAT latch is on the meter at once, not at the next redraw.
                if latched { shared.attend() }
                latched = false
            }
            tick()
        }
    }

    private var lastPublish = 0.0
    /// A clip run qualified or a flat event opened since the last publish.
    private var latched = false
    private lazy var pendingPeaks = [Float](repeating: 0, count: channels)

    private func tick() {
        let now = MonotonicClock.now()
        if now - lastSync >= 1 {
            log?.sync()
            for note in log?.takeNotes() ?? [] { warn(note) }
            lastSync = now
        }
    }

    // MARK: Takes

    private func openTake() {
        let t = registry.take(takeIndex, startFrame: globalFrame)
        take = t
        boundary.startTake()
        trouble = ClipLog.Trouble()
        markers = []
        for c in 0..<channels {
            takeRuns[c] = 0
            takeFlats[c] = 0
            takeFlatLines[c] = 0
            hotLines[c] = -1
        }
        loudness = registry.addsMarkers ? LoudnessMeter(channels: channels, rate: rate) : nil
        analyzer = Analyzer(
            channels: channels,
            rate: rate,
            layout: layout,
            settings: settings,
            maxBlockFrames: 2048,
            // A second analyzer thread shares each block's work while the loop is behind
            // (`splitsBlocks`, set per block); in real time it sleeps.
            threads: ProcessInfo.processInfo.activeProcessorCount >= 2 ? 2 : 1,
            converterBits: converterBits
        )
        let fd = registry.claimLog(takeIndex)
        log = fd >= 0 ? ClipLogFile(fd: fd, path: t.log, channels: channels) : nil
        let header = ClipLog.Header(
            file: URL(fileURLWithPath: t.file).lastPathComponent,
            device: device,
            rate: rate,
            channels: channels,
            format: format.rawValue,
            names: names,
            started: t.startDate,
            settings: settings,
            path: path
        )
        log?.append(ClipLog.headerLine(header))
        if takeIndex == 0, let resumedFrom {
            emit(.resumed(frame: 0, previous: resumedFrom))
        }
        shared.snapshot.withLock {
            $0.takeName = URL(fileURLWithPath: t.file).lastPathComponent
            $0.takeIndex = takeIndex
            $0.takes = takeIndex + 1
            $0.takeFrames = 0
        }
    }

    /// Frames the writer could not take (silence in the take), logged once the run of them ends.
    private var takeDrop: (frame: Int, frames: Int)?

    private func flushTakeDrop() {
        guard let drop = takeDrop else { return }
        takeDrop = nil
        trouble.droppedFrames += drop.frames
        emit(.dropped(frame: drop.frame, lostFrames: drop.frames))
        let seconds = String(format: "%.3f", Double(drop.frames) / Double(rate))
        if shows(.init(kind: .dropped, channel: -1), at: drop.frame, frames: drop.frames) {
            warn(
                "DROPPED: the disk fell behind; \(drop.frames) frames (\(seconds) s) are silence in the take at \(Self.timecode(drop.frame, rate: rate))"
            )
        }
        shared.snapshot.withLock {
            $0.droppedFrames += drop.frames
            $0.drops += 1
        }
    }

    /// A take the analyzer is done with, waiting for the writer to be done with it too: only
    /// the writer knows how many frames the file holds, and it can fail on a full disk after
    /// the analyzer has moved on to the next take, or after the capture has ended. Its log
    /// stays open until then, and its summary says what the file holds.
    private struct ClosingTake {
        var index: Int
        /// The recording's frame the take starts at.
        var start: Int
        var log: ClipLogFile?
        var logPath: String
        /// The frames analyzed.
        var frames: Int
        var complete: Bool
        var summaries: [ChannelSummary]
        var trouble: ClipLog.Trouble
        var markers: [CueMarkers.Marker]
        var metadata: TakeMetadata?

        /// An event that comes after the take's last frame was analyzed (a `disk` line, a
        /// marker asked for at its end): into its log, and a cue marker as every event gets.
        mutating func append(_ event: Event, names: [String], rate: Int) {
            log?.append(event, names: names, rate: rate)
            if let cue = CueMarkers.Marker(event, names: names, rate: rate) { markers.append(cue) }
        }
    }
    private var closing: [ClosingTake] = []
    /// Why the writer failed, once a take it failed in has been settled.
    private var writerFailure: String?

    private func closeTake(complete: Bool, ending: Event? = nil) {
        guard let analyzer else { return }
        flushTakeDrop()
        analyzer.finish()
        drain()
        // Said as the take closes, when the next take may already be on the meter and in the
        // journal's names: these name theirs.
        let closingName = take.map { URL(fileURLWithPath: $0.file).lastPathComponent }
        for held in repeated.finish(at: boundary.frames) { warn(repeatedLine(held, take: closingName)) }
        if let ending { emit(ending) }
        let summaries = (0..<channels).map { analyzer.summary(channel: $0) }
        var metadata: TakeMetadata? = nil
        if let t = take, registry.addsMarkers {
            metadata = TakeMetadata(
                take: t.file,
                start: t.startDate,
                number: takeIndex + 1,
                names: names,
                rate: rate,
                bitDepth: layout.bits ?? 32,
                channelMask: channelMask
            )
            metadata?.loudness = loudness?.programme  // nil: measured from the file (TakeRegistry.finish)
            metadata?.maxTruePeakDBTP = summaries.compactMap(\.truePeakDBTP).max()
        }
        closing.append(
            ClosingTake(
                index: takeIndex,
                start: globalFrame - boundary.frames,
                log: log,
                logPath: take?.log ?? "log",
                frames: boundary.frames,
                complete: complete,
                summaries: summaries,
                trouble: trouble,
                markers: markers,
                metadata: metadata
            )
        )
        log = nil
        self.analyzer = nil
        loudness = nil
        takeIndex += 1
        boundary.startTake()
    }

    /// Ends the logs of the closed takes the writer is done with too, in order; with
    /// `waitingForWriter` (at the end of the recording, when nothing is left to analyze),
    /// once the writer has finished. Where the writer failed (a full disk), the take's log
    /// gets a `disk` line at the frames the file holds, and its summary counts those.
    /// Until then, a take holding the frame of a marker not yet logged waits for it: one
    /// whose label is still being typed (``RecordingSession/beginMarker(at:)``, for up to
    /// ``RecordingSession/draftHoldSeconds``), or one asked for and due at this block.
    private func settleClosedTakes(waitingForWriter: Bool) {
        if waitingForWriter { registry.waitForWriter() }
        var waiting: [Int] = []
        if !waitingForWriter {
            // The draft first: Enter moves it to the requests under its lock, so it is
            // seen in one or the other.
            let now = MonotonicClock.now()
            if let draft = shared.markerDraft.withLock({ $0 }), now - draft.began < RecordingSession.draftHoldSeconds {
                waiting.append(draft.frame)
            }
            waiting += shared.markerRequests.withLock { $0.map(\.frame) }
        }
        while let first = closing.first, let written = registry.writerOutcome(first.index) {
            if waiting.contains(where: { first.start..<(first.start + first.frames) ~= $0 }) { break }
            closing.removeFirst()
            var c = first
            var frames = c.frames
            if let failure = written.failure {
                frames = min(frames, written.frames)
                c.complete = false
                // The loudness measured here is of frames the file does not all hold: the
                // finisher measures the file instead.
                c.metadata?.loudness = nil
                c.append(.disk(frame: frames, reason: failure), names: names, rate: rate)
                if writerFailure == nil { writerFailure = failure }
            }
            c.log?.append(
                ClipLog.summaryLine(
                    frames: frames,
                    rate: rate,
                    complete: c.complete,
                    channels: c.summaries,
                    names: names,
                    trouble: c.trouble
                )
            )
            c.log?.close()
            for note in c.log?.takeNotes() ?? [] { warn(note) }
            if let failure = c.log?.failure { warn("\(c.logPath): \(failure)") }
            registry.analyzerClosed(
                c.index,
                markers: c.markers,
                complete: c.complete,
                clipEvents: c.summaries.reduce(0) { $0 + $1.clipEvents },
                metadata: c.metadata
            )
        }
    }

    /// How the recording ended, once the last block has been seen.
    private(set) var endReason: EndReason? {
        get { endReasonStorage.withLock { $0 } }
        set { endReasonStorage.withLock { $0 = newValue } }
    }
    private let endReasonStorage = Mutex<EndReason?>(nil)

    private func finish(_ reason: EndReason) {
        defer { shared.attend() }
        endReason = reason
        // No take is open when the recording ended just where one was closed (a --duration
        // that is a whole number of --max-take-seconds parts): none is made for no frames.
        switch reason {
        case .duration:
            closeTake(complete: true)
        case .stopped:
            closeTake(complete: false)
        case .deviceLost, .deviceError:
            let why = reason == .deviceLost ? "the device stopped delivering frames or went away" : "the device failed"
            warn("DEVICE LOST: \(device): \(why); take closed at \(Self.timecode(boundary.frames, rate: rate))")
            closeTake(complete: false, ending: .deviceLost(frame: boundary.frames, reason: why))
        case .disk:
            // The take the writer failed in gets its `disk` line once the writer is done.
            let message = shared.diskFailure.withLock { $0 } ?? "write failed"
            warn("DISK: \(message)")
            closeTake(complete: false)
        }
        settleClosedTakes(waitingForWriter: true)
        // A write that failed after the last frame was captured (the writer behind the
        // analyzer, on a slow or full disk) ends the recording as a disk failure too.
        if let writerFailure, reason != .disk {
            warn("DISK: \(writerFailure)")
            if reason == .duration || reason == .stopped { endReason = .disk }
        }
        publish()
    }

    /// Logs the markers asked for at global frames below `frame`, in the take that holds
    /// their frame: the take being analyzed, or a closed take not yet settled (one whose
    /// marker label was being typed when it closed). One asked for at a frame of a take
    /// already settled lands at the start of the take being analyzed. At the end of a
    /// recording that ended where a take was closed, the ones asked for after its last frame
    /// go at the end of that take (its log is left open for them until `finish`).
    private func logMarkers(upTo frame: Int) {
        let due = shared.markerRequests.withLock { requests -> [(frame: Int, label: String?)] in
            guard !requests.isEmpty else { return [] }
            let due = requests.filter { $0.frame < frame }
            requests.removeAll { $0.frame < frame }
            return due
        }
        for request in due {
            let closed = closing.lastIndex { $0.start..<($0.start + $0.frames) ~= request.frame }
            if let i = closed ?? (frame == .max && analyzer == nil ? closing.indices.last : nil) {
                let at = min(max(0, request.frame - closing[i].start), closing[i].frames)
                closing[i].append(.marker(frame: at, label: request.label), names: names, rate: rate)
                warnMarker(request.label, at: at)
                continue
            }
            if frame == .max && analyzer == nil {
                warn("MARKER\(request.label.map { " \($0)" } ?? ""): not logged: no take was open")
                continue
            }
            if analyzer == nil { openTake() }
            let takeStart = globalFrame - boundary.frames
            let at = min(max(0, request.frame - takeStart), boundary.frames)
            emit(.marker(frame: at, label: request.label))
            warnMarker(request.label, at: at, moved: request.frame < takeStart)
        }
    }

    /// The line a marker gets as it is logged: `MARKER chorus 2 at 00:01:12.480`; `moved`:
    /// its take was finished before its label was done, and it went into the next.
    private func warnMarker(_ label: String?, at frame: Int, moved: Bool = false) {
        let note = moved ? " (the start of this take: the take it marked was finished before its label was done)" : ""
        warn("MARKER\(label.map { " \($0)" } ?? "") at \(Self.timecode(frame, rate: rate))\(note)")
    }

    // MARK: Frames

    private func lost(_ header: AudioBlock) {
        let event: Event
        let kind: RepeatedWarnings.Kind
        switch header.loss {
        case .xrun:
            trouble.xruns += 1
            (event, kind) = (.xrun(frame: boundary.frames, lostFrames: header.lostFrames), .xrun)
        case .gap, .none:
            trouble.gaps += 1
            (event, kind) = (.gap(frame: boundary.frames, lostFrames: header.lostFrames), .gap)
        case .dropped:
            // The analyzer's ring overflowed: the take has these frames, the analysis does not.
            (event, kind) = (.analysisDropped(frame: boundary.frames, lostFrames: header.lostFrames), .dropped)
        }
        emit(event)
        let seconds = String(format: "%.3f", Double(header.lostFrames) / Double(rate))
        if shows(.init(kind: kind, channel: -1), at: boundary.frames, frames: header.lostFrames) {
            warn(
                "\(kind.rawValue): \(header.lostFrames) frames (\(seconds) s) lost at \(Self.timecode(boundary.frames, rate: rate))"
            )
        }
        shared.snapshot.withLock {
            switch header.loss {
            case .xrun:
                $0.xruns += 1
                $0.xrunFrames += header.lostFrames
            case .dropped: break  // the take has these frames; only the analysis lost them
            default:
                $0.gaps += 1
                $0.gapFrames += header.lostFrames
            }
        }
        // The take stays time-accurate: the writer wrote silence, and so we analyze silence
        // (except where only the analysis lost the frames).
        framesDifferFromTake = header.loss == .dropped
        defer { framesDifferFromTake = false }
        var left = header.lostFrames
        while left > 0 {
            let n = min(left, zeroFrames)
            append(zeros, frames: n)
            left -= n
        }
    }

    /// Feeds frames, splitting at `--max-take-seconds`.
    private func append(_ payload: UnsafeRawPointer, frames: Int) {
        let frameBytes = channels * format.bytesPerSample
        var done = 0
        while done < frames {
            if analyzer == nil { openTake() }
            let n = boundary.fit(frames - done)
            if framesDifferFromTake { loudness = nil }
            if let loudness {
                // On this thread while the second analyzer thread has its share of the block.
                analyzer!.process(payload + done * frameBytes, frames: n) { block, frames in
                    loudness.add(block, frames: frames, layout: self.layout)
                }
            } else {
                analyzer!.process(payload + done * frameBytes, frames: n)
            }
            drain()
            done += n
            globalFrame += n
            if boundary.advance(n) {
                // A marker asked for at one of the take's frames goes into it, not the next.
                logMarkers(upTo: globalFrame)
                closeTake(complete: true)
            }
        }
    }

    private func drain() {
        guard let analyzer else { return }
        for event in analyzer.events { emit(event) }
        analyzer.events.removeAll(keepingCapacity: true)
        // Shout the moment a run qualifies, before its event closes, naming where it began.
        for c in 0..<channels {
            let levels = analyzer.levels(channel: c)
            let runs = levels.qualifiedRuns
            if runs > takeRuns[c] {
                sessionRuns[c] += runs - takeRuns[c]
                takeRuns[c] = runs
                latched = true
                // One line when a channel starts clipping, not one per over inside the same event.
                if !wasClipping[c] {
                    let since = levels.clippingSince ?? analyzer.frameCount
                    if shows(.init(kind: .clip, channel: c), at: since) {
                        warn("CLIP: \(EventText.channel(c, names: names)) at \(Self.timecode(since, rate: rate))")
                    }
                }
            }
            wasClipping[c] = levels.isClipping
            // A burst that goes on (a held note, a tone, feedback) has its HOT line when it
            // ends; one that has lasted a second is shouted then too, once.
            if let since = levels.hotSince, hotLines[c] != since, !levels.isClipping,
                analyzer.frameCount - since >= rate, !repeated.isHolding(.init(kind: .hot, channel: c))
            {
                hotLines[c] = since
                let peak = Decibels.fromAmplitude(Double(levels.hotTruePeak)).map(Decibels.text) ?? "?"
                warn(
                    "HOT: \(EventText.channel(c, names: names)) at \(peak) dBTP since \(Self.timecode(since, rate: rate)), still hot"
                )
            }
            // Counted as the log will have them (a later alarm can join events opened), and a
            // line for each new event (not for one already joined to an earlier one).
            sessionFlats[c] += levels.flatEvents - takeFlats[c]
            takeFlats[c] = levels.flatEvents
            if levels.newestFlatEvent > takeFlatLines[c] {
                takeFlatLines[c] = levels.newestFlatEvent
                latched = true
                let level = levels.flatLevelDBFS.map(Decibels.text) ?? "?"
                let cause = GainAdvisor.flatCause(levelDBFS: levels.flatLevelDBFS)
                // When the flat tops began (the event's start_frame), not when they were seen:
                // a pile-up at the clip level is judged a second after the tops it counts.
                let start = levels.flatStartFrame ?? analyzer.frameCount
                if shows(.init(kind: .flat, channel: c), at: start, worst: levels.flatLevelDBFS) {
                    let at = Self.timecode(start, rate: rate)
                    warn("FLAT: \(EventText.channel(c, names: names)) flat tops at \(level) dBFS: \(cause) at \(at)")
                }
            }
        }
        for held in repeated.due(at: analyzer.frameCount) { warn(repeatedLine(held)) }
    }

    /// Whether an event's line is shown, or counted for a line a minute
    /// (``RepeatedWarnings``); the line that says so comes in its place.
    private func shows(_ key: RepeatedWarnings.Key, at frame: Int, worst: Double? = nil, frames: Int = 0) -> Bool {
        guard holdsRepeatedLines else { return true }
        switch repeated.admit(key, at: frame, worst: worst, frames: frames) {
        case .show:
            return true
        case .held:
            return false
        case .holdFromNow:
            let who = key.channel >= 0 ? "\(EventText.channel(key.channel, names: names)) " : ""
            let what =
                switch key.kind {
                case .clip: "clips"
                case .hot: "runs hot"
                case .flat: "has flat tops"
                case .xrun: "overruns"
                case .gap: "has gaps"
                case .dropped: "drops frames"
                }
            warn(
                "\(key.kind.rawValue): \(who)\(what) again and again: from \(Self.timecode(frame, rate: rate)), one line a minute counts them (the take's log has each)"
            )
            return false
        }
    }

    /// The once-a-minute line for events whose lines were held: how many, and how bad.
    private func repeatedLine(_ held: RepeatedWarnings.Held, take: String? = nil) -> String {
        let who = held.key.channel >= 0 ? "\(EventText.channel(held.key.channel, names: names)) " : ""
        let times = held.count == 1 ? "once more" : "\(held.count) more times"
        let span =
            "from \(Self.timecode(held.from, rate: rate)) to \(Self.timecode(held.to, rate: rate))"
            + (take.map { " of \($0)" } ?? "")
        let worst = held.worst.map(Decibels.text) ?? "?"
        switch held.key.kind {
        case .clip:
            let proposal =
                analyzer.map { SummaryTable.proposalText($0.summary(channel: held.key.channel).proposal) } ?? ""
            return "CLIP: \(who)clipped \(times) \(span): proposal \(proposal)"
        case .hot:
            return "HOT: \(who)ran hot \(times) \(span), up to \(worst) dBTP"
        case .flat:
            return "FLAT: \(who)had flat tops \(times) \(span), at up to \(worst) dBFS"
        case .xrun, .gap, .dropped:
            let seconds = String(format: "%.3f", Double(held.frames) / Double(rate))
            return "\(held.key.kind.rawValue): \(times) \(span), \(held.frames) frames (\(seconds) s) in all"
        }
    }

    private func emit(_ event: Event) {
        log?.append(event, names: names, rate: rate)
        // Every event a person would look for is a labelled cue in the take (spans as regions).
        if let marker = CueMarkers.Marker(event, names: names, rate: rate) { markers.append(marker) }
        switch event {
        case .clip(let e):
            sessionClipEvents[e.channel] += 1
            sessionClippedSamples[e.channel] += e.clippedSamples
            // The qualifying moment was shouted already; now how far over it went.
            let figure: String? =
                switch SummaryTable.OverReading(over: e.overDB, bound: e.overBound) {
                case nil: nil
                case .underATenth: "under 0.1"
                case .about(let over): String(format: "%+.1f", over)
                case .atLeast(let over): String(format: ">=%+.1f", over)
                }
            // Held with its CLIP line: holding starts at an event's first line and ends a
            // minute after the last one held.
            if let figure, !repeated.isHolding(.init(kind: .clip, channel: e.channel)) {
                let proposal = analyzer.map { SummaryTable.proposalText($0.summary(channel: e.channel).proposal) } ?? ""
                warn(
                    "CLIP \(EventText.channel(e.channel, names: names)) \(figure) dB over at \(Self.timecode(e.startFrame, rate: rate)): proposal \(proposal)"
                )
            }
        case .hot(let e):
            sessionHotEvents[e.channel] += 1
            if shows(.init(kind: .hot, channel: e.channel), at: e.startFrame, worst: e.truePeakDBTP) {
                warn(
                    "HOT: \(EventText.channel(e.channel, names: names)) reached \(Decibels.text(e.truePeakDBTP)) dBTP at \(Self.timecode(e.startFrame, rate: rate))"
                )
            }
        default:
            break
        }
    }

    private func warn(_ line: String) {
        shared.warnings.withLock { $0.append(line) }
        shared.attend()
    }

    private func publish() {
        guard let analyzer else { return }
        let now = MonotonicClock.now()
        shared.snapshot.withLock { s in
            s.takeFrames = boundary.frames
            for c in 0..<channels {
                let l = analyzer.levels(channel: c)
                s.channels[c].blockPeak = l.blockPeak
                s.channels[c].blockTruePeak = l.blockTruePeak
                s.channels[c].truePeakSinceRead = max(
                    s.channels[c].truePeakSinceRead,
                    max(l.blockTruePeak, pendingPeaks[c])
                )
                pendingPeaks[c] = 0
                s.channels[c].takeTruePeak = max(l.truePeak, l.samplePeak)
                s.channels[c].clipRuns = sessionRuns[c]
                s.channels[c].clipEvents = sessionClipEvents[c]
                s.channels[c].isClipping = l.isClipping
                s.channels[c].flatEvents = sessionFlats[c]
                s.channels[c].hotEvents = sessionHotEvents[c]
                // Events are drained before this, so the closed ones are in the session's count.
                s.channels[c].clippedSamples = sessionClippedSamples[c] + l.openClippedSamples
                // The peak of about the last second: the largest block peak, replaced once it is a second old.
                if l.blockPeak >= recentPeaks[c].value || now - recentPeaks[c].time >= 1 {
                    recentPeaks[c] = (l.blockPeak, now)
                }
                s.channels[c].peakLastSecond = recentPeaks[c].value
                s.channels[c].proposal = analyzer.summary(channel: c).proposal
            }
        }
    }

    /// `hh:mm:ss.mmm` for a frame of the take.
    static func timecode(_ frame: Int, rate: Int) -> String {
        EventText.timecode(seconds: Double(frame) / Double(rate))
    }
}
