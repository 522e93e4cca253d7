/// One clip event (SPEC: qualifying runs in one channel, merged within `clip_hold`).
///
/// Frames count from the start of the take; `endFrame` is one past the last clipped sample.
public struct ClipEvent: Sendable, Equatable {
    /// 0-based channel index (logs and people see `channel + 1`).
    public var channel: Int
    public var startFrame: Int
    public var endFrame: Int
    /// Sum of the lengths of the event's qualifying runs, samples.
    public var clippedSamples: Int
    public var runs: Int
    /// The longest qualifying run, samples.
    public var longestRun: Int
    /// Largest sample magnitude inside the event, dBFS.
    public var peakDBFS: Double
    /// Largest true peak inside the event, dBTP.
    public var truePeakDBTP: Double
    /// How far above the clip level the unclipped waveform is estimated to have gone, dB
    /// (SPEC's `over_db`); nil when no run of the event could be estimated.
    public var overDB: Double? = nil
    /// `overDB` is only a lower bound (fewer than half of the runs could be estimated).
    public var overBound = false
}

/// A flat event: waveform tops flattened at one level below the clip level (a preamp or a
/// limiter clipping before the converter; a gain stage or resampler after it).
public struct FlatEvent: Sendable, Equatable {
    public enum Polarity: String, Sendable, Equatable {
        case positive, negative, both
    }
    public var channel: Int
    public var startFrame: Int
    /// One past the last flat-topped lobe.
    public var endFrame: Int
    /// The ceiling's level, dBFS.
    public var levelDBFS: Double
    public var polarity: Polarity
    /// Flat-topped lobes counted in the event.
    public var lobes: Int
    /// Estimated overshoot above the ceiling, dB; nil when it could not be estimated.
    public var overDB: Double?
}

/// A hot event: a burst whose true peak exceeded `-margin` dBTP without a qualifying clip run.
public struct HotEvent: Sendable, Equatable {
    public var channel: Int
    public var startFrame: Int
    /// One past the last frame that was over the margin.
    public var endFrame: Int
    public var truePeakDBTP: Double
}

/// A change in a channel's gain proposal, at `frame`.
public struct GainEvent: Sendable, Equatable {
    public var channel: Int
    public var proposal: GainProposal
    public var frame: Int
}

/// Everything that goes into a clip log between its `take` header and its `summary`.
public enum Event: Sendable, Equatable {
    case clip(ClipEvent)
    case flat(FlatEvent)
    case hot(HotEvent)
    case gain(GainEvent)
    /// The device reported an overrun (`-EPIPE`) or a suspend; `lostFrames` estimated
    /// from the device clock, written as silence so the take stays time-accurate.
    case xrun(frame: Int, lostFrames: Int)
    /// Frames lost with no error from the device (the clock ran ahead of the data).
    case gap(frame: Int, lostFrames: Int)
    /// The ring between the capture thread and the writer overflowed.
    case dropped(frame: Int, lostFrames: Int)
    /// The analyzer's ring overflowed: the take has these frames, the analysis does not
    /// (a `dropped` line with `"in":"analysis"`).
    case analysisDropped(frame: Int, lostFrames: Int)
    /// The device went away (unplugged, or stopped delivering frames).
    case deviceLost(frame: Int, reason: String)
    /// The disk filled up or a write failed; the take was closed at `frame`.
    case disk(frame: Int, reason: String)
    /// The device came back and this take follows on from `previous`.
    case resumed(frame: Int, previous: String)
    /// A person marked this moment (the `m` key, SIGUSR2), with an optional label.
    case marker(frame: Int, label: String?)

    /// The frame the event starts at (where a person would jump to).
    public var frame: Int {
        switch self {
        case .clip(let e): e.startFrame
        case .flat(let e): e.startFrame
        case .hot(let e): e.startFrame
        case .gain(let e): e.frame
        case .xrun(let f, _), .gap(let f, _), .dropped(let f, _), .analysisDropped(let f, _): f
        case .deviceLost(let f, _), .disk(let f, _), .resumed(let f, _): f
        case .marker(let f, _): f
        }
    }

    /// A clip, flat or hot event: what a channel's figures count (not a proposal or a loss).
    public var isFinding: Bool {
        switch self {
        case .clip, .flat, .hot: true
        default: false
        }
    }

    /// The 0-based channel of a per-channel event.
    public var channel: Int? {
        switch self {
        case .clip(let e): e.channel
        case .flat(let e): e.channel
        case .hot(let e): e.channel
        case .gain(let e): e.channel
        default: nil
        }
    }

    /// SPEC's `type` field.
    public var typeName: String {
        switch self {
        case .clip: "clip"
        case .flat: "flat"
        case .hot: "hot"
        case .gain: "gain"
        case .xrun: "xrun"
        case .gap: "gap"
        case .dropped, .analysisDropped: "dropped"
        case .deviceLost: "device_lost"
        case .disk: "disk"
        case .resumed: "resumed"
        case .marker: "marker"
        }
    }
}
