import Foundation
import Prometheus
import Synchronization

/// What a recorder tells a monitoring system (SPEC: *Watching recorders from elsewhere*):
/// the Prometheus metrics of `/metrics` and `--metrics-file`, and the status of `/status`
/// and the live page. Fed by the recorder's main loop from its meter snapshots (about 15
/// times a second), never by the capture, writer or analyzer threads; read by the HTTP
/// server's tasks and the metrics-file writer. Counters count over the life of the process,
/// across takes and across device reconnects.
public final class Monitor: Sendable {
    /// One channel as `/status` and the live page show it.
    public struct Channel: Sendable, Encodable {
        public var channel: Int
        public var name: String
        /// dBFS of the last ~100 ms (the bar) and of the last second; null for silence, and
        /// for the bar while nothing is recorded.
        public var level_dbfs: Double?
        public var peak_dbfs: Double?
        public var true_peak_dbtp: Double?
        public var headroom_db: Double?
        public var clip_events: Int
        public var clipped_samples: Int
        public var flat_events: Int
        public var hot_events: Int
        public var clipping: Bool
        public var proposal_db: Double?
        public var reason: String
        public var proposal: String
    }

    /// The whole recorder, as `/status` writes it.
    public struct Status: Sendable, Encodable {
        public var device: String
        public var recording = false
        /// The device is away (unplugged, not there yet) and `--wait-device` waits for it.
        public var waiting_for_device = false
        /// While it waits: why the device cannot be opened (the latest reason) and for how long
        /// it has waited, seconds.
        public var waiting_reason: String?
        public var waiting_seconds: Double?
        public var take = ""
        public var take_seconds = 0.0
        public var takes = 0
        public var disk_seconds_left: Double?
        public var target_peak_dbtp: Double
        public var band_low_dbtp: Double
        public var margin_dbtp: Double
        public var xruns = 0
        public var gaps = 0
        public var dropped_frames = 0
        public var device_lost = 0
        public var channels: [Channel] = []
    }

    private struct Totals {
        var clipEvents: [Int] = []
        var clippedSamples: [Int] = []
        var flatEvents: [Int] = []
        var hotEvents: [Int] = []
        var lostFrames: [String: Int] = [:]
        var losses: [String: Int] = [:]
        /// The session's own counts when last seen (a new session starts again from 0).
        var lastSession: MeterSnapshot?
    }

    public let device: String
    private let registry = PrometheusCollectorRegistry()
    private let state: Mutex<(status: Status, totals: Totals)>
    /// Gauges whose labels change (the take's name; a proposal absent without signal).
    private let takeInfo = Mutex<(take: String, gauge: Gauge?)>(("", nil))
    private let proposals = Mutex<[Int: Gauge]>([:])

    public init(device: String, settings: AnalysisSettings) {
        self.device = device
        state = Mutex(
            (
                Status(
                    device: device,
                    target_peak_dbtp: settings.targetPeakDBTP,
                    band_low_dbtp: settings.bandLowDBTP,
                    margin_dbtp: -settings.marginDB
                ),
                Totals()
            )
        )
        registry.makeGauge(descriptor: Self.descriptor("headroom_up")).set(to: 1.0)
    }

    // MARK: - Fed by the recorder

