import Foundation

/// What the live meter shows, published by the analyzer thread after every block.
public struct MeterSnapshot: Sendable {
    public struct Channel: Sendable {
        public var name: String
        /// Sample peak of the latest block, linear.
        public var blockPeak: Float = 0
        /// True peak of the latest block, linear.
        public var blockTruePeak: Float = 0
        /// Largest block true peak since the meter last read the snapshot, linear.
        public var truePeakSinceRead: Float = 0
        /// Loudest true peak of the take so far, linear.
        public var takeTruePeak: Float = 0
        /// Qualifying clip runs (overs) since the recording started: the status line's overs.
        public var clipRuns = 0
        /// Clip events closed since the recording started (see ``latchedClips`` for the open one).
        public var clipEvents = 0
        public var isClipping = false
        /// Flat events (flat tops below the clip level) since the recording started.
        public var flatEvents = 0
        /// Hot events (closed) since the recording started.
        public var hotEvents = 0
        /// Clipped samples since the recording started: the closed events', and so far the open
        /// one's, so a channel that clips without a pause keeps the count rising.
        public var clippedSamples = 0
        /// Peak of the last second, linear (the meter's `headroom_channel_peak_dbfs`).
        public var peakLastSecond: Float = 0
        public var proposal = GainProposal(reason: .noSignal, changeDB: nil)

        /// What the meter's clip latch counts: clip events, the one still open included, as the
        /// log, `review` and the live page count them (not the overs inside them: a clipping
        /// sine is one event of hundreds of overs a second).
        public var latchedClips: Int { clipEvents + (isClipping ? 1 : 0) }
    }

    public var channels: [Channel]
    public var takeName = ""
    /// Frames in the current take.
    public var takeFrames = 0
    public var takeIndex = 0
    public var rate: Int
    public var xruns = 0
    public var gaps = 0
    public var droppedFrames = 0
    /// Frames lost to xruns and gaps, and how many times the writer's ring overflowed.
    public var xrunFrames = 0
    public var gapFrames = 0
    public var drops = 0
    /// Takes opened since the recording started.
    public var takes = 0
}
