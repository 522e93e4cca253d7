/// Warning lines that would otherwise repeat for as long as the recording runs: a kick that
/// runs hot on every beat, a vocal that clips in every phrase, a device that overruns every
/// second. A channel's lines of one kind (the device's, for losses) are all shown until five
/// have come within a minute of audio; from then on that channel's events of that kind are
/// counted and said once a minute, until a minute goes by without one. An unattended
/// recorder's journal then reads one line a minute for a channel that clips all evening,
/// where it had two a clip, and a line that matters (a device lost, a disk filling) is not
/// lost among them, or to journald's rate limit. The clip log, the cue markers, the meter
/// and the metrics keep every event: only the lines are fewer.
///
/// Frames are the take's, so a minute is a minute of audio, not of the clock: an unpaced
/// source gives the lines real time gives. Each take starts afresh.
struct RepeatedWarnings {
    /// The lines that can repeat, by the word they start with.
    enum Kind: String {
        case clip = "CLIP"
        case hot = "HOT"
        case flat = "FLAT"
        case xrun = "XRUN"
        case gap = "GAP"
        case dropped = "DROPPED"
    }

    /// A kind of line for one channel (-1: the device, for losses).
    struct Key: Hashable, Comparable {
        var kind: Kind
        var channel: Int

        static func < (a: Key, b: Key) -> Bool { (a.channel, a.kind.rawValue) < (b.channel, b.kind.rawValue) }
    }

    /// The events of one kind a channel had while its lines were held, from frame `from`
    /// up to `to`: how many, the largest figure among them (a true peak, a flat-top level),
    /// and the frames they lost in all (losses).
    struct Held: Equatable {
        var key: Key
        var from: Int
        var to: Int
        var count = 0
        var worst: Double? = nil
        var frames = 0
    }

    enum Verdict: Equatable {
        /// Show the event's line.
        case show
        /// The line that would be the sixth within a minute: say that this channel's lines
        /// of this kind come once a minute from here (the event is the first one counted).
        case holdFromNow
        /// Counted, for the next once-a-minute line.
        case held
    }

    /// Lines shown within one window before the rest are held.
    static let shown = 5
    /// The window, in frames (a minute of audio).
    let window: Int

    private var recent: [Key: [Int]] = [:]
    private var holding: [Key: Held] = [:]

    init(rate: Int) {
        window = 60 * rate
    }

    /// Whether the line of an event of `key` at take frame `frame` is shown; `worst` and
    /// `frames` are the event's figure and lost frames, added to the count when it is not.
    mutating func admit(_ key: Key, at frame: Int, worst: Double? = nil, frames: Int = 0) -> Verdict {
        if var held = holding[key] {
            held.count += 1
            if let worst { held.worst = max(held.worst ?? worst, worst) }
            held.frames += frames
            holding[key] = held
            return .held
        }
        var shown = recent[key, default: []]
        if shown.count == Self.shown, frame - shown[0] < window {
            holding[key] = Held(key: key, from: frame, to: frame, count: 1, worst: worst, frames: frames)
            return .holdFromNow
        }
        if shown.count == Self.shown { shown.removeFirst() }
        shown.append(frame)
        recent[key] = shown
        return .show
    }

    /// Whether `key`'s lines are being held (a "still hot" line then waits too).
    func isHolding(_ key: Key) -> Bool { holding[key] != nil }

    /// The held counts whose minute has ended by take frame `frame`, in channel order, each
    /// to be said in one line. A key whose minute passed with no event goes back to showing
    /// every line.
    mutating func due(at frame: Int) -> [Held] {
        guard !holding.isEmpty else { return [] }
        var lines: [Held] = []
        for key in holding.keys.sorted() {
            guard var held = holding[key], frame >= held.from + window else { continue }
            if held.count == 0 {
                holding[key] = nil
                recent[key] = nil
                continue
            }
            held.to = held.from + window
            lines.append(held)
            holding[key] = Held(key: key, from: held.to, to: held.to)
        }
        return lines
    }

    /// The counts not yet said, up to take frame `frame` (the take's end), and a fresh start.
    mutating func finish(at frame: Int) -> [Held] {
        let lines = holding.values.filter { $0.count > 0 }.map { held -> Held in
            var held = held
            held.to = frame
            return held
        }
        holding = [:]
        recent = [:]
        return lines.sorted { $0.key < $1.key }
    }
}
