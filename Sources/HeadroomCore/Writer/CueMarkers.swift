import Foundation

/// Cue markers for a finished WAV/RF64 take: one per event (clips, flat tops, hot events,
/// losses, marks), so editors show where it clipped. libsndfile accepts cues only before
/// the first frame is written, and the events are known only as the take goes on, so the
/// `cue ` chunk (with a `LIST adtl` of labels) is appended to the closed file and the RIFF
/// (or ds64) size is fixed up.
public enum CueMarkers {
    /// One marker: a frame and its label ("clip ch1 Kick").
    public struct Marker: Sendable, Equatable {
        public var frame: Int
        public var label: String
        /// Frames the marker spans (a region: a clip, flat or hot event, a loss); 0 for a point.
        public var length: Int
        public init(frame: Int, label: String, length: Int = 0) {
            self.frame = frame
            self.label = label
            self.length = length
        }

        /// The marker for a log event (SPEC's labels), or nil for one that gets none.
        public init?(_ event: Event, names: [String], rate: Int) {
            guard let label = EventText.cueLabel(event, names: names, rate: rate) else { return nil }
            let span = EventText.span(event, rate: rate)
            let length = span.map { Int((($0.end - $0.start) * Double(rate)).rounded()) } ?? 0
            self.init(frame: event.frame, label: label, length: max(length, 0))
        }
    }

    /// The last frame a cue can point at: its position is 32 bits, in RF64 too (24 h 51 min
    /// at 48 kHz, 6 h 12 min at 192 kHz).
    public static let lastFrame = Int(UInt32.max)

    /// Appends `markers` to the closed RIFF/RF64 file at `path`, numbered in the order they
    /// stand in the take (``inTakeOrder(_:)``: ffprobe's chapters and an editor's marker list
    /// go by number).
    /// Markers past ``lastFrame`` are left out (written, they would point at the frame their
    /// position wrapped to, hours earlier), and a region is cut at it. Returns how many were
    /// written; does nothing for none.
    @discardableResult
    public static func append(_ markers: [Marker], to path: String) throws(HeadroomError) -> Int {
        let markers = inTakeOrder(markers.filter { (0...lastFrame).contains($0.frame) }).map { m in
            var marker = m
            marker.length = max(0, min(marker.length, lastFrame - marker.frame))
            return marker
        }
        guard !markers.isEmpty else { return 0 }
        try RIFFChunks.append(cueChunk(markers) + labelList(markers), what: "its cue markers", to: path)
        return markers.count
    }

    /// `markers` in the order they stand in the take, those at one frame as they were given
    /// (a log lists an event when it ends: a long clip after the short one that began inside it).
    static func inTakeOrder(_ markers: [Marker]) -> [Marker] {
        markers.enumerated().sorted { ($0.element.frame, $0.offset) < ($1.element.frame, $1.offset) }.map(\.element)
    }

    /// What a take's note says of `count` markers past ``lastFrame``.
    public static func outOfReach(_ count: Int, rate: Int) -> String {
        let hours = Double(lastFrame) / Double(max(rate, 1)) / 3600
        let reach = String(format: "%d h %02d min", Int(hours), Int((hours - hours.rounded(.down)) * 60))
        return
            "\(count) of its markers lie past \(reach) at \(rate) Hz, where a WAV cue cannot point (its clip log has them; --max-take-seconds keeps takes within reach)"
    }

    static func cueChunk(_ markers: [Marker]) -> Data {
        var body = le32(UInt32(markers.count))
        for (i, m) in markers.enumerated() {
            body += le32(UInt32(i + 1))  // cue point id
            body += le32(UInt32(m.frame))  // position (sample frames, play order)
            body += Data("data".utf8)
            body += le32(0)  // chunk start
            body += le32(0)  // block start
            body += le32(UInt32(m.frame))  // sample offset
        }
        return Data("cue ".utf8) + le32(UInt32(body.count)) + body
    }

    /// `LIST adtl`: a `labl` per marker, and an `ltxt` with the length of each region
    /// (purpose `rgn `), the form Audacity, Reaper and Sound Forge read as regions.
    static func labelList(_ markers: [Marker]) -> Data {
        var body = Data("adtl".utf8)
        for (i, m) in markers.enumerated() {
            // NUL-terminated and NUL-padded to an even size that counts the padding: readers
            // that do not skip a RIFF pad byte (ffmpeg) stay in step.
            var text = Data(m.label.utf8) + Data([0])
            if text.count % 2 == 1 { text += Data([0]) }
            body += Data("labl".utf8) + le32(UInt32(4 + text.count)) + le32(UInt32(i + 1)) + text
        }
        // The regions after every label: ffmpeg stops reading `adtl` at the first `ltxt`.
        for (i, m) in markers.enumerated() where m.length > 0 {
            body += Data("ltxt".utf8) + le32(20) + le32(UInt32(i + 1))
            body += le32(UInt32(m.length)) + Data("rgn ".utf8) + Data(count: 8)
        }
        return Data("LIST".utf8) + le32(UInt32(body.count)) + body
    }

    static func le32(_ v: UInt32) -> Data { RIFFChunks.le32(v) }
}
