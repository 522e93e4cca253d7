import Foundation

/// One take as `review` sees it: its audio file, its clip log (or a fresh analysis when
/// there is none), and what went wrong.
public struct TakeReview: Sendable {
    public struct Channel: Sendable {
        public var channel: Int
        public var name: String
        public var clipEvents: Int
        public var hotEvents: Int
        public var truePeakDBTP: Double?
        public var flatEvents = 0
        /// Estimated overshoot of the channel's clips (or of its flat tops), dB.
        public var overDB: Double? = nil
        public var overBound = false
        public var flatLevelDBFS: Double? = nil
        /// Integrated loudness (LUFS) and loudness range (LU), by libebur128.
        public var loudness: Loudness.Channel? = nil
    }

    public var file: String
    public var log: String?
    public var seconds: Double
    /// Seconds of audio the take's file holds, as libsndfile reads it: less than `seconds`
    /// in a copy cut short; nil when the file is missing or cannot be read.
    public var audioSeconds: Double? = nil
    /// When the take began: its log's, UTC to the millisecond (`2026-11-24T15:30:00.000Z`); for
    /// a take without a log, the BWF `bext` date and time it carries, on its recorder's clock
    /// (`2026-11-20T14:05:33`, no zone); nil without either.
    public var started: String?
    public var rate: Int
    /// The summary's `complete` (false when the log was cut off).
    public var complete: Bool
    /// What the take's log could say of it: `log_state` in `review --json`.
    public enum LogState: String, Sendable {
        /// The log ends with its summary.
        case complete
        /// No summary: the recorder was killed.
        case cutOff = "cut_off"
        /// No summary yet: a recorder has the take open; the figures are the log's so far.
        case recording
        /// No usable log: the audio was analyzed afresh.
        case missing

        /// Whether the log has its summary, or the analysis stands in for it: otherwise only
        /// the events' true peaks are known.
        public var isWhole: Bool { self == .complete || self == .missing }
    }
    public var logState: LogState
    public var channels: [Channel]
    public var xruns = 0
    public var gaps = 0
    public var droppedFrames = 0
    /// How it ended: "device lost", "disk full", "audio missing" (the log is there, the take's
    /// file is not), "audio unreadable" (libsndfile cannot open it), "audio cut short" (it holds
    /// fewer frames than its log's summary counts), or nil.
    public var ending: String?
    /// The log's events, or the fresh analysis's.
    public var events: [Event]
    /// Channel names, by 0-based channel (from the log's header, or the analysis).
    public var names: [String] = []
    /// Notes for the user: unknown line types skipped, malformed lines.
    public var notes: [String] = []
    /// The capture PCM's chain from the log's header (nil: a file, or not recorded).
    public var path: [String]? = nil
    /// The take's loudness as one programme (what a recorder puts in `bext`).
    public var programme: ProgrammeLoudness.Figures? = nil

    public var clipEvents: Int { channels.reduce(0) { $0 + $1.clipEvents } }
    public var hotEvents: Int { channels.reduce(0) { $0 + $1.hotEvents } }
    public var flatEvents: Int { channels.reduce(0) { $0 + $1.flatEvents } }
    public var worstTruePeakDBTP: Double? { channels.compactMap(\.truePeakDBTP).max() }

    /// Something a person should look at: clips, lost frames, a cut-off log, a lost device or
    /// disk. (A take still being recorded is not one for that alone.)
    public var hasProblems: Bool {
        clipEvents > 0 || flatEvents > 0 || xruns > 0 || gaps > 0 || droppedFrames > 0 || logState == .cutOff
            || ending != nil
    }

