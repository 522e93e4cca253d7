import Foundation

/// Takes whose recorder was killed (an OOM kill, a service's stop timeout, a power cut): the
/// log stops without its summary, the audio written since the header was last brought up to
/// date (up to a second) is on disk but not counted, a WAV take has no cue markers, and its
/// `--on-take-closed` command never ran. `review --repair` finishes them by hand; a recorder
/// started in their folder finishes them itself (``leftBehind(in:depth:excluding:)``), so
/// that an unattended recorder restarted after a power cut ships every take.
public enum KilledTakes {
    /// What counting a take's audio in found.
    public enum Counted: Sendable, Equatable {
        /// A recorder holds the take's lock: it is being recorded (or finished) now.
        case beingRecorded
        /// `seconds` of audio were counted in; the take now holds `holds` seconds, and takes
        /// markers (WAV and RF64 cues, FLAC chapters) or not (W64).
        case counted(seconds: Double, holds: Double, takesMarkers: Bool)
    }

    /// Counts into its header the audio a killed recorder wrote into a WAV, RF64, W64 or FLAC
    /// take after it last brought the header up to date (``UncountedAudio``). Only a take
    /// whose log stops without a summary and that no recorder has open; nil when there is
    /// nothing to count. A take this user may read but not write (the recorder's service
    /// user's) throws: said, not passed over.
    public static func countIn(file: String, log: String) throws(HeadroomError) -> Counted? {
        guard let reader = try? ClipLogReader(path: log), let rate = reader.header?.rate, rate > 0,
            reader.summary == nil
        else { return nil }
        let lock = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard lock >= 0 else { return nil }
        defer { close(lock) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else { return .beingRecorded }
        guard let uncounted = UncountedAudio.find(lock) else { return nil }
        let fd = open(file, O_RDWR | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw HeadroomError(
                .io,
                "\(file): cannot open it to count its audio in: \(String(cString: strerror(errno)))"
            )
        }
        defer { close(fd) }
        try uncounted.count(fd, path: file)
        return .counted(
            seconds: Double(uncounted.frames) / Double(rate),
            holds: Double(uncounted.countedFrames + uncounted.frames) / Double(rate),
            takesMarkers: uncounted.takesMarkers
        )
    }

    /// Adds a review's events as cue markers to a WAV/RF64 take that has none; what was done
    /// (or why not), as a line to show. A take a recorder still has open (it holds a lock on
    /// it) is left alone.
    public static func writeCues(_ r: TakeReview) throws(HeadroomError) -> String {
        let lock = open(r.file, O_RDONLY | O_CLOEXEC)
        guard lock >= 0 else { return "\(r.file): cannot open it: \(String(cString: strerror(errno)))" }
        defer { close(lock) }
        if flock(lock, LOCK_EX | LOCK_NB) != 0 {
            return "\(r.file): still being recorded; cue markers are added when its take closes"
        }
        if let tags = FLACTags.look(r.file) { return try writeChapters(r, tags) }
        guard let info = AudioFile.info(r.file), info.isRIFF, let chunks = try? RIFFChunks(path: r.file) else {
            return "\(r.file): cue markers go into WAV, RF64 and FLAC takes only; skipped"
        }
        if let damage = chunks.damage {
            // What is appended after a chunk cut short would be read as its bytes: audio.
            let repairable = UncountedAudio.find(path: r.file) != nil
            return "\(r.file): \(damage); no cue markers added, the file left as it is"
                + (repairable ? " (`headroom review --repair` counts that audio in and adds them)" : "")
        }
        if chunks.cuePoints > 0 { return "\(r.file): already has \(cueMarkers(chunks.cuePoints)); left as it is" }
        let markers = Self.markers(r)
        let written = try CueMarkers.append(markers, to: r.file)
        let left = markers.count - written
        return "\(r.file): wrote \(cueMarkers(written))"
            + (left > 0 ? "; \(CueMarkers.outOfReach(left, rate: r.rate))" : "")
    }

    /// A marker for each of the review's events that gets one (cues, chapters).
    private static func markers(_ r: TakeReview) -> [CueMarkers.Marker] {
        r.events.compactMap { CueMarkers.Marker($0, names: r.names, rate: r.rate) }
    }

    /// A FLAC take's markers, as chapters, and its loudness, into its tags (``FLACTags``),
    /// where its comment still keeps the room for them: a take its recorder did not finish.
    private static func writeChapters(
        _ r: TakeReview,
        _ tags: (chapters: Int, room: Bool)
    ) throws(HeadroomError)
        -> String
    {
        if tags.chapters > 0 { return "\(r.file): already has \(chapterMarkers(tags.chapters)); left as it is" }
        let markers = Self.markers(r)
        if !tags.room {
            // Finished by its recorder with nothing to mark, or a FLAC file headroom's recorder
            // did not write (another program's, an earlier headroom's).
            return markers.isEmpty
                ? "\(r.file): finished, with no events to mark; left as it is"
                : "\(r.file): its tags keep no room for chapters (headroom's recorder did not write it); \(chapterMarkers(markers.count)) not added, the file left as it is"
        }
        if UncountedAudio.find(path: r.file) != nil {
            // Finished now, it would be finished without the audio past its header's count.
            return
                "\(r.file): its recorder was killed before it finished it; no chapters added, the file left as it is (`headroom review --repair` counts its last audio in and adds them)"
        }
        guard
            let written = try FLACTags.finish(
                r.file,
                markers: markers,
                rate: r.rate,
                loudness: r.programme,
                maxTruePeakDBTP: r.worstTruePeakDBTP
            )
        else { return "\(r.file): its tags keep too little room for chapters; none added, the file left as it is" }
        var said = "\(r.file): wrote "
        said +=
            written.chapters == written.markers
            ? chapterMarkers(written.chapters) : "\(written.chapters) of \(chapterMarkers(written.markers))"
        if written.loudness, let lufs = r.programme?.integratedLUFS {
            said += String(format: " and its loudness (%.1f LUFS)", lufs)
        }
        return said + " into its tags"
    }

    static func chapterMarkers(_ n: Int) -> String { n == 1 ? "1 chapter marker" : "\(n) chapter markers" }

    /// Writes the loudness a review measured (``TakeReview/programme``) into the `bext` of a
    /// WAV/RF64 take whose recorder was killed before it could: version 2, as a recorder that
    /// closed it would have left it. What was done, as a line to show; nil where the review
    /// has no loudness or the take no `bext`.
    public static func writeLoudness(_ r: TakeReview) throws(HeadroomError) -> String? {
        guard let programme = r.programme, AudioFile.info(r.file)?.isRIFF == true else { return nil }
        let lock = open(r.file, O_RDONLY | O_CLOEXEC)
        guard lock >= 0 else { return nil }
        defer { close(lock) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0,
            try TakeMetadata.writeLoudness(programme, maxTruePeakDBTP: r.worstTruePeakDBTP, to: r.file)
        else { return nil }
        let integrated = programme.integratedLUFS.map { String(format: " (%.1f LUFS)", $0) } ?? ""
        return "\(r.file): wrote its loudness into bext\(integrated)"
    }

    public static func cueMarkers(_ n: Int) -> String { n == 1 ? "1 cue marker" : "\(n) cue markers" }

    /// The takes a killed recorder left in `directory` and its folders down to `depth` (the
    /// folders `--name` makes: `%Y-%m-%d/take-%H%M%S` is 1): a take beside its own log, the
    /// log without its summary, no recorder holding the take, and audio in it past what its
    /// header counts. Once counted in (by a recorder or `review --repair`) a take is not
    /// found again. Takes renamed or moved since are `review --repair`'s.
    static func leftBehind(in directory: String, depth: Int, excluding: Set<String>) -> [TakeReview.Listed] {
        var found: [TakeReview.Listed] = []
        func walk(_ folder: String, _ depth: Int) {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)
            else { return }
            let path = { (name: String) in folder.isEmpty ? name : (folder as NSString).appendingPathComponent(name) }
            let audio = Dictionary(
                names.filter {
                    TakeFileFormat.audioFileExtensions.contains(($0 as NSString).pathExtension.lowercased())
                }
                .map { (($0 as NSString).deletingPathExtension, $0) },
                uniquingKeysWith: { a, b in min(a, b) }
            )
            for name in names.sorted() where !name.hasPrefix(".") {
                if name.hasSuffix(".clips.jsonl") {
                    guard let take = audio[String(name.dropLast(".clips.jsonl".count))] else { continue }
                    let file = path(take)
                    guard !excluding.contains(file), FilePaths.isRegularFile(file) == true, uncounted(file) != nil
                    else { continue }
                    found.append(TakeReview.Listed(file: file, log: path(name)))
                } else if depth > 0 {
                    var isFolder: ObjCBool = false
                    if FileManager.default.fileExists(atPath: path(name), isDirectory: &isFolder), isFolder.boolValue {
                        walk(path(name), depth - 1)
                    }
                }
            }
        }
        walk(directory, depth)
        return found
    }

    /// The audio past its header's count in `file`, a take whose log (beside it) stops without
    /// a summary and that no recorder has open: its recorder was killed. Nil for any other file.
    public static func uncounted(_ file: String) -> UncountedAudio? {
        // The cheap looks first: a folder holds a year of finished takes, and finding a FLAC
        // take's whole frames reads all of it.
        let log = TakeReview.logPath(for: file)
        guard FilePaths.isRegularFile(log) == true, !endsWithSummary(log), !TakeReview.isBeingRecorded(file),
            let reader = try? ClipLogReader(path: log), reader.header != nil, reader.summary == nil
        else { return nil }
        return UncountedAudio.find(path: file)
    }

    /// What a note says of such a take: `what` ("this review") leaves that audio out.
    public static func notCounted(_ file: String, seconds: Double, leftOutBy what: String) -> String {
        String(
            format:
                "%@: %.3f s of audio its recorder wrote after it last brought the header up to date (it was killed) is in the file but not counted: libsndfile, sox and %@ leave it out; `headroom review --repair` counts it in",
            file,
            seconds,
            what
        )
    }

    /// Whether the log's last line is its summary, as the recorder writes it (read from its
    /// last 64 KiB; a log written otherwise is read whole, by ``ClipLogReader``).
    static func endsWithSummary(_ log: String) -> Bool {
        let fd = open(log, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0 else { return false }
        let count = Int(min(st.st_size, 65536))
        let tail = FileBytes.read(fd, count, at: UInt64(st.st_size) - UInt64(count)) ?? []
        let lines = tail.split(separator: UInt8(ascii: "\n")).filter { $0 != [UInt8(ascii: "\r")] }
        return lines.last?.starts(with: Array(#"{"type":"summary""#.utf8)) ?? false
    }

    /// The lines to show, and whether the take was finished.
    typealias Finished = (lines: [String], finished: Bool)

    /// Finishes a take ``leftBehind(in:depth:excluding:)`` found in `directory`: its audio
    /// counted in, then (WAV, RF64) its cue markers and its loudness in `bext` from a review of
    /// all of it. Not finished: a recorder took it meanwhile, or the disk refused.
    static func finish(_ take: TakeReview.Listed, in directory: String, settings: Settings) -> Finished {
        // Named as in `--dir`: `2026-12-05/take-030000.wav`.
        var shown = Substring(take.file)
        if shown.hasPrefix(directory) { shown = shown.dropFirst(directory.count).drop { $0 == "/" } }
        let name = String(shown)
        // The error without the take's path, which the line begins with.
        func reason(_ error: HeadroomError) -> String {
            error.message.hasPrefix(take.file + ": ")
                ? String(error.message.dropFirst(take.file.count + 2)) : error.message
        }
        let counted: Counted?
        do throws(HeadroomError) {
            counted = try countIn(file: take.file, log: take.log)
        } catch {
            return (
                ["\(name): left cut off by a recorder that was killed, and cannot be finished: \(reason(error))"], false
            )
        }
        guard case .counted(let seconds, let holds, let takesMarkers) = counted else { return ([], false) }
        var line = String(
            format:
                "%@: left cut off by a recorder that was killed; counted in the %.3f s written after its header was last brought up to date (it holds %@)",
            name,
            seconds,
            EventText.timecode(seconds: holds)
        )
        if takesMarkers {
            do throws(HeadroomError) {
                var review = try TakeReview.load(
                    file: take.file,
                    log: take.log,
                    settings: settings,
                    measuringLoudness: true
                )
                if review.programme == nil { review.measureLoudness() }
                // "wrote 14 cue markers and its loudness into bext (-16.2 LUFS)"; what was not
                // written, with its reason.
                let said = [try writeCues(review), try writeLoudness(review)].compactMap { $0 }
                let wrote = said.filter { $0.hasPrefix("\(take.file): wrote ") }
                if !wrote.isEmpty {
                    line +=
                        ", wrote " + wrote.map { $0.dropFirst("\(take.file): wrote ".count) }.joined(separator: " and ")
                }
                for other in said where !wrote.contains(other) { line += "; " + other }
            } catch {
                line += "; \(reason(error))"
            }
        }
        return ([line], true)
    }
}
