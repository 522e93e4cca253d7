/// An error a person sees: one sentence naming the file, device or key at fault, and
/// the exit code SPEC gives for it.
public struct HeadroomError: Error, Equatable, CustomStringConvertible {
    /// SPEC's exit codes (sysexits.h).
    public enum Code: Int32, Sendable {
        /// `--fail-on-clip` tripped.
        case clipped = 1
        /// EX_USAGE: a bad option or config value.
        case usage = 64
        /// EX_NOINPUT: an input file is missing or unreadable.
        case noInput = 66
        /// EX_UNAVAILABLE: the device cannot be opened or cannot do what was asked.
        case unavailable = 69
        /// EX_CANTCREAT: an output file or folder cannot be created.
        case cantCreate = 73
        /// EX_IOERR: disk full, device lost mid-take.
        case io = 74
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
