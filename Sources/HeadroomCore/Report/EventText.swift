import Foundation

/// Event lines as a person reads them (`review --events`, Audacity labels).
public enum EventText {
    /// `hh:mm:ss.mmm`.
    public static func timecode(seconds: Double) -> String {
        let ms = Int((seconds * 1000).rounded())
        return String(format: "%02d:%02d:%02d.%03d", ms / 3_600_000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000)
    }

    /// Where an event starts and ends, seconds; nil for lines that are not events (gain).
    public static func span(_ e: [String: Any], rate: Int) -> (start: Double, end: Double)? {
        let r = Double(rate)
        switch e["type"] as? String {
        case "clip", "hot":
            guard let s = e["start_frame"] as? Int, let end = e["end_frame"] as? Int else { return nil }
            return (Double(s) / r, Double(end) / r)
        case "xrun", "gap", "dropped":
            guard let f = e["frame"] as? Int else { return nil }
            return (Double(f) / r, Double(f + (e["lost_frames"] as? Int ?? 0)) / r)
        case "device_lost", "disk", "resumed", "marker":
            guard let f = e["frame"] as? Int else { return nil }
            return (Double(f) / r, Double(f) / r)
        default:
            return nil
        }
    }

    /// "error", "warning" or "info": how much it matters.
    public static func severity(_ e: [String: Any]) -> String {
        switch e["type"] as? String {
        case "clip", "device_lost", "disk", "dropped", "xrun", "gap": "error"
        case "hot": "warning"
        default: "info"
        }
    }

    /// "CLIP ch1 Vox: 9 samples in 2 runs, +1.2 dBTP".
    public static func describe(_ e: [String: Any]) -> String {
        // The name comes from the log: a line feed in it must not start a new line or label.
        let who = (e["channel"] as? Int).map { "ch\($0) \(DisplayText.escaped(e["name"] as? String ?? ""))" } ?? ""
        func db(_ key: String) -> String {
            guard let v = e[key] as? Double else { return "?" }
            return String(format: "%+.1f", v)
        }
        switch e["type"] as? String ?? "" {
        case "clip":
            return
                "CLIP \(who): \(e["clipped_samples"] as? Int ?? 0) samples in \(e["runs"] as? Int ?? 0) run(s), \(db("true_peak_dbtp")) dBTP"
        case "hot": return "HOT \(who): \(db("true_peak_dbtp")) dBTP"
        case "gain":
            let p = (e["proposal_db"] as? Double).map { String(format: "%+.1f dB", $0) } ?? "no signal"
            return "GAIN \(who): \(p) (\(e["reason"] as? String ?? ""))"
        case "xrun", "gap", "dropped":
            return "\((e["type"] as! String).uppercased()): \(e["lost_frames"] as? Int ?? 0) frames lost"
        case "device_lost": return "DEVICE LOST: \(e["reason"] as? String ?? "")"
        case "disk": return "DISK: \(e["reason"] as? String ?? "")"
        case "resumed": return "RESUMED after \(e["previous"] as? String ?? "")"
        case "marker": return (e["label"] as? String).map { "MARKER \(DisplayText.escaped($0))" } ?? "MARKER"
        case let other: return other.uppercased()
        }
    }

    /// An Audacity label track: `start<TAB>end<TAB>text`, seconds, one label per event.
    public static func audacityLabels(_ events: [[String: Any]], rate: Int) -> String {
        var out = ""
        for e in events {
            guard let (s, end) = span(e, rate: rate) else { continue }
            out += String(format: "%.6f\t%.6f\t", s, end) + "[\(severity(e))] " + describe(e) + "\n"
        }
        return out
    }
}
