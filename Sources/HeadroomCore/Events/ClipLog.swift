import Foundation

/// The clip log (docs/clip-log.md): JSON Lines, one object per line, `take` header first and `summary`
/// last. This type builds the lines; ``ClipLogFile`` appends them to disk.
public enum ClipLog {
    /// The log's schema version.
    public static let version = 1

    /// What a reader takes from a log (docs/clip-log.schema.json gives the same): channels
    /// numbered 1 to 1024, and frames and counts up to 2^53, JSON's exact whole numbers (743
    /// years at 384 kHz). Anything else is damage, and its line is skipped.
    public static let channelNumbers = 1...1024
    public static let counts = 0...(1 << 53)

    /// The `take` header: where the audio came from and the settings it was analyzed
    /// with. Written by ``headerLine(_:)``, read back by ``ClipLogLine``.
    public struct Header: Sendable, Equatable, Decodable {
        public var file: String
        /// ALSA PCM name; `nil` when analyzing a file.
        public var device: String?
        public var rate: Int
        public var channels: Int
        /// "S24_3LE", or libsndfile's encoding name for a file ("PCM_24").
        public var format: String
        public var names: [String]
        /// When the take started (or the file was analyzed).
        public var started: Date
        public var settings: AnalysisSettings
        /// The capture PCM's chain, outermost first (`["plug", "softvol", "hw"]`); nil for a
        /// file, or a log from before it was recorded.
        public var path: [String]?

        public init(
            file: String,
            device: String?,
            rate: Int,
            channels: Int,
            format: String,
            names: [String],
            started: Date,
            settings: AnalysisSettings,
            path: [String]? = nil
        ) {
            self.file = file
            self.device = device
            self.rate = rate
            self.channels = channels
            self.format = format
            self.names = names
            self.started = started
            self.settings = settings
            self.path = path
        }

        enum CodingKeys: String, CodingKey {
            case file, device, rate, channels, format, names, started, settings, path
        }

