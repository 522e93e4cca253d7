import Foundation
import Synchronization

/// The takes of one recording, shared by the writer and analyzer threads: both ask for
/// take `k` when they reach it and get the same names; whichever closes it second adds
/// the cue markers (they need the closed file and the final list of clip events).
final class TakeRegistry: Sendable {
    /// One take: its audio file and its clip log.
    struct Take: Sendable {
        var index: Int
        /// Path without extension.
        var base: String
        var file: String
        var log: String
        /// Global frame (since capture started) of the take's first frame.
        var startFrame: Int
        var startDate: Date
        var writerClosed = false
        var analyzerClosed = false
        var markers: [CueMarkers.Marker] = []
        var frames = 0
        var complete = false
        var clipEvents = 0
    }

    private struct State {
        var namer: TakeNamer
        var takes: [Take] = []
    }

    private let state: Mutex<State>
    let sessionStart: Date
    let rate: Int
    let addCues: Bool
    let fileExtension: String
    /// Problems adding cues; the session shows them as warnings.
    let problems = Mutex<[String]>([])

    init(namer: TakeNamer, sessionStart: Date, rate: Int, addCues: Bool) {
        state = Mutex(State(namer: namer))
        self.sessionStart = sessionStart
        self.rate = rate
        self.addCues = addCues
        fileExtension = namer.fileFormat.fileExtension
    }

    /// Take `index`, named when first asked for.
    func take(_ index: Int, startFrame: Int) -> Take {
        state.withLock { s in
            while s.takes.count <= index {
                let date = sessionStart.addingTimeInterval(Double(startFrame) / Double(rate))
                let base = s.namer.next(date: date)
                s.takes.append(
                    Take(
                        index: s.takes.count,
                        base: base,
                        file: base + "." + fileExtension,
                        log: base + ".clips.jsonl",
                        startFrame: startFrame,
                        startDate: date
                    )
                )
            }
            return s.takes[index]
        }
    }

    func writerClosed(_ index: Int, frames: Int) {
        let ready = state.withLock { s -> Take? in
            s.takes[index].writerClosed = true
            s.takes[index].frames = frames
            return s.takes[index].analyzerClosed ? s.takes[index] : nil
        }
        if let ready { addMarkers(ready) }
    }

    func analyzerClosed(_ index: Int, markers: [CueMarkers.Marker], complete: Bool, clipEvents: Int) {
        let ready = state.withLock { s -> Take? in
            s.takes[index].analyzerClosed = true
            s.takes[index].markers = markers
            s.takes[index].complete = complete
            s.takes[index].clipEvents = clipEvents
            return s.takes[index].writerClosed ? s.takes[index] : nil
        }
        if let ready { addMarkers(ready) }
    }

    var all: [Take] { state.withLock { $0.takes } }

    private func addMarkers(_ take: Take) {
        guard addCues, !take.markers.isEmpty else { return }
        do {
            try CueMarkers.append(take.markers, to: take.file)
        } catch {
            problems.withLock { $0.append(error.message) }
        }
    }
}
