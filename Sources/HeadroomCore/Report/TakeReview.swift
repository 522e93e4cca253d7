import CSndFile
import Foundation

/// One take as `review` sees it: its audio file, its clip log (or a fresh analysis when
/// there is none), and what went wrong.
public struct TakeReview: @unchecked Sendable {
    public struct Channel: Sendable {
        public var channel: Int
        public var name: String
        public var clipEvents: Int
        public var hotEvents: Int
        public var truePeakDBTP: Double?
        /// Integrated loudness (LUFS) and loudness range (LU), by libebur128.
        public var loudness: Loudness.Channel? = nil
    }

    public var file: String
    public var log: String?
    public var seconds: Double
    public var started: String?
    public var rate: Int
    /// The summary's `complete` (false when the log was cut off).
    public var complete: Bool
    /// `complete`, `cut_off` or `missing`.
    public var logState: String
    public var channels: [Channel]
    public var xruns = 0
    public var gaps = 0
    public var droppedFrames = 0
    /// How it ended: "device lost", "disk full", or nil.
    public var ending: String?
    /// The log's lines (events only), or the fresh analysis's.
    public var events: [[String: Any]]
    /// Notes for the user: unknown line types skipped, malformed lines.
    public var notes: [String] = []

    public var clipEvents: Int { channels.reduce(0) { $0 + $1.clipEvents } }
    public var hotEvents: Int { channels.reduce(0) { $0 + $1.hotEvents } }
    public var worstTruePeakDBTP: Double? { channels.compactMap(\.truePeakDBTP).max() }

    /// Something a person should look at: clips, lost frames, a cut-off log, a lost device or disk.
    public var hasProblems: Bool {
        clipEvents > 0 || xruns > 0 || gaps > 0 || droppedFrames > 0 || logState == "cut_off" || ending != nil
    }

    /// Reviews the take at `file` with its log beside it (`<take>.clips.jsonl`), or analyzes
    /// it afresh when the log is missing.
    public static func load(file: String, settings: Settings) throws(HeadroomError) -> TakeReview {
        let logPath = logPath(for: file)
        guard FileManager.default.fileExists(atPath: logPath) else {
            return try analyzeAfresh(file: file, settings: settings)
        }
        let reader = try ClipLogReader(path: logPath)
        // A log that cannot speak for this take is not used as if it did: the audio is
        // analyzed afresh, and the note says why.
        let mismatch: String?
        if reader.header == nil {
            mismatch = "\(logPath): no take header (an empty or foreign log); analyzed the audio afresh"
        } else if let audio = audioInfo(file),
            let rate = reader.header?.object["rate"] as? Int,
            let channels = reader.header?.object["channels"] as? Int,
            rate != audio.rate || channels != audio.channels
        {
            mismatch =
                "\(logPath): the log is for \(rate) Hz, \(channels) ch but \(file) is \(audio.rate) Hz, \(audio.channels) ch; analyzed the audio afresh"
        } else {
            mismatch = nil
        }
        if let mismatch {
            var review = try analyzeAfresh(file: file, settings: settings)
            review.notes = reader.problems + [mismatch]
            return review
        }
        let header = reader.header?.object ?? [:]
        let names = header["names"] as? [String] ?? []
        let rate = header["rate"] as? Int ?? audioInfo(file)?.rate ?? 48000
        var review = TakeReview(
            file: file,
            log: logPath,
            seconds: 0,
            started: header["started"] as? String,
            rate: rate,
            complete: false,
            logState: reader.state,
            channels: [],
            events: reader.events.map(\.object)
        )
        review.notes = reader.problems
        for (type, count) in reader.unknownTypes.sorted(by: { $0.key < $1.key }) {
            review.notes.append(
                "\(logPath): skipped \(count) line\(count == 1 ? "" : "s") of type \"\(type)\" (from a newer headroom?)"
            )
        }
        for e in reader.events {
            switch e.type {
            case "device_lost": review.ending = "device lost"
            case "disk": review.ending = "disk full"
            default: break
            }
        }
        if let summary = reader.summary?.object {
            review.complete = summary["complete"] as? Bool ?? false
            review.seconds = summary["seconds"] as? Double ?? Double(summary["frames"] as? Int ?? 0) / Double(rate)
            review.xruns = summary["xruns"] as? Int ?? 0
            review.gaps = summary["gaps"] as? Int ?? 0
            review.droppedFrames = summary["dropped_frames"] as? Int ?? 0
            for c in summary["channels"] as? [[String: Any]] ?? [] {
                review.channels.append(
                    Channel(
                        channel: c["channel"] as? Int ?? 0,
                        name: c["name"] as? String ?? "",
                        clipEvents: c["clip_events"] as? Int ?? 0,
                        hotEvents: c["hot_events"] as? Int ?? 0,
                        truePeakDBTP: c["true_peak_dbtp"] as? Double
                    )
                )
            }
        } else {
            // Cut off (the recorder was killed): what the log got to say, and the file's length.
            review.seconds = audioInfo(file).map { Double($0.frames) / Double($0.rate) } ?? 0
            let count = header["channels"] as? Int ?? names.count
            for c in 0..<count {
                let mine = reader.events.filter { $0.object["channel"] as? Int == c + 1 }
                review.channels.append(
                    Channel(
                        channel: c + 1,
                        name: c < names.count ? names[c] : String(c + 1),
                        clipEvents: mine.filter { $0.type == "clip" }.count,
                        hotEvents: mine.filter { $0.type == "hot" }.count,
                        truePeakDBTP: mine.compactMap { $0.object["true_peak_dbtp"] as? Double }.max()
                    )
                )
            }
            review.xruns = reader.events.filter { $0.type == "xrun" }.count
            review.gaps = reader.events.filter { $0.type == "gap" }.count
            review.droppedFrames = reader.events.filter { $0.type == "dropped" && $0.object["in"] == nil }
                .compactMap { $0.object["lost_frames"] as? Int }.reduce(0, +)
        }
        return review
    }