    /// Reviews the take at `file` with its log (`log`, or the one beside it, `<take>.clips.jsonl`),
    /// or analyzes it afresh when the log is missing (`onProgress`: how far that analysis has got).
    public static func load(
        file: String,
        log: String? = nil,
        settings: Settings,
        measuringLoudness: Bool = false,
        onProgress: FileProgress = { _, _, _ in }
    ) throws(HeadroomError) -> TakeReview {
        let logPath = log ?? logPath(for: file)
        func afresh() throws(HeadroomError) -> TakeReview {
            try analyzeAfresh(
                file: file,
                settings: settings,
                measuringLoudness: measuringLoudness,
                onProgress: onProgress
            )
        }
        guard FileManager.default.fileExists(atPath: logPath) else { return try afresh() }
        let reader = try ClipLogReader(path: logPath)
        let recording = reader.summary == nil && isBeingRecorded(file)
        let exists = FileManager.default.fileExists(atPath: file)
        let audio = exists ? AudioFile.info(file) : nil
        var header = reader.header
        // A take so new that its recorder has not written its log's header yet: what the audio
        // says stands in for one (it is still being written, so it is not analyzed afresh).
        if header == nil, recording, reader.events.isEmpty, let audio, audio.rate > 0 {
            header = ClipLog.Header(
                file: file,
                device: nil,
                rate: audio.rate,
                channels: audio.channels,
                format: "",
                names: [],
                started: Date(timeIntervalSince1970: 0),
                settings: settings.analysis
            )
        }
        // A log that cannot speak for this take is not used as if it did: the audio is
        // analyzed afresh, and the note says why.
        let mismatch: String?
        if header == nil {
            mismatch = "\(logPath): no take header (an empty or foreign log); analyzed the audio afresh"
        } else if let audio, let h = header,
            h.rate != audio.rate || h.channels != audio.channels
        {
            mismatch =
                "\(logPath): the log is for \(h.rate) Hz, \(h.channels) ch but \(file) is \(audio.rate) Hz, \(audio.channels) ch; analyzed the audio afresh"
        } else {
            mismatch = nil
        }
        guard let header, mismatch == nil else {
            // Without a header the log says nothing by itself, and without its take there is
            // no audio to analyze: say both, not just that the take is missing.
            guard exists else {
                let why = reader.problems.first.map { " (\($0))" } ?? ""
                throw HeadroomError(
                    .noInput,
                    "\(logPath): no take header\(why), and its take \(file) is not there: nothing to review"
                )
            }
            var review = try afresh()
            review.notes = reader.problems + [mismatch ?? ""]
            return review
        }
        let names = ClipLog.channelNames(header.names, channels: header.channels)
        var review = TakeReview(
            file: file,
            log: logPath,
            seconds: 0,
            started: header.started.timeIntervalSince1970 > 0 ? ClipLog.timestamp(header.started) : nil,
            rate: header.rate,
            complete: false,
            logState: reader.summary != nil ? .complete : recording ? .recording : .cutOff,
            channels: [],
            events: reader.events,
            names: names
        )
        review.notes = reader.problems
        review.path = header.path
        if let path = header.path, !PCMPath.hiding(path).isEmpty {
            review.notes.append(
                "\(file): recorded through \(path.joined(separator: " > ")), which can change sample values: clipping at the converter may not reach full scale, so flat tops are the sign to look for"
            )
        }
        for (type, count) in reader.unknownTypes.sorted(by: { $0.key < $1.key }) {
            review.notes.append(
                "\(logPath): skipped \(count) line\(count == 1 ? "" : "s") of type \"\(type)\" (from a newer headroom?)"
            )
        }
        for e in reader.events {
            switch e {
            case .deviceLost: review.ending = "device lost"
            case .disk: review.ending = "disk full"
            default: break
            }
        }
        if !exists {
            review.ending = "audio missing"
            review.notes.append("\(file): no such file (moved or deleted?); shown from its log, \(logPath)")
        }
        if let summary = reader.summary {
            review.complete = summary.complete
            review.seconds = summary.seconds ?? Double(summary.frames) / Double(header.rate)
            review.xruns = summary.xruns ?? 0
            review.gaps = summary.gaps ?? 0
            review.droppedFrames = summary.droppedFrames ?? 0
            review.channels = summary.channels.map { c in
                Channel(
                    channel: c.channel,
                    name: c.name ?? (c.channel - 1 < names.count && c.channel >= 1 ? names[c.channel - 1] : ""),
                    clipEvents: c.clipEvents,
                    hotEvents: c.hotEvents ?? 0,
                    truePeakDBTP: c.truePeakDBTP,
                    flatEvents: c.flatEvents ?? 0,
                    overDB: c.overDB,
                    overBound: c.overBound ?? false,
                    flatLevelDBFS: c.flatLevelDBFS
                )
            }
        } else {
            // Cut off (the recorder was killed) or still recording: what the log has said so
            // far, and the file's length.
            review.seconds = audio.map { Double($0.frames) / Double($0.rate) } ?? 0
            review.channels = names.indices.map {
                Channel(channel: $0 + 1, name: names[$0], clipEvents: 0, hotEvents: 0, truePeakDBTP: nil)
            }
            for e in reader.events { review.count(e) }
            for e in reader.events {
                switch e {
                case .xrun: review.xruns += 1
                case .gap: review.gaps += 1
                case .dropped(_, let lost): review.droppedFrames += lost
                default: break
                }
            }
        }
        // What the file holds: up to the last frame that can be read (a copy cut short).
        let held = audio.map { (frames: AudioFile.heldFrames(file, claimed: $0.frames), rate: $0.rate) }
        review.audioSeconds = held.map { Double($0.frames) / Double($0.rate) }
        if exists && !recording { review.checkAudio(held: held, loggedFrames: reader.summary?.frames) }
        if reader.summary == nil && !recording && held != nil {
            if let uncounted = UncountedAudio.find(path: file) {
                review.notes.append(
                    KilledTakes.notCounted(
                        file,
                        seconds: Double(uncounted.frames) / Double(header.rate),
                        leftOutBy: "this review"
                    )
                )
            }
            review.analyzeCutOff(settings: header.settings, base: settings, onProgress: onProgress)
        }
        if let summary = reader.summary, held != nil {
            let counted = summary.channels.reduce(0) { $0 + $1.clipEvents + ($1.hotEvents ?? 0) + ($1.flatEvents ?? 0) }
            let logged = reader.events.filter(\.isFinding).count
            if logged < counted {
                review.analyzeUnwritten(
                    logged: logged,
                    counted: counted,
                    settings: header.settings,
                    base: settings,
                    onProgress: onProgress
                )
            }
        }
        return review
    }

