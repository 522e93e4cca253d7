/// Where one take ends and the next begins under `--max-take-seconds`. The writer and the
/// analyzer each keep one and cut through it, so a take's file and its log always hold
/// the same frames.
struct TakeBoundary {
    /// Frames per take; `nil`: a take runs until it is stopped or split.
    let maxFrames: Int?
    /// Frames in the current take so far.
    private(set) var frames = 0

    init(maxFrames: Int?) { self.maxFrames = maxFrames }

    /// How many of `count` frames still fit in the current take.
    func fit(_ count: Int) -> Int { maxFrames.map { min(count, $0 - frames) } ?? count }

    /// Counts `count` frames into the take; true when they filled it.
    mutating func advance(_ count: Int) -> Bool {
        frames += count
        return maxFrames.map { frames >= $0 } ?? false
    }

    /// A new take begins.
    mutating func startTake() { frames = 0 }
}
