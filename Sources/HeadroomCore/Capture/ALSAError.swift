import CALSA
import Glibc

/// A negative errno returned by an ALSA call, with names for the codes capture handles.
public struct ALSAError: RawRepresentable, Error, Equatable, Sendable, CustomStringConvertible {
    /// The negative errno, as ALSA returns it.
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `-EPIPE`: an overrun (xrun); prepare the PCM and go on.
    public static let xrun = ALSAError(rawValue: -EPIPE)
    /// `-ESTRPIPE`: the device was suspended; resume it, else prepare.
    public static let suspended = ALSAError(rawValue: -ESTRPIPE)
    /// `-EAGAIN`: no frames ready on a non-blocking PCM; wait.
    public static let again = ALSAError(rawValue: -EAGAIN)
    /// `-ENODEV`: the device is gone (an unplugged USB interface).
    public static let noDevice = ALSAError(rawValue: -ENODEV)
    /// `-EINTR`: a signal interrupted the call.
    public static let interrupted = ALSAError(rawValue: -EINTR)
    /// `-EBADFD`: the PCM is in a state where reading makes no sense.
    public static let badState = ALSAError(rawValue: -EBADFD)
    /// `-ENOENT`: no such PCM or card.
    public static let noEntry = ALSAError(rawValue: -ENOENT)

    /// `snd_strerror`.
    public var description: String { String(cString: snd_strerror(rawValue)) }
}

/// Calls an ALSA function, retrying while it answers `-EINTR`; throws other negative results.
@discardableResult
func alsaCall(_ body: () -> Int32) throws(ALSAError) -> Int32 {
    while true {
        let r = body()
        if r == -EINTR { continue }
        if r < 0 { throw ALSAError(rawValue: r) }
        return r
    }
}