    /// The take's audio analyzed afresh with the settings it was recorded with (the analyzer
    /// the recorder ran, so the events its log has are among the result's).
    private func analyzeAudio(
        _ recorded: AnalysisSettings,
        base: Settings,
        onProgress: FileProgress
    )
        -> FileAnalysis.Result?
    {
        var own = base
        own.analysis = recorded
        own.names = names
        return try? FileAnalysis.run(path: file, settings: own, onProgress: onProgress)
    }

    /// `events` in frame order, those given first before the others at the same frame (the
    /// log's own before an analysis').
    private static func inFrameOrder(_ events: [Event]) -> [Event] {
        events.enumerated().sorted { ($0.element.frame, $0.offset) < ($1.element.frame, $1.offset) }.map(\.element)
    }

    /// A log with a summary but fewer clip, flat and hot lines than it counts: lines its
    /// recorder could not write (a disk the take filled keeps its last room for the summary;
    /// a disk that stopped answering). The figures stay the summary's; the events come from
    /// the audio, analyzed afresh, so `--events`, `--cues`, labels and the report have all.
    private mutating func analyzeUnwritten(
        logged: Int,
        counted: Int,
        settings recorded: AnalysisSettings,
        base: Settings,
        onProgress: FileProgress
    ) {
        guard let result = analyzeAudio(recorded, base: base, onProgress: onProgress) else { return }
        events = Self.inFrameOrder(events.filter { !$0.isFinding } + result.events.filter(\.isFinding))
        notes.append(
            "\(file): its log has \(logged) of the \(counted) clip, flat and hot events its summary counts (the rest were not written: a full disk?); its events are from its audio, analyzed afresh"
        )
    }

