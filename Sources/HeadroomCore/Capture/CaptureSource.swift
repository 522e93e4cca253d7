/// What the capture thread reads from: an ALSA PCM (``ALSACapture``) or, in tests that
/// need faults no rig can make, a scripted source.
///
/// Every method but `open`/`close` runs on the capture thread and must be real-time
/// safe: no allocation, no lock, no logging, no disk I/O.
public protocol CaptureSource: AnyObject {
    var rate: Int { get }
    var channels: Int { get }
    var format: SampleFormat { get }
    /// Frames per period; the ring's blocks hold this many.
    var periodFrames: Int { get }
    /// Frames the device buffers (an upper bound on latency before an overrun).
    var bufferFrames: Int { get }
    /// Starts capture.
    func start() throws(ALSAError)
    /// Waits up to `timeoutMilliseconds` for frames, then reads up to `frames` into `buffer`.
    /// Real-time safe.
    func read(into buffer: UnsafeMutableRawPointer, frames: Int, timeoutMilliseconds: Int32) -> CaptureRead
    /// Frames the device holds that have not been read yet (`snd_pcm_avail`); 0 when it
    /// cannot say. With the frames already read, this is where the device's clock stands.
    /// Real-time safe.
    func available() -> Int
    /// Recovers from an xrun or a suspend; `false` when the device cannot go on.
    /// Real-time safe.
    func recover(from error: ALSAError) -> Bool
    /// Stops capture and releases the device.
    func close()
    /// The PCMs between the converter and headroom, outermost first (``PCMPath``); empty
    /// when unknown.
    var path: [String] { get }
    /// The converter's significant bits when they are fewer than `format`'s and nothing on
    /// the way changes sample values (a 16-bit card read as S24_3LE through `plughw`): its
    /// full scale is where samples clip. nil: `format`'s own.
    var converterBits: Int? { get }
}

extension CaptureSource {
    public var path: [String] { [] }
    public var converterBits: Int? { nil }
}

/// The outcome of one ``CaptureSource/read(into:frames:timeoutMilliseconds:)``.
public enum CaptureRead: Equatable, Sendable {
    /// This many frames were read (at least 1).
    case frames(Int)
    /// Nothing arrived within the timeout.
    case timeout
    /// The device reported an error.
    case error(ALSAError)
}
