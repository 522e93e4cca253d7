import CSndFile
import Foundation

/// The BWF `bext` chunk headroom writes into WAV/RF64 takes: originator `headroom`,
/// origination date and time, and the time reference (samples since midnight).
public struct BroadcastInfo: Sendable, Equatable {
    public var description: String
    public var originator = "headroom"
    public var originatorReference: String
    /// `yyyy-mm-dd`, local time.
    public var originationDate: String
    /// `hh:mm:ss`, local time.
    public var originationTime: String
    /// Samples since local midnight at the take's first frame.
    public var timeReference: UInt64

    /// The fields for a take that starts at `start`, recorded at `rate`.
    public init(start: Date, rate: Int, description: String, reference: String) {
        self.description = description
        originatorReference = reference
        var t = time_t(start.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&t, &parts)
        originationDate = String(
            format: "%04d-%02d-%02d",
            Int(parts.tm_year) + 1900,
            Int(parts.tm_mon) + 1,
            Int(parts.tm_mday)
        )
        originationTime = String(format: "%02d:%02d:%02d", Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        let fraction = start.timeIntervalSince1970 - start.timeIntervalSince1970.rounded(.down)
        let seconds = Double(Int(parts.tm_hour) * 3600 + Int(parts.tm_min) * 60 + Int(parts.tm_sec)) + fraction
        timeReference = UInt64((seconds * Double(rate)).rounded(.down))
    }

    /// A unique OriginatorReference in EBU R 99's layout (32 characters): country `ZZ`
    /// (user-assigned), organisation `HDR`, a 12-character serial of this machine (from
    /// `/etc/machine-id`, else the host name), the origination time `hhmmss`, and 9 digits
    /// from the take's path and start time. The same take always gets the same reference,
    /// so `bext` and iXML's `FILE_UID` agree.
    public static func uniqueReference(start: Date, path: String) -> String {
        func fnv(_ text: String) -> UInt64 {
            text.utf8.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        }
        let machine =
            (try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ProcessInfo.processInfo.hostName
        let serial = String(String(format: "%016llX", fnv(machine)).prefix(12))
        var t = time_t(start.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&t, &parts)
        let time = String(format: "%02d%02d%02d", Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        let nanos = Int64((start.timeIntervalSince1970 * 1e9).rounded())
        let random = String(format: "%09llu", fnv("\(path)|\(nanos)") % 1_000_000_000)
        return "ZZHDR" + serial + time + random
    }

    /// libsndfile's struct, strings copied into its fixed-size fields.
    var sndfile: SF_BROADCAST_INFO {
        var info = SF_BROADCAST_INFO()
        Self.copy(description, into: &info.description)
        Self.copy(originator, into: &info.originator)
        Self.copy(originatorReference, into: &info.originator_reference)
        Self.copy(originationDate, into: &info.origination_date)
        Self.copy(originationTime, into: &info.origination_time)
        info.time_reference_low = UInt32(truncatingIfNeeded: timeReference)
        info.time_reference_high = UInt32(truncatingIfNeeded: timeReference >> 32)
        info.version = 1
        return info
    }

    /// When the recording began, `yyyy-mm-ddThh:mm:ss` on the recorder's clock (no time zone:
    /// BWF's date and time are local), from the origination date and time; nil where they do
    /// not hold one. Between the numbers any separator will do: EBU Tech 3285 allows any and
    /// recommends one of `-_:. ` (`2026:11:20`, `14.05.33`).
    public var started: String? {
        let date = Array(originationDate.utf8)
        let time = Array(originationTime.utf8)
        guard date.count == 10, time.count == 8 else { return nil }
        func number(_ bytes: [UInt8], _ range: Range<Int>) -> Int? {
            guard bytes[range].allSatisfy({ (48...57).contains($0) }) else { return nil }
            return Int(String(decoding: bytes[range], as: UTF8.self))
        }
        func separator(_ byte: UInt8) -> Bool { !(48...57).contains(byte) }
        guard separator(date[4]), separator(date[7]), separator(time[2]), separator(time[5]),
            let year = number(date, 0..<4), let month = number(date, 5..<7), let day = number(date, 8..<10),
            let hour = number(time, 0..<2), let minute = number(time, 3..<5), let second = number(time, 6..<8),
            year > 0, (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute, second)
    }

    /// Reads the `bext` chunk of an open file, if it has one.
    static func read(from file: OpaquePointer) -> BroadcastInfo? {
        var info = SF_BROADCAST_INFO()
        guard
            sf_command(file, Int32(SFC_GET_BROADCAST_INFO), &info, Int32(MemoryLayout<SF_BROADCAST_INFO>.size))
                == Int32(SF_TRUE)
        else {
            return nil
        }
        var out = BroadcastInfo(start: Date(timeIntervalSince1970: 0), rate: 1, description: "", reference: "")
        out.description = string(&info.description)
        out.originator = string(&info.originator)
        out.originatorReference = string(&info.originator_reference)
        out.originationDate = string(&info.origination_date)
        out.originationTime = string(&info.origination_time)
        out.timeReference = UInt64(info.time_reference_low) | UInt64(info.time_reference_high) << 32
        return out
    }

    private static func copy<T>(_ text: String, into field: inout T) {
        withUnsafeMutableBytes(of: &field) { raw in
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            for (i, byte) in text.utf8.prefix(raw.count).enumerated() { raw[i] = byte }
        }
    }

    private static func string<T>(_ field: inout T) -> String {
        withUnsafeBytes(of: &field) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
