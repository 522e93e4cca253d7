import Foundation

/// One line of a clip log read back, typed: the `take` header, an ``Event`` (the same
/// type the recorder and `analyze` write), the `summary`, or a type this version does
/// not know (skipped, as docs/clip-log.md asks: a newer log never breaks an older reader). Fields a
/// line carries that this version does not know are ignored.
public enum ClipLogLine: Sendable, Equatable {
    case take(TakeHeaderLine)
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
            case "take": return .take(try JSONDecoder().decode(TakeHeaderLine.self, from: data))
            case "summary": return .summary(try JSONDecoder().decode(SummaryLine.self, from: data))
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

/// The `take` header of a clip log, as read back.
public struct TakeHeaderLine: Decodable, Sendable, Equatable {
    public var version: Int?
    public var file: String
    public var device: String?
    public var rate: Int
    public var channels: Int
    public var format: String?
    public var names: [String]?
    public var started: String?

    public init(
        version: Int? = ClipLog.version,
        file: String,
        device: String?,
        rate: Int,
        channels: Int,
        format: String?,
        names: [String]?,
        started: String?
    ) {
        self.version = version
        self.file = file
        self.device = device
        self.rate = rate
        self.channels = channels
        self.format = format
        self.names = names
        self.started = started
    }
}

/// The `summary` line of a clip log, as read back.
public struct SummaryLine: Decodable, Sendable, Equatable {
    public struct Channel: Decodable, Sendable, Equatable {
        /// 1-based, as the log has it.
        public var channel: Int
        public var name: String?
        public var truePeakDBTP: Double?
        public var clipEvents: Int
        public var hotEvents: Int?

        enum CodingKeys: String, CodingKey {
            case channel, name
            case truePeakDBTP = "true_peak_dbtp"
            case clipEvents = "clip_events"
            case hotEvents = "hot_events"
        }
    }

    public var frames: Int
    public var seconds: Double?
    public var complete: Bool
    public var xruns: Int?
    public var gaps: Int?
    public var droppedFrames: Int?
    public var channels: [Channel]

    enum CodingKeys: String, CodingKey {
        case frames, seconds, complete, xruns, gaps, channels
        case droppedFrames = "dropped_frames"
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
                    truePeakDBTP: truePeakDBTP ?? peakDBFS ?? 0
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
