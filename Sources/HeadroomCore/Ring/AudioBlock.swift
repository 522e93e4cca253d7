/// The header of one block in an ``SPSCRing``: where its frames sit in the recording,
/// and what happened just before them.
public struct AudioBlock: Sendable, Equatable {
    /// Why frames were lost before this block.
    public enum Loss: UInt8, Sendable {
        case none = 0
        /// The device reported an overrun (`-EPIPE`) or a suspend.
        case xrun
        /// The device clock ran ahead of the frames received (no error reported).
        case gap
        /// The ring was full: the consumer fell behind.
        case dropped
    }

    /// Frames since capture started, counting lost frames, of this block's first frame.
    public var frameIndex: Int = 0
    /// Frames of audio in the block's payload (0 for a marker-only block).
    public var frames: Int = 0
    /// Frames lost just before this block (the consumer writes that much silence).
    public var lostFrames: Int = 0
    public var loss: Loss = .none
    /// Analyzer ring only: the writer ring had no room for this block, so its frames are
    /// silence in the take (the analyzer still sees them and logs the loss as `dropped`).
    public var missingFromTake = false
    /// Close the take before this block and start the next one (the `n` key).
    public var splitBefore = false
    /// The last block: the stream ends after it; `endReason` says why.
    public var isLast = false
    public var endReason: EndReason = .stopped

    public init() {}
}

/// Why a recording stopped.
public enum EndReason: UInt8, Sendable {
    /// Ctrl-C, SIGTERM, `q`, or the end of `--duration` (complete when the duration was reached).
    case stopped = 0
    /// `--duration` reached.
    case duration
    /// The device went away or stopped delivering frames.
    case deviceLost
    /// An ALSA error that cannot be recovered.
    case deviceError
    /// The writer could not write (disk full, I/O error).
    case disk
}
