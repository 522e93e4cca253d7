import Foundation

/// One line of a clip log read back, typed: the `take` header, an ``Event`` (the same
/// type the recorder and `analyze` write), the `summary`, or a type this version does
/// not know (skipped, as docs/clip-log.md asks: a newer log never breaks an older reader). Fields a
/// line carries that this version does not know are ignored.
public enum ClipLogLine: Sendable, Equatable {
    case take(ClipLog.Header)
    case event(Event)
    case summary(SummaryLine)
    case unknown(type: String)

    /// Why a line cannot be read: the sentence after `file:line: `.
    public struct Problem: Error, Equatable {
        public var message: String
    }

    /// Decodes one line. A field of the wrong type (a frame given as a string), a
    /// negative frame or a channel outside the take is a ``Problem`` naming the field.
    public static func decode(_ text: String) throws(Problem) -> ClipLogLine {
        let data = Data(text.utf8)
        let type: String
        do {
            type = try JSONDecoder().decode(TypeOnly.self, from: data).type
        } catch {
            throw Problem(message: "not a clip-log line (expected one JSON object with a \"type\")")
        }
        do {
            switch type {
            case "take": return .take(try JSONDecoder().decode(ClipLog.Header.self, from: data))
            case "summary": return .summary(try JSONDecoder().decode(SummaryLine.self, from: data).checked())
            default:
                guard let event = try JSONDecoder().decode(EventLine.self, from: data).event(type: type) else {
                    return .unknown(type: type)
                }
                return .event(event)
            }
        } catch let problem as Problem {
            throw problem
        } catch let error as DecodingError {
            throw Problem(message: "\(type) line skipped: \(Self.describe(error))")
        } catch {
            throw Problem(message: "\(type) line skipped: \(error)")
        }
    }

    private struct TypeOnly: Decodable { var type: String }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, let context):
            let key = context.codingPath.map(\.stringValue).filter { Int($0) == nil }.last ?? "?"
            let expected =
                type == String.self
                ? "text" : type == Bool.self ? "true or false" : type == Int.self ? "a whole number" : "a number"
            return "\"\(key)\" must be \(expected)"
        case .valueNotFound(_, let context), .dataCorrupted(let context):
            let key = context.codingPath.map(\.stringValue).filter { Int($0) == nil }.last ?? "?"
            return "\"\(key)\" is missing or null"
        case .keyNotFound(let key, _):
            return "\"\(key.stringValue)\" is missing"
        @unknown default:
            return "\(error)"
        }
    }
}

/// The `summary` line: how the take ended and each channel's figures. Built from the
/// analyzer's summaries by ``init(frames:rate:complete:channels:names:trouble:)`` and
/// written by ``json``; read back by ``ClipLogLine``. Levels are kept as written (two
/// decimals), so a summary read back equals the one written.
public struct SummaryLine: Decodable, Sendable, Equatable {
    public struct Channel: Decodable, Sendable, Equatable {
        /// 1-based, as the log has it.
        public var channel: Int
        public var name: String?
        public var peakDBFS: Double?
        public var truePeakDBTP: Double?
        public var rmsDBFS: Double?
        public var headroomDB: Double?
        public var clipEvents: Int
        public var clippedSamples: Int?
        public var hotEvents: Int?
        /// The clip overshoot (or, for a channel with flat tops and no clip, the overshoot
        /// above its ceiling), dB, and whether it is only a lower bound.
        public var overDB: Double?
        public var overBound: Bool?
        public var flatEvents: Int?
        public var flatLevelDBFS: Double?
        public var gainProposalDB: Double?
        public var reason: String?

        enum CodingKeys: String, CodingKey {
            case channel, name, reason
            case peakDBFS = "peak_dbfs"
            case truePeakDBTP = "true_peak_dbtp"
            case rmsDBFS = "rms_dbfs"
            case headroomDB = "headroom_db"
            case clipEvents = "clip_events"
            case clippedSamples = "clipped_samples"
            case hotEvents = "hot_events"
            case overDB = "over_db"
            case overBound = "over_bound"
            case flatEvents = "flat_events"
            case flatLevelDBFS = "flat_level_dbfs"
            case gainProposalDB = "gain_proposal_db"
        }
    }

    public var frames: Int
    public var seconds: Double?
    public var complete: Bool
    /// The recorder's counts; nil for `analyze`.
    public var xruns: Int?
    public var gaps: Int?
    public var droppedFrames: Int?
    public var channels: [Channel]

    enum CodingKeys: String, CodingKey {
        case frames, seconds, complete, xruns, gaps, channels
        case droppedFrames = "dropped_frames"
    }