    /// Adds each channel's loudness (reads the audio once more).
    public mutating func measureLoudness() {
        guard let measured = Loudness.measure(path: file) else { return }
        for i in channels.indices where channels[i].channel - 1 < measured.count {
            channels[i].loudness = measured[channels[i].channel - 1]
        }
    }

    /// No log: the same analyzer over the audio.
    static func analyzeAfresh(file: String, settings: Settings) throws(HeadroomError) -> TakeReview {
        var lines: [[String: Any]] = []
        let result = try FileAnalysis.run(path: file, settings: settings) { line in
            if let o = try? JSONSerialization.jsonObject(with: Data(line.encoded().utf8)) as? [String: Any] {
                lines.append(o)
            }
        }
        let events = lines.filter {
            let t = $0["type"] as? String
            return t != "take" && t != "summary"
        }
        return TakeReview(
            file: file,
            log: nil,
            seconds: Double(result.frames) / Double(result.header.rate),
            started: nil,
            rate: result.header.rate,
            complete: true,
            logState: "missing",
            channels: result.summaries.map {
                Channel(
                    channel: $0.channel + 1,
                    name: result.header.names[$0.channel],
                    clipEvents: $0.clipEvents,
                    hotEvents: $0.hotEvents,
                    truePeakDBTP: $0.truePeakDBTP
                )
            },
            events: events
        )
    }

    public static func logPath(for file: String) -> String {
        (file as NSString).deletingPathExtension + ".clips.jsonl"
    }

    static func audioInfo(_ file: String) -> (frames: Int, rate: Int, channels: Int)? {
        var info = SF_INFO()
        guard let f = sf_open(file, Int32(SFM_READ), &info) else { return nil }
        sf_close(f)
        return (Int(info.frames), Int(info.samplerate), Int(info.channels))
    }

    /// The audio files under `paths` (folders are searched recursively), in order; a clip
    /// log named on its own stands for its take. A path that does not exist is exit 66.
    public static func takes(in paths: [String]) throws(HeadroomError) -> [String] {
        let audio: Set<String> = ["wav", "rf64", "w64", "flac", "caf", "aif", "aiff", "ogg"]
        var out: [String] = []
        for path in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                throw HeadroomError(.noInput, "\(path): no such file or folder")
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
                    guard audio.contains(url.pathExtension.lowercased()) else { continue }
                    let full = url.standardizedFileURL.path
                    found.append(full.hasPrefix(prefix + "/") ? String(full.dropFirst(prefix.count + 1)) : full)
                }
                if let unreadable { throw HeadroomError(.noInput, unreadable) }
                out += found.sorted().map { (path as NSString).appendingPathComponent($0) }
            } else if path.hasSuffix(".clips.jsonl") {
                let base = String(path.dropLast(".clips.jsonl".count))
                let match = audio.sorted().map { base + "." + $0 }.first { FileManager.default.fileExists(atPath: $0) }
                out.append(match ?? base + ".wav")
            } else {
                out.append(path)
            }
        }
        return out
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
            ("seconds", .seconds(seconds)), ("started", started.map(JSONValue.string) ?? .null),
            ("complete", .bool(complete)), ("log_state", .string(logState)),
            (
                "channels",
                .array(
                    channels.map {
                        .object([
                            ("channel", .int($0.channel)), ("name", .string($0.name)),
                            ("clip_events", .int($0.clipEvents)),
                            ("hot_events", .int($0.hotEvents)), ("true_peak_dbtp", .decibels($0.truePeakDBTP)),
                            ("integrated_lufs", .decibels($0.loudness?.integratedLUFS)),
                            ("loudness_range_lu", .decibels($0.loudness?.rangeLU)),
                        ])
                    }
                )
            ),
            ("xruns", .int(xruns)), ("gaps", .int(gaps)), ("dropped_frames", .int(droppedFrames)),
        ])
    }
}