        /// Reads a header as written; fields a log from elsewhere leaves out take their
        /// defaults (no names: numbered channels; no settings: the defaults).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            file = try c.decode(String.self, forKey: .file)
            device = try c.decodeIfPresent(String.self, forKey: .device)
            rate = try c.decode(Int.self, forKey: .rate)
            channels = try c.decode(Int.self, forKey: .channels)
            // Every time and length in the log is reckoned from these: 0 Hz is damage.
            guard (1...10_000_000).contains(rate), ClipLog.channelNumbers.contains(channels) else {
                throw ClipLogLine.Problem(
                    message:
                        "take line skipped: \"rate\" must be 1 to 10000000 Hz and \"channels\" 1 to 1024, not \(rate) and \(channels)"
                )
            }
            format = try c.decodeIfPresent(String.self, forKey: .format) ?? ""
            names = try c.decodeIfPresent([String].self, forKey: .names) ?? []
            path = try c.decodeIfPresent([String].self, forKey: .path)
            let text = try c.decodeIfPresent(String.self, forKey: .started)
            started = text.flatMap(ClipLog.date(from:)) ?? Date(timeIntervalSince1970: 0)
            settings = AnalysisSettings()
            let given = try c.decodeIfPresent([String: Double].self, forKey: .settings) ?? [:]
            for setting in AnalysisSetting.all {
                guard let value = given[setting.key] else { continue }
                // A value no recorder writes is damage, and clip_run 1e300 trapped as a whole number.
                guard setting.range.contains(value), !setting.whole || value == value.rounded() else {
                    throw ClipLogLine.Problem(
                        message:
                            "take line skipped: settings \"\(setting.key)\" must be \(setting.allowed), not \(value)"
                    )
                }
                setting.set(&settings, value)
            }
        }
    }

    /// The `take` line.
    public static func headerLine(_ h: Header) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("type", .string("take")), ("version", .int(version)), ("file", .string(h.file)),
            ("device", h.device.map(JSONValue.string) ?? .null),
        ]
        if let path = h.path { fields.append(("path", .array(path.map(JSONValue.string)))) }
        return .object(
            fields + [
                ("rate", .int(h.rate)),
                ("channels", .int(h.channels)), ("format", .string(h.format)),
                ("names", .array(h.names.map(JSONValue.string))), ("started", .string(timestamp(h.started))),
                ("settings", settingsObject(h.settings)),
            ]
        )
    }

    /// The `settings` object of the header (and of `calibrate --json`).
    public static func settingsObject(_ s: AnalysisSettings) -> JSONValue {
        .object(
            AnalysisSetting.all.map { setting in
                let value = setting.get(s)
                return (setting.key, setting.whole ? .int(Int(value)) : .number(value, decimals: setting.decimals))
            }
        )
    }

    /// The line for one event; `names` are the channel names, `rate` turns frames into `time`.
    public static func eventLine(_ event: Event, names: [String], rate: Int) -> JSONValue {
        func channelFields(_ c: Int) -> [(String, JSONValue)] {
            [("channel", .int(c + 1)), ("name", .string(c < names.count ? names[c] : String(c + 1)))]
        }
        let time: (String, JSONValue) = ("time", .seconds(Double(event.frame) / Double(rate)))
        var fields: [(String, JSONValue)] = [("type", .string(event.typeName))]
        switch event {
        case .clip(let e):
            fields += channelFields(e.channel)
            fields += [
                ("start_frame", .int(e.startFrame)), ("end_frame", .int(e.endFrame)),
                ("clipped_samples", .int(e.clippedSamples)), ("runs", .int(e.runs)),
                ("longest_run", .int(e.longestRun)),
                ("peak_dbfs", .decibels(e.peakDBFS)), ("true_peak_dbtp", .decibels(e.truePeakDBTP)),
                ("over_db", .decibels(e.overDB)), ("over_bound", .bool(e.overBound)), time,
            ]
        case .flat(let e):
            fields += channelFields(e.channel)
            fields += [
                ("start_frame", .int(e.startFrame)), ("end_frame", .int(e.endFrame)),
                ("level_dbfs", .decibels(e.levelDBFS)), ("polarity", .string(e.polarity.rawValue)),
                ("lobes", .int(e.lobes)), ("over_db", .decibels(e.overDB)), time,
            ]
        case .hot(let e):
            fields += channelFields(e.channel)
            fields += [
                ("start_frame", .int(e.startFrame)), ("end_frame", .int(e.endFrame)),
                ("true_peak_dbtp", .decibels(e.truePeakDBTP)), time,
            ]
        case .gain(let e):
            fields += channelFields(e.channel)
            fields += [
                ("proposal_db", .decibels(e.proposal.changeDB)), ("reason", .string(e.proposal.reason.rawValue)),
                ("frame", .int(e.frame)), time,
            ]
        case .xrun(let frame, let lost), .gap(let frame, let lost), .dropped(let frame, let lost):
            fields += [("frame", .int(frame)), ("lost_frames", .int(lost)), time]
        case .analysisDropped(let frame, let lost):
            fields += [("frame", .int(frame)), ("lost_frames", .int(lost)), time, ("in", .string("analysis"))]
        case .deviceLost(let frame, let reason), .disk(let frame, let reason):
            fields += [("frame", .int(frame)), ("reason", .string(reason)), time]
        case .resumed(let frame, let previous):
            fields += [("frame", .int(frame)), ("previous", .string(previous)), time]
        case .marker(let frame, let label):
            fields += [("frame", .int(frame))]
            if let label { fields.append(("label", .string(label))) }
            fields.append(time)
        }
        return .object(fields)
    }

    /// Counts of recorder trouble for the `summary` line.
    public struct Trouble: Sendable, Equatable {
        public var xruns = 0
        public var gaps = 0
        public var droppedFrames = 0
        public init() {}
    }

    /// The `summary` line (``SummaryLine``). `trouble` is `nil` for `analyze` (it has no device).
    public static func summaryLine(
        frames: Int,
        rate: Int,
        complete: Bool,
        channels: [ChannelSummary],
        names: [String],
        trouble: Trouble?
    ) -> JSONValue {
        SummaryLine(frames: frames, rate: rate, complete: complete, channels: channels, names: names, trouble: trouble)
            .json
    }

    /// A ``timestamp(_:)`` read back (milliseconds kept).
    public static func date(from text: String) -> Date? {
        guard text.hasSuffix("Z") else { return nil }
        let n = text.split(whereSeparator: { !$0.isNumber }).compactMap { Int32($0) }
        guard n.count == 6 || n.count == 7 else { return nil }
        var parts = tm()
        (parts.tm_year, parts.tm_mon, parts.tm_mday) = (n[0] - 1900, n[1] - 1, n[2])
        (parts.tm_hour, parts.tm_min, parts.tm_sec) = (n[3], n[4], n[5])
        let seconds = timegm(&parts)
        guard seconds != -1 else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) + Double(n.count == 7 ? n[6] : 0) / 1000)
    }

    /// ISO 8601 in UTC with milliseconds: `2026-11-24T15:30:00.000Z`.
    public static func timestamp(_ date: Date) -> String {
        let ms = Int((date.timeIntervalSince1970 * 1000).rounded(.down))
        var t = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            Int(parts.tm_year) + 1900,
            Int(parts.tm_mon) + 1,
            Int(parts.tm_mday),
            Int(parts.tm_hour),
            Int(parts.tm_min),
            Int(parts.tm_sec),
            ms % 1000
        )
    }

    /// Whether `name` is channel `c`'s number (`c` from 0) or empty: the default name of a
    /// channel nobody named, which a display shows as the number alone ("ch3", not "ch3 3").
    public static func isNumberOnly(_ name: String, channel c: Int) -> Bool {
        name.isEmpty || name == String(c + 1)
    }

    /// Default channel names: "L", "R" for stereo, else "1", "2", ...; given names win.
    public static func channelNames(_ given: [String], channels: Int) -> [String] {
        (0..<channels).map { c in
            if c < given.count, !given[c].isEmpty { return given[c] }
            return channels == 2 ? ["L", "R"][c] : String(c + 1)
        }
    }
}