    /// The recorder's latest snapshot (its counts are the session's: a new session, after a
    /// device came back, starts them again from 0).
    public func update(_ s: MeterSnapshot, recording: Bool, diskSecondsLeft: Double?) {
        let status = state.withLock { st -> Status in
            var t = st.totals
            let n = s.channels.count
            if t.clipEvents.count != n {
                t.clipEvents = Array(repeating: 0, count: n)
                t.clippedSamples = t.clipEvents
                t.flatEvents = t.clipEvents
                t.hotEvents = t.clipEvents
            }
            let last = t.lastSession
            func delta(_ now: Int, _ before: Int?) -> Int { max(0, now - (before ?? 0)) }
            for c in 0..<n {
                let old = last.map { $0.channels[c] }
                t.clipEvents[c] += delta(s.channels[c].clipEvents, old?.clipEvents)
                t.clippedSamples[c] += delta(s.channels[c].clippedSamples, old?.clippedSamples)
                t.flatEvents[c] += delta(s.channels[c].flatEvents, old?.flatEvents)
                t.hotEvents[c] += delta(s.channels[c].hotEvents, old?.hotEvents)
            }
            t.lostFrames["xrun", default: 0] += delta(s.xrunFrames, last?.xrunFrames)
            t.lostFrames["gap", default: 0] += delta(s.gapFrames, last?.gapFrames)
            t.lostFrames["dropped", default: 0] += delta(s.droppedFrames, last?.droppedFrames)
            t.losses["xrun", default: 0] += delta(s.xruns, last?.xruns)
            t.losses["gap", default: 0] += delta(s.gaps, last?.gaps)
            t.losses["dropped", default: 0] += delta(s.drops, last?.drops)
            t.lastSession = s
            st.totals = t

            var status = st.status
            status.recording = recording
            status.waiting_for_device = false
            status.waiting_reason = nil
            status.waiting_seconds = nil
            status.take = s.takeName
            status.take_seconds = Double(s.takeFrames) / Double(max(s.rate, 1))
            status.takes = max(status.takes, s.takes)
            status.disk_seconds_left = diskSecondsLeft
            status.xruns = t.losses["xrun"] ?? 0
            status.gaps = t.losses["gap"] ?? 0
            status.dropped_frames = t.lostFrames["dropped"] ?? 0
            status.channels = s.channels.enumerated().map { c, ch in
                let tp = Decibels.fromAmplitude(Double(ch.takeTruePeak))
                return Channel(
                    channel: c + 1,
                    name: ch.name,
                    // The last block's level stays in the snapshot once capture has ended: a
                    // bar held up by it would show signal from a device that is gone.
                    level_dbfs: recording ? Self.round(Decibels.fromAmplitude(Double(ch.blockTruePeak))) : nil,
                    peak_dbfs: Self.round(Decibels.fromAmplitude(Double(ch.peakLastSecond))),
                    true_peak_dbtp: Self.round(tp),
                    headroom_db: Self.round(tp.map { -$0 }),
                    // A clip event still open counts (the latch must not wait for it to close).
                    clip_events: t.clipEvents[c] + (ch.isClipping ? 1 : 0),
                    clipped_samples: t.clippedSamples[c],
                    flat_events: t.flatEvents[c],
                    hot_events: t.hotEvents[c],
                    clipping: ch.isClipping,
                    proposal_db: ch.proposal.changeDB,
                    reason: ch.proposal.reason.rawValue,
                    proposal: SummaryTable.proposalText(ch.proposal)
                )
            }
            st.status = status
            return status
        }
        export(status)
    }

    /// The device went away (counted once per loss).
    public func deviceLost() {
        let status = state.withLock { st -> Status in
            st.status.device_lost += 1
            st.status.recording = false
            return st.status
        }
        export(status)
    }

    /// `--wait-device` waits for the device (gone mid-recording, or not there at the start):
    /// why it cannot be opened, and for how many seconds it has been waited for.
    public func waitingForDevice(reason: String, seconds: Double) {
        let status = state.withLock { st -> Status in
            st.status.recording = false
            st.status.waiting_for_device = true
            st.status.waiting_reason = reason
            st.status.waiting_seconds = (seconds * 10).rounded() / 10
            for c in st.status.channels.indices { st.status.channels[c].level_dbfs = nil }
            return st.status
        }
        export(status)
    }

    // MARK: - Read by the server and the metrics file

    public var status: Status { state.withLock { $0.status } }

