import Foundation

/// Events as a person reads them (`review --events`, Audacity labels, the HTML report).
/// Channels are shown from 1; names come from the log and are escaped.
public enum EventText {
    /// `hh:mm:ss.mmm`. Any value gives one (a damaged log's can be anything): past about
    /// 285,000 years it stops counting, and NaN or less than 0 is 0.
    public static func timecode(seconds: Double) -> String {
        let ms = seconds > 0 ? Int(min(seconds * 1000, 9e15).rounded()) : 0
        return String(format: "%02ld:%02ld:%02ld.%03ld", ms / 3_600_000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000)
    }

    /// A take's start as a person reads it beside its name: a log's UTC ``ClipLog/timestamp(_:)`` in
    /// this machine's time zone, as the take's name has it (`take-20261206-052356.wav`, started
    /// `2026-12-06 05:23:56` in Berlin, not the log's `04:23:56.422Z`), with the zone's
    /// abbreviation where `zone` is asked for; a BWF start (local already, on the recorder's
    /// clock, no zone) as it is.
    public static func localTime(_ started: String, zone: Bool = false) -> String {
        guard let date = ClipLog.date(from: started) else {
            return String(started.prefix(19)).replacingOccurrences(of: "T", with: " ")
        }
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        localtime_r(&t, &parts)
        var text = [CChar](repeating: 0, count: 64)
        let written = strftime(&text, text.count, zone ? "%Y-%m-%d %H:%M:%S %Z" : "%Y-%m-%d %H:%M:%S", &parts)
        return String(decoding: text.prefix(written).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Where an event starts and ends, seconds; nil for lines that are not events (gain).
    public static func span(_ e: Event, rate: Int) -> (start: Double, end: Double)? {
        let r = Double(rate)
        switch e {
        case .clip(let x): return (Double(x.startFrame) / r, Double(x.endFrame) / r)
        case .flat(let x): return (Double(x.startFrame) / r, Double(x.endFrame) / r)
        case .hot(let x): return (Double(x.startFrame) / r, Double(x.endFrame) / r)
        case .xrun(let f, let lost), .gap(let f, let lost), .dropped(let f, let lost),
            .analysisDropped(let f, let lost):
            return (Double(f) / r, Double(f + lost) / r)
        case .deviceLost(let f, _), .disk(let f, _), .resumed(let f, _), .marker(let f, _):
            return (Double(f) / r, Double(f) / r)
        case .gain: return nil
        }
    }

    /// "error", "warning" or "info": how much it matters.
    public static func severity(_ e: Event) -> String {
        switch e {
        case .clip, .deviceLost, .disk, .dropped, .xrun, .gap: "error"
        case .flat, .hot, .analysisDropped: "warning"
        case .gain, .resumed, .marker: "info"
        }
    }

    /// "ch3 Vox"; "ch3" alone for a channel nobody named (its default name is its number,
    /// and "ch3 3" says nothing more). `c` counts from 0.
    public static func channel(_ c: Int, names: [String]) -> String {
        let name = c < names.count ? names[c] : ""
        return ClipLog.isNumberOnly(name, channel: c) ? "ch\(c + 1)" : "ch\(c + 1) \(name)"
    }

    /// "CLIP ch1 Vox: 9 samples in 2 run(s), +1.2 dBTP".
    public static func describe(_ e: Event, names: [String]) -> String {
        // The name comes from the log: a line feed in it must not start a new line or label.
        func who(_ c: Int) -> String { DisplayText.escaped(channel(c, names: names)) }
        func db(_ v: Double) -> String { String(format: "%+.1f", v) }
        func over(_ v: Double?, bound: Bool) -> String { v.map { " \(bound ? ">=" : "")\(db($0)) dB" } ?? "" }
        switch e {
        case .clip(let x):
            return
                "CLIP \(who(x.channel))\(over(x.overDB, bound: x.overBound)): \(x.clippedSamples) samples in \(x.runs) run(s), "
                + "\(db(x.truePeakDBTP)) dBTP"
        case .flat(let x):
            return "FLAT \(who(x.channel)) \(Decibels.text(x.levelDBFS)) dBFS\(over(x.overDB, bound: false)): "
                + "\(x.lobes) flat-topped lobes (\(x.polarity.rawValue))"
        case .hot(let x): return "HOT \(who(x.channel)): \(db(x.truePeakDBTP)) dBTP"
        case .gain(let x):
            let p = x.proposal.changeDB.map { String(format: "%+.1f dB", $0) } ?? "no signal"
            return "GAIN \(who(x.channel)): \(p) (\(x.proposal.reason.rawValue))"
        case .xrun(_, let lost), .gap(_, let lost), .dropped(_, let lost):
            return "\(e.typeName.uppercased()): \(lost) frames lost"
        case .analysisDropped(_, let lost): return "DROPPED (analysis only): \(lost) frames not analyzed"
        case .deviceLost(_, let reason): return "DEVICE LOST: \(DisplayText.escaped(reason))"
        case .disk(_, let reason): return "DISK: \(DisplayText.escaped(reason))"
        case .resumed(_, let previous): return "RESUMED after \(DisplayText.escaped(previous))"
        case .marker(_, let label): return label.map { "MARKER \(DisplayText.escaped($0))" } ?? "MARKER"
        }
    }

    /// A take's cue marker label (SPEC: "clip ch1 Vox +4.0 dB", "flat ch2 R -3.1 dBFS",
    /// "gap 0.15 s", "marker chorus 2"); nil for gain changes, which get no marker.
    public static func cueLabel(_ e: Event, names: [String], rate: Int) -> String? {
        func who(_ c: Int) -> String { channel(c, names: names) }
        func seconds(_ frames: Int) -> String { String(format: "%.2f s", Double(frames) / Double(max(rate, 1))) }
        switch e {
        case .clip(let x):
            let over = x.overDB.map { String(format: " %@%+.1f dB", x.overBound ? ">=" : "", $0) } ?? ""
            return "clip \(who(x.channel))\(over)"
        case .flat(let x): return "flat \(who(x.channel)) \(Decibels.text(x.levelDBFS)) dBFS"
        case .hot(let x): return "hot \(who(x.channel)) \(String(format: "%+.1f", x.truePeakDBTP)) dBTP"
        case .gain: return nil
        case .xrun(_, let lost): return "xrun \(seconds(lost))"
        case .gap(_, let lost): return "gap \(seconds(lost))"
        case .dropped(_, let lost): return "dropped \(seconds(lost))"
        case .analysisDropped(_, let lost): return "not analyzed \(seconds(lost))"
        case .deviceLost: return "device lost"
        case .disk(_, let reason): return "disk: \(reason)"
        case .resumed(_, let previous): return "resumed after \(previous)"
        case .marker(_, let label): return "marker" + (label.map { " \($0)" } ?? "")
        }
    }

    /// An Audacity label track: `start<TAB>end<TAB>text`, seconds, one label per event. A tab
    /// or a line break in a name or a marker's label is shown as `\x09`, `\x0a`: it would
    /// split the label, or start another.
    public static func audacityLabels(_ events: [Event], names: [String], rate: Int) -> String {
        var out = ""
        for e in events {
            guard let (s, end) = span(e, rate: rate) else { continue }
            out +=
                String(format: "%.6f\t%.6f\t", s, end) + "[\(severity(e))] "
                + DisplayText.escaped(describe(e, names: names)) + "\n"
        }
        return out
    }
}
