import CHeadroomKernels
import Foundation

/// The largest take file a folder can hold, where that is small enough to plan for: FAT
/// (SD cards and USB sticks as they come: 4 GiB less a byte per file) and the process's
/// file size limit (`ulimit -f`). A take that reached it would end with a write error and
/// the recording would stop; the recorder splits takes before it instead, as
/// `--max-take-seconds` does, so no frame is lost (hardware recorders split at FAT's limit
/// the same way).
public struct FileSizeLimit: Sendable, Equatable {
    public let bytes: Int
    /// Why, for the note at start: "files on FAT stop at 4.0 GiB".
    public let reason: String

    public init(bytes: Int, reason: String) {
        self.bytes = bytes
        self.reason = reason
    }

    /// The limit for take files in `directory`, or nil where there is none to plan for.
    public static func of(directory: String) -> FileSizeLimit? {
        var limits: [FileSizeLimit] = []
        if let limit = forFileSystem(type: hr_file_system_type(directory)) { limits.append(limit) }
        var rlimit = rlimit()
        if getrlimit(Int32(RLIMIT_FSIZE.rawValue), &rlimit) == 0, rlimit.rlim_cur != rlim_t.max,  // RLIM_INFINITY
            rlimit.rlim_cur < UInt64(Int.max)
        {
            let bytes = Int(rlimit.rlim_cur)
            limits.append(FileSizeLimit(bytes: bytes, reason: "the file size limit (ulimit -f) is \(size(bytes))"))
        }
        return limits.min { $0.bytes < $1.bytes }
    }

    /// A file system's own limit by its `statfs` type, where it is one to plan for. (glibc's
    /// `pathconf(_PC_FILESIZEBITS)` answers 32 bits for every type it does not list, tmpfs
    /// and exFAT among them, so it cannot tell.)
    public static func forFileSystem(type: Int) -> FileSizeLimit? {
        switch type {
        // MSDOS_SUPER_MAGIC: vfat and msdos (exFAT has its own type and no such limit).
        case 0x4d44: FileSizeLimit(bytes: (1 << 32) - 1, reason: "files on FAT stop at 4 GiB")
        default: nil
        }
    }

    /// Frames of `bytesPerFrame` that a take can hold, with room left for its header and
    /// for the metadata added when it closes (bext, iXML, a cue marker per event): 16 MiB,
    /// or a 64th of the limit where that is less. At least one second's worth is never
    /// promised: a limit too small for that gives what fits (at least one frame).
    public func frames(bytesPerFrame: Int) -> Int {
        let room = bytes - min(16 << 20, bytes / 64)
        return max(room / max(bytesPerFrame, 1), 1)
    }

    static func size(_ bytes: Int) -> String {
        bytes >= 1 << 30
            ? String(format: "%.1f GiB", Double(bytes) / Double(1 << 30))
            : bytes >= 1 << 20
                ? String(format: "%.1f MiB", Double(bytes) / Double(1 << 20)) : "\(bytes) bytes"
    }
}