    /// `/status`: the status as one JSON object.
    public var statusJSON: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(status)) ?? Data("{}".utf8)
    }

    /// `/metrics` and `--metrics-file`: the Prometheus text exposition format, in a fixed
    /// order (``ordered(_:)``).
    public var exposition: String { Self.ordered(registry.emitToString()) }

    /// An exposition with its families in name order and each family's series in label
    /// order, numbers as numbers (channel 2 before channel 10), as node_exporter writes
    /// them. swift-prometheus writes them in its dictionaries' order, which changes from
    /// run to run: a person reading `/metrics` or the textfile, or comparing two, found
    /// channel 2 above channel 1 and the families shuffled.
    static func ordered(_ text: String) -> String {
        var families: [(name: Substring, head: [Substring], series: [Substring])] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# ") {
                // "# HELP name ..." and "# TYPE name ...": a family's head, before its series.
                let name = line.split(separator: " ", maxSplits: 3).dropFirst(2).first ?? ""
                if families.last.map({ $0.name != name || !$0.series.isEmpty }) ?? true {
                    families.append((name, [], []))
                }
                families[families.count - 1].head.append(line)
            } else if families.isEmpty {
                families.append(("", [], [line]))
            } else {
                families[families.count - 1].series.append(line)
            }
        }
        // A series' identity is all but its value (the text after the last space).
        func identity(_ line: Substring) -> Substring { line[..<(line.lastIndex(of: " ") ?? line.endIndex)] }
        var out = ""
        for family in families.sorted(by: { $0.name < $1.name }) {
            for line in family.head { out += line + "\n" }
            let series = family.series.sorted {
                String(identity($0)).compare(String(identity($1)), options: .numeric) == .orderedAscending
            }
            for line in series { out += line + "\n" }
        }
        return out
    }

    // MARK: - Prometheus

    private func export(_ s: Status) {
        let d = ("device", device)
        gauge("headroom_recording", [d]).set(to: s.recording ? 1.0 : 0.0)
        gauge("headroom_take_seconds", [d]).set(s.take_seconds)
        setCounter("headroom_takes_total", [d], s.takes)
        setCounter("headroom_device_lost_total", [d], s.device_lost)
        if let disk = s.disk_seconds_left {
            gauge("headroom_disk_seconds_left", [d]).set(disk)
        }
        takeInfo.withLock { info in
            guard info.take != s.take else { return }
            if let old = info.gauge { registry.unregisterGauge(old) }
            info.gauge = s.take.isEmpty ? nil : gauge("headroom_take_info", [d, ("take", s.take)])
            info.gauge?.set(to: 1.0)
            info.take = s.take
        }
        let (lost, losses) = state.withLock { ($0.totals.lostFrames, $0.totals.losses) }
        for kind in ["xrun", "gap", "dropped"] {
            setCounter("headroom_lost_frames_total", [d, ("kind", kind)], lost[kind] ?? 0)
            setCounter("headroom_losses_total", [d, ("kind", kind)], losses[kind] ?? 0)
        }
        for ch in s.channels {
            let labels = [d, ("channel", String(ch.channel)), ("name", ch.name)]
            if let v = ch.peak_dbfs { gauge("headroom_channel_peak_dbfs", labels).set(v) }
            if let v = ch.true_peak_dbtp {
                gauge("headroom_channel_true_peak_dbtp", labels).set(v)
            }
            if let v = ch.headroom_db { gauge("headroom_channel_headroom_db", labels).set(v) }
            proposals.withLock { p in
                if let v = ch.proposal_db {
                    let g =
                        p[ch.channel]
                        ?? gauge("headroom_channel_gain_proposal_db", labels)
                    g.set(v)
                    p[ch.channel] = g
                } else if let g = p.removeValue(forKey: ch.channel) {
                    registry.unregisterGauge(g)
                }
            }
            setCounter("headroom_clip_events_total", labels, ch.clip_events)
            setCounter("headroom_clipped_samples_total", labels, ch.clipped_samples)
            setCounter("headroom_hot_events_total", labels, ch.hot_events)
            setCounter("headroom_flat_events_total", labels, ch.flat_events)
        }
    }

    /// Counters only go up: raise the counter to `value` (the registry returns the same
    /// counter for the same name and labels).
    private let counterValues = Mutex<[String: Int]>([:])
    private func setCounter(_ name: String, _ labels: [(String, String)], _ value: Int) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let counter = registry.makeCounter(descriptor: Self.descriptor(name), labels: labels)
        counterValues.withLock { v in
            let before = v[key] ?? 0
            if value > before { counter.increment(by: Int64(value - before)) }
            v[key] = max(before, value)
        }
    }

    private func gauge(_ name: String, _ labels: [(String, String)]) -> Gauge {
        registry.makeGauge(descriptor: Self.descriptor(name), labels: labels)
    }

    /// A metric's full name (our names carry their unit already) and its HELP line.
    private static func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name] ?? name)
    }

    /// Each metric's HELP line (promtool asks for one).
    static let help: [String: String] = [
        "headroom_up": "1 while the recorder runs",
        "headroom_recording": "1 while a take is being recorded",
        "headroom_take_info": "the take being recorded, by file name",
        "headroom_take_seconds": "seconds recorded in the current take",
        "headroom_takes_total": "takes started since the recorder started",
        "headroom_channel_peak_dbfs": "sample peak of the last second, dBFS",
        "headroom_channel_true_peak_dbtp": "loudest true peak of the current take, dBTP",
        "headroom_channel_headroom_db": "headroom left in the current take (minus its true peak), dB",
        "headroom_channel_gain_proposal_db": "dB to add to the channel's input gain (absent without signal)",
        "headroom_clip_events_total": "clip events (overs at full scale)",
        "headroom_clipped_samples_total": "clipped samples in clip events, the open one's so far included",
        "headroom_hot_events_total": "hot events (true peak over the margin, no clip)",
        "headroom_flat_events_total": "flat events (flat tops below full scale)",
        "headroom_lost_frames_total": "frames lost, by kind: xrun, gap, dropped",
        "headroom_losses_total": "losses, by kind: xrun, gap, dropped",
        "headroom_device_lost_total": "times the capture device went away",
        "headroom_disk_seconds_left": "seconds of recording the free disk space holds",
    ]

    /// To 0.1 dB; a level just under full scale (a 24-bit converter's largest code is
    /// -0.000001 dBFS) is 0, not -0.
    private static func round(_ v: Double?) -> Double? { v.map { Decibels.round($0, step: 0.1) } }
}