    /// A log cut off (its recorder killed, or the machine lost power) has no summary, and
    /// lacks the events still open when it stopped: a channel that clipped for minutes on end
    /// is one clip event, written when it closes. The channels' figures and the analyzer's
    /// events (clip, flat, hot, gain) come from the audio, analyzed afresh with the settings
    /// the take was recorded with (the analyzer the recorder ran, so the events its log has
    /// are among them); the losses, markers and how it ended stay the log's. A killed WAV's
    /// header lags its audio by up to a second, so events the log has past the audio's end
    /// are kept, and counted.
    private mutating func analyzeCutOff(settings recorded: AnalysisSettings, base: Settings, onProgress: FileProgress) {
        guard let result = analyzeAudio(recorded, base: base, onProgress: onProgress) else { return }
        seconds = Double(result.frames) / Double(rate)
        channels = Self.channels(of: result)
        func analyzers(_ e: Event) -> Bool {
            if case .gain = e { return true }
            return e.isFinding
        }
        // (Its proposals there are left out: the analysis makes its own.)
        let beyond = events.filter { $0.isFinding && $0.frame >= result.frames }
        for e in beyond { count(e) }
        events = Self.inFrameOrder(events.filter { !analyzers($0) } + result.events.filter(analyzers) + beyond)
        notes.append(
            "\(file): its log stops without a summary (the recorder was killed?); the channels' figures and clip, flat and hot events are from its audio, analyzed afresh\(beyond.isEmpty ? "" : ", and the \(beyond.count) its log has past the audio's end")"
        )
    }

    /// Adds a clip, flat or hot event from the log to its channel's figures (a log without
    /// a summary is all the figures there are; a cut-off log's events past its audio).
    private mutating func count(_ e: Event) {
        guard e.isFinding, let c = e.channel, c < channels.count else { return }
        switch e {
        case .clip(let x):
            channels[c].clipEvents += 1
            channels[c].truePeakDBTP = max(channels[c].truePeakDBTP ?? x.truePeakDBTP, x.truePeakDBTP)
            if let over = x.overDB, over > channels[c].overDB ?? -1 {
                (channels[c].overDB, channels[c].overBound) = (over, x.overBound)
            }
        case .flat(let x):
            channels[c].flatEvents += 1
            channels[c].flatLevelDBFS = max(channels[c].flatLevelDBFS ?? x.levelDBFS, x.levelDBFS)
        case .hot(let x):
            channels[c].hotEvents += 1
            channels[c].truePeakDBTP = max(channels[c].truePeakDBTP ?? x.truePeakDBTP, x.truePeakDBTP)
        default: break
        }
    }

    /// The review's channels from an analysis of the audio.
    private static func channels(of result: FileAnalysis.Result) -> [Channel] {
        result.summaries.map {
            Channel(
                channel: $0.channel + 1,
                name: result.header.names[$0.channel],
                clipEvents: $0.clipEvents,
                hotEvents: $0.hotEvents,
                truePeakDBTP: $0.truePeakDBTP,
                flatEvents: $0.flatEvents,
                overDB: $0.reportedOver.db,
                overBound: $0.reportedOver.bound,
                flatLevelDBFS: $0.overs.flatLevelDBFS
            )
        }
    }

    /// A take's file that cannot stand for what its log records (a copy cut short, a file
    /// damaged): its ending says so, and a note says what is there. `held` is what the file
    /// holds (nil: libsndfile cannot open it); `loggedFrames` the log's summary's count.
    private mutating func checkAudio(held: (frames: Int, rate: Int)?, loggedFrames: Int?) {
        guard let held else {
            ending = "audio unreadable"
            notes.append("\(file): libsndfile cannot read it (\(AudioFile.openError(file))); shown from its log")
            return
        }
        guard let loggedFrames, held.rate > 0, held.frames < loggedFrames else { return }
        ending = ending.map { "\($0), audio cut short" } ?? "audio cut short"
        let there = EventText.timecode(seconds: Double(held.frames) / Double(held.rate))
        let logged = EventText.timecode(seconds: Double(loggedFrames) / Double(held.rate))
        notes.append(
            "\(file): holds \(there) of the \(logged) its log records (a copy cut short?); the log's events after \(there) are not in the audio"
        )
    }