    /// The summary as read, or the ``ClipLogLine/Problem`` of one with a length, a channel
    /// or a count no take has (a damaged log).
    func checked() throws(ClipLogLine.Problem) -> SummaryLine {
        guard frames >= 0, seconds.map({ $0 >= 0 && $0 <= 1e12 }) ?? true else {
            throw ClipLogLine.Problem(
                message:
                    "summary line skipped: \"frames\" and \"seconds\" must be 0 or more (and seconds at most 1e12), not \(frames) and \(seconds.map { String($0) } ?? "none")"
            )
        }
        for c in channels {
            let counts = [c.clipEvents, c.clippedSamples, c.hotEvents, c.flatEvents].compactMap { $0 }
            guard ClipLog.channelNumbers.contains(c.channel), counts.allSatisfy(ClipLog.counts.contains) else {
                throw ClipLogLine.Problem(
                    message:
                        "summary line skipped: a channel's \"channel\" must be 1 to 1024 and its counts 0 to 2^53, not channel \(c.channel) with \(counts)"
                )
            }
        }
        for (key, count) in [("xruns", xruns), ("gaps", gaps), ("dropped_frames", droppedFrames)] {
            guard let count, !ClipLog.counts.contains(count) else { continue }
            throw ClipLogLine.Problem(message: "summary line skipped: \"\(key)\" must be 0 to 2^53, not \(count)")
        }
        return self
    }

    /// The summary of a take: `trouble` is nil for `analyze` (it has no device).
    public init(
        frames: Int,
        rate: Int,
        complete: Bool,
        channels: [ChannelSummary],
        names: [String],
        trouble: ClipLog.Trouble?
    ) {
        func db(_ v: Double?) -> Double? { v.map { ($0 * 100).rounded() / 100 } }
        self.frames = frames
        seconds = (Double(frames) / Double(rate) * 1000).rounded() / 1000
        self.complete = complete
        xruns = trouble?.xruns
        gaps = trouble?.gaps
        droppedFrames = trouble?.droppedFrames
        self.channels = channels.map { s in
            Channel(
                channel: s.channel + 1,
                name: s.channel < names.count ? names[s.channel] : String(s.channel + 1),
                peakDBFS: db(s.peakDBFS),
                truePeakDBTP: db(s.truePeakDBTP),
                rmsDBFS: db(s.rmsDBFS),
                headroomDB: db(s.headroomDB),
                clipEvents: s.clipEvents,
                clippedSamples: s.clippedSamples,
                hotEvents: s.hotEvents,
                overDB: db(s.reportedOver.db),
                overBound: s.reportedOver.bound,
                flatEvents: s.flatEvents,
                flatLevelDBFS: db(s.overs.flatLevelDBFS),
                gainProposalDB: db(s.proposal.changeDB),
                reason: s.proposal.reason.rawValue
            )
        }
    }

    /// The line as the log has it.
    public var json: JSONValue {
        var fields: [(String, JSONValue)] = [
            ("type", .string("summary")), ("frames", .int(frames)), ("seconds", .seconds(seconds ?? 0)),
            ("complete", .bool(complete)),
        ]
        if let xruns, let gaps, let droppedFrames {
            fields += [("xruns", .int(xruns)), ("gaps", .int(gaps)), ("dropped_frames", .int(droppedFrames))]
        }
        let list: [JSONValue] = channels.map { c in
            .object([
                ("channel", .int(c.channel)), ("name", .string(c.name ?? String(c.channel))),
                ("peak_dbfs", .decibels(c.peakDBFS)), ("true_peak_dbtp", .decibels(c.truePeakDBTP)),
                ("rms_dbfs", .decibels(c.rmsDBFS)), ("headroom_db", .decibels(c.headroomDB)),
                ("clip_events", .int(c.clipEvents)), ("clipped_samples", .int(c.clippedSamples ?? 0)),
                ("hot_events", .int(c.hotEvents ?? 0)), ("over_db", .decibels(c.overDB)),
                ("over_bound", .bool(c.overBound ?? false)), ("flat_events", .int(c.flatEvents ?? 0)),
                ("flat_level_dbfs", .decibels(c.flatLevelDBFS)), ("gain_proposal_db", .decibels(c.gainProposalDB)),
                ("reason", .string(c.reason ?? "")),
            ])
        }
        fields.append(("channels", .array(list)))
        return .object(fields)
    }
}

/// Every field an event line may carry (docs/clip-log.md), decoded once and then turned into its
/// ``Event``.
private struct EventLine: Decodable {
    var channel: Int?
    var frame: Int?
    var startFrame: Int?
    var endFrame: Int?
    var clippedSamples: Int?
    var runs: Int?
    var longestRun: Int?
    var peakDBFS: Double?
    var truePeakDBTP: Double?
    var proposalDB: Double?
    var reason: String?
    var lostFrames: Int?
    var previous: String?
    var label: String?
    var within: String?
    var overDB: Double?
    var overBound: Bool?
    var levelDBFS: Double?
    var polarity: String?
    var lobes: Int?

    enum CodingKeys: String, CodingKey {
        case channel, frame, runs, reason, previous, label
        case startFrame = "start_frame"
        case endFrame = "end_frame"
        case clippedSamples = "clipped_samples"
        case longestRun = "longest_run"
        case peakDBFS = "peak_dbfs"
        case truePeakDBTP = "true_peak_dbtp"
        case proposalDB = "proposal_db"
        case lostFrames = "lost_frames"
        case within = "in"
        case overDB = "over_db"
        case overBound = "over_bound"
        case levelDBFS = "level_dbfs"
        case polarity, lobes
    }

    /// The event, or nil for a type this version does not know.
    func event(type: String) throws(ClipLogLine.Problem) -> Event? {
        func need<T>(_ value: T?, _ key: String) throws(ClipLogLine.Problem) -> T {
            guard let value else { throw ClipLogLine.Problem(message: "\(type) line skipped: \"\(key)\" is missing") }
            return value
        }
        func count(_ value: Int?, _ key: String) throws(ClipLogLine.Problem) -> Int {
            let v = try need(value, key)
            guard v >= 0 else {
                throw ClipLogLine.Problem(
                    message: "\(type) line skipped: \"\(key)\" must be a whole number >= 0, not \(v)"
                )
            }
            guard ClipLog.counts.contains(v) else {
                throw ClipLogLine.Problem(message: "\(type) line skipped: \"\(key)\" must be at most 2^53, not \(v)")
            }
            return v
        }
        func ch() throws(ClipLogLine.Problem) -> Int {
            let c = try need(channel, "channel")
            guard c >= 1 else {
                throw ClipLogLine.Problem(message: "\(type) line skipped: \"channel\" counts from 1, not \(c)")
            }
            return c - 1
        }
        switch type {
        case "clip":
            return .clip(
                ClipEvent(
                    channel: try ch(),
                    startFrame: try count(startFrame, "start_frame"),
                    endFrame: try count(endFrame, "end_frame"),
                    clippedSamples: try count(clippedSamples ?? 0, "clipped_samples"),
                    runs: try count(runs ?? 0, "runs"),
                    longestRun: try count(longestRun ?? 0, "longest_run"),
                    peakDBFS: peakDBFS ?? 0,
                    truePeakDBTP: truePeakDBTP ?? peakDBFS ?? 0,
                    overDB: overDB,
                    overBound: overBound ?? false
                )
            )
        case "flat":
            guard let side = FlatEvent.Polarity(rawValue: try need(polarity, "polarity")) else {
                throw ClipLogLine.Problem(
                    message: "flat line skipped: \"polarity\" must be positive, negative or both"
                )
            }
            return .flat(
                FlatEvent(
                    channel: try ch(),
                    startFrame: try count(startFrame, "start_frame"),
                    endFrame: try count(endFrame, "end_frame"),
                    levelDBFS: try need(levelDBFS, "level_dbfs"),
                    polarity: side,
                    lobes: try count(lobes ?? 0, "lobes"),
                    overDB: overDB
                )
            )
        case "hot":
            return .hot(
                HotEvent(
                    channel: try ch(),
                    startFrame: try count(startFrame, "start_frame"),
                    endFrame: try count(endFrame, "end_frame"),
                    truePeakDBTP: truePeakDBTP ?? 0
                )
            )
        case "gain":
            let why = GainReason(rawValue: try need(reason, "reason")) ?? .ok
            return .gain(
                GainEvent(
                    channel: try ch(),
                    proposal: GainProposal(reason: why, changeDB: proposalDB),
                    frame: try count(frame, "frame")
                )
            )
        case "xrun": return .xrun(frame: try count(frame, "frame"), lostFrames: try count(lostFrames, "lost_frames"))
        case "gap": return .gap(frame: try count(frame, "frame"), lostFrames: try count(lostFrames, "lost_frames"))
        case "dropped":
            let (f, n) = (try count(frame, "frame"), try count(lostFrames, "lost_frames"))
            return within == "analysis" ? .analysisDropped(frame: f, lostFrames: n) : .dropped(frame: f, lostFrames: n)
        case "device_lost": return .deviceLost(frame: try count(frame, "frame"), reason: reason ?? "")
        case "disk": return .disk(frame: try count(frame, "frame"), reason: reason ?? "")
        case "resumed": return .resumed(frame: try count(frame, "frame"), previous: previous ?? "")
        case "marker": return .marker(frame: try count(frame, "frame"), label: label)
        default: return nil
        }
    }
}