    /// Adds the take's loudness, as a programme and per channel, reading the audio once more
    /// (`onProgress`: how far it has got). A take analyzed afresh with `measuringLoudness` has
    /// it already (``programme`` is set).
    public mutating func measureLoudness(onProgress: FileProgress = { _, _, _ in }) {
        guard let meter = LoudnessMeter.measure(path: file, onProgress: onProgress) else { return }
        take(meter.measured)
    }

    private mutating func take(_ loudness: Loudness.Measured) {
        programme = loudness.programme
        for i in channels.indices where channels[i].channel - 1 < loudness.channels.count {
            channels[i].loudness = loudness.channels[channels[i].channel - 1]
        }
    }

    /// Whether a recorder has the take at `file` open: it holds a lock on the take from its
    /// creation until the take is finished, its log's summary written and its cues and
    /// metadata in (TakeRegistry).
    public static func isBeingRecorded(_ file: String) -> Bool {
        let fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK
    }

    /// No log: the same analyzer over the audio.
    static func analyzeAfresh(
        file: String,
        settings: Settings,
        measuringLoudness: Bool,
        onProgress: FileProgress
    ) throws(HeadroomError) -> TakeReview {
        let result = try FileAnalysis.run(
            path: file,
            settings: settings,
            measuresLoudness: measuringLoudness,
            onProgress: onProgress
        )
        var review = TakeReview(
            file: file,
            log: nil,
            seconds: Double(result.frames) / Double(result.header.rate),
            started: result.originated,
            rate: result.header.rate,
            complete: true,
            logState: .missing,
            channels: channels(of: result),
            events: result.events,
            names: result.header.names
        )
        review.audioSeconds = review.seconds
        if let loudness = result.loudness { review.take(loudness) }
        if let note = result.lossyNote(path: file) { review.notes.append(note) }
        return review
    }

    /// The names the table and the report show for `files`: each file's name, or, where two
    /// share one (`take-001.wav` in each day's folder of `--name %Y-%m-%d/take-%n`), as many
    /// of their folders as tell them apart (`2026-12-05/take-001.wav`).
    public static func shownNames(_ files: [String]) -> [String] {
        let parts = files.map { $0.split(separator: "/").map(String.init) }
        var depth = Array(repeating: 1, count: files.count)
        while true {
            let names = parts.indices.map { parts[$0].suffix(depth[$0]).joined(separator: "/") }
            var grew = false
            for same in Dictionary(grouping: names.indices, by: { names[$0] }).values where same.count > 1 {
                for i in same where depth[i] < parts[i].count {
                    depth[i] += 1
                    grew = true
                }
            }
            if !grew { return names }
        }
    }

    public static func logPath(for file: String) -> String {
        (file as NSString).deletingPathExtension + ".clips.jsonl"
    }

    /// A take to review and the clip log that speaks for it.
    public struct Listed: Sendable, Equatable {
        public var file: String
        public var log: String
    }

    /// The audio files under `paths` (folders are searched recursively), in order, each with
    /// its log; a clip log named on its own, or found in a folder without its take, stands for
    /// its take, or for that take renamed (``pairingRenamed(_:)``). A path that does not
    /// exist is exit 66.
    /// A link in a folder that leads nowhere is passed over, and `passedOver` told why.
    public static func takes(
        in paths: [String],
        passedOver: (String) -> Void = { _ in }
    ) throws(HeadroomError) -> [Listed] {
        pairingRenamed(try files(in: paths, passedOver: passedOver))
    }

    /// The audio files under `paths`, and the takes the logs found without theirs stand for.
    private static func files(in paths: [String], passedOver: (String) -> Void) throws(HeadroomError) -> [String] {
        var out: [String] = []
        for path in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                throw HeadroomError(.noInput, FilePaths.notFound(path, "no such file or folder"))
            }
            if isDir.boolValue {
                // Every folder must be readable: a folder that cannot be listed is not "no takes".
                var found: [String] = []
                var unreadable: String? = nil
                let enumerator = FileManager.default.enumerator(
                    at: URL(fileURLWithPath: path),
                    includingPropertiesForKeys: nil,
                    options: [],
                    errorHandler: { url, error in
                        unreadable = unreadable ?? "\(url.path): cannot read the folder (\(Self.reason(error)))"
                        return true
                    }
                )
                let prefix = URL(fileURLWithPath: path).standardizedFileURL.path
                while let url = enumerator?.nextObject() as? URL {
                    var full = url.standardizedFileURL.path
                    if full.hasSuffix(".clips.jsonl") {
                        // A log whose take is gone is still a take to review (as "audio missing").
                        let take = Self.take(forLog: full)
                        guard !take.exists else { continue }
                        full = take.path
                    } else if !audioExtensions.contains(url.pathExtension.lowercased())
                        || FilePaths.isRegularFile(full) == false
                    {
                        // Only files: a named pipe called take.wav would be waited on for
                        // good, and a folder called so is walked, not read.
                        continue
                    }
                    let relative = full.hasPrefix(prefix + "/") ? String(full.dropFirst(prefix.count + 1)) : full
                    if let target = FilePaths.danglingLink(full) {
                        // Not a take, and not one that cannot be read: a link to nothing.
                        let shown = (path as NSString).appendingPathComponent(relative)
                        passedOver("\(shown): a link to \(target), which is not there; passed over")
                        continue
                    }
                    found.append(relative)
                }
                if let unreadable { throw HeadroomError(.noInput, unreadable) }
                out += found.sorted(by: FilePaths.recordedBefore).map { (path as NSString).appendingPathComponent($0) }
            } else if path.hasSuffix(".clips.jsonl") {
                out.append(take(forLog: path).path)
            } else {
                out.append(path)
            }
        }
        return out
    }

    /// Each of `files` with its log, where a take renamed after it was recorded (in a file
    /// manager, `take-20261205-210203.wav` to `verse vox 3.wav`) keeps the log it was recorded
    /// with: the log beside it under the name the take still carries (``CarriedNames/takeName(path:)``),
    /// when that log's own take is gone and the log agrees with the audio (its take's name,
    /// rate and channels, and once it has a summary, its length); for a take moved to another
    /// of the folders reviewed, such a log there with its summary. The log then stands for the
    /// renamed take, and is not listed again as a take whose audio is missing; named on its
    /// own, it brings in the renamed take from its folder. A take copied under another name,
    /// its original still there, is analyzed afresh.
    static func pairingRenamed(_ files: [String]) -> [Listed] {
        let fm = FileManager.default
        var listed = files.map { Listed(file: $0, log: logPath(for: $0)) }
        // Logs listed for a take that is not there, and where.
        var orphans: [String: Int] = [:]
        for (i, l) in listed.enumerated() where !fm.fileExists(atPath: l.file) && fm.fileExists(atPath: l.log) {
            orphans[l.log] = orphans[l.log] ?? i
        }
        // Those logs by name, for a take moved to another of the folders reviewed.
        var orphansByName: [String: [String]] = [:]
        for log in orphans.keys.sorted() { orphansByName[(log as NSString).lastPathComponent, default: []].append(log) }
        // Each log goes to one take (a file listed twice is the same take).
        var claimed: [String: String] = [:]
        // The log without its take that speaks for `file`, a take without its own log: the
        // one beside it, or one listed in another folder that has its summary.
        func log(for file: String) -> String? {
            if let log = claimed.first(where: { $0.value == file })?.key { return log }
            guard !fm.fileExists(atPath: logPath(for: file)), let name = CarriedNames.takeName(path: file),
                !name.contains("/"), name != ".", name != ".."
            else { return nil }
            let beside = ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(
                name + ".clips.jsonl"
            )
            let elsewhere = (orphansByName[name + ".clips.jsonl"] ?? []).filter { $0 != beside }
            return ([beside] + elsewhere).first { log in
                guard claimed[log] == nil, fm.fileExists(atPath: log), !take(forLog: log).exists,
                    let reader = try? ClipLogReader(path: log),
                    let header = reader.header, (header.file as NSString).deletingPathExtension == name,
                    let audio = AudioFile.info(file), audio.rate == header.rate, audio.channels == header.channels
                else { return false }
                guard let summary = reader.summary else { return log == beside }
                return summary.frames == audio.frames
            }
        }
        for i in listed.indices where FilePaths.isRegularFile(listed[i].file) == true {
            if let log = log(for: listed[i].file) {
                listed[i].log = log
                claimed[log] = listed[i].file
            }
        }
        // A log whose renamed take was not listed (the log was named on its own): its folder's
        // audio files.
        let listedFiles = Set(files)
        for (orphan, i) in orphans.sorted(by: { $0.value < $1.value }) where claimed[orphan] == nil {
            let folder = (orphan as NSString).deletingLastPathComponent
            let entries = (try? fm.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? []
            for entry in entries.sorted()
            where audioExtensions.contains((entry as NSString).pathExtension.lowercased()) {
                let file = folder.isEmpty ? entry : (folder as NSString).appendingPathComponent(entry)
                guard !listedFiles.contains(file), FilePaths.isRegularFile(file) == true, log(for: file) == orphan
                else { continue }
                listed[i] = Listed(file: file, log: orphan)
                claimed[orphan] = file
                break
            }
        }
        // The missing takes whose logs went to their renamed takes.
        return listed.filter { l in claimed[l.log] == nil || fm.fileExists(atPath: l.file) }
    }

    /// The extensions of the audio files a folder's takes are looked for by.
    static let audioExtensions: [String] = ["aif", "aiff", "caf", "flac", "ogg", "rf64", "w64", "wav"]

    /// The take a clip log stands for: the audio file beside it with the log's name (any of
    /// ``audioExtensions``, in lower or upper case), or `<name>.wav`, which does not exist.
    static func take(forLog log: String) -> (path: String, exists: Bool) {
        let base = String(log.dropLast(".clips.jsonl".count))
        for ext in audioExtensions {
            for candidate in [base + "." + ext, base + "." + ext.uppercased()]
            where FileManager.default.fileExists(atPath: candidate) {
                return (candidate, true)
            }
        }
        return (base + ".wav", false)
    }

    private static func reason(_ error: Error) -> String {
        let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
        if let code = underlying?.code, underlying?.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(code)))
        }
        return "permission denied"
    }

    /// SPEC's `take_review` line.
    public var jsonLine: JSONValue {
        .object([
            ("type", .string("take_review")), ("file", .string(file)), ("log", log.map(JSONValue.string) ?? .null),
            ("seconds", .seconds(seconds)), ("audio_seconds", audioSeconds.map(JSONValue.seconds) ?? .null),
            ("started", started.map(JSONValue.string) ?? .null),
            ("complete", .bool(complete)), ("log_state", .string(logState.rawValue)),
            ("path", path.map { .array($0.map(JSONValue.string)) } ?? .null),
            (
                "channels",
                .array(
                    channels.map {
                        .object([
                            ("channel", .int($0.channel)), ("name", .string($0.name)),
                            ("clip_events", .int($0.clipEvents)), ("over_db", .decibels($0.overDB)),
                            ("over_bound", .bool($0.overBound)), ("flat_events", .int($0.flatEvents)),
                            ("flat_level_dbfs", .decibels($0.flatLevelDBFS)),
                            ("hot_events", .int($0.hotEvents)), ("true_peak_dbtp", .decibels($0.truePeakDBTP)),
                            ("integrated_lufs", .decibels($0.loudness?.integratedLUFS)),
                            ("loudness_range_lu", .decibels($0.loudness?.rangeLU)),
                        ])
                    }
                )
            ),
            ("xruns", .int(xruns)), ("gaps", .int(gaps)), ("dropped_frames", .int(droppedFrames)),
            (
                "programme",
                .object([
                    ("integrated_lufs", .decibels(programme?.integratedLUFS)),
                    ("loudness_range_lu", .decibels(programme?.rangeLU)),
                    ("max_true_peak_dbtp", .decibels(worstTruePeakDBTP)),
                    ("max_momentary_lufs", .decibels(programme?.maxMomentaryLUFS)),
                    ("max_short_term_lufs", .decibels(programme?.maxShortTermLUFS)),
                ])
            ),
        ])
    }
}
