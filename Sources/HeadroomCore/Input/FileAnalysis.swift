import Foundation

/// Runs the analyzer over one audio file, block by block: `analyze FILE` and a
/// `review` of a take without a log both go through here.
public struct FileAnalysis {
    /// The file's figures when the analysis is done.
    public struct Result: Sendable {
        public var header: ClipLog.Header
        public var frames: Int
        public var summaries: [ChannelSummary]
        public var clipEvents: Int { summaries.reduce(0) { $0 + $1.clipEvents } }
        /// Set when libsndfile reported an error part way (a truncated file).
        public var readError: String?
        public var containerName: String
        public var encodingName: String
        /// ``AudioFileReader/lossyCodec``.
        public var lossyCodec: String?
        /// Every event, in the order written.
        public var events: [Event] = []
        /// With `measuresLoudness`, the file's loudness, measured in the same pass.
        public var loudness: Loudness.Measured? = nil
        /// ``AudioFileReader/originated``.
        public var originated: String? = nil

        /// For a lossy file (MP3, Vorbis, Opus) that clipped, the note (without "note: ") that
        /// its clips are found and how far over can read low (docs/clipping.md: "What reads low").
        public func lossyNote(path: String) -> String? {
            guard let lossyCodec, clipEvents > 0 else { return nil }
            return "\(DisplayText.escaped(path)) is lossy (\(lossyCodec)): its clips are found, but how far over "
                + "they went can read low (the codec rebuilds cut tops with a ripple just over full scale); "
                + "analyze the file from before it was coded for that"
        }
    }

    /// Analyzes `path`; `onLine` receives each clip-log line (header, events, summary)
    /// as soon as it is final, so `--json` streams; `onProgress` how far it has got
    /// (``FileProgress``). `threads`: 2 lets the analyzer share each
    /// block's work with a second thread (``Analyzer/init(channels:rate:layout:settings:maxBlockFrames:exactBlockPeaks:threads:)``).
    public static func run(
        path: String,
        settings: Settings,
        blockFrames: Int = 4096,
        threads: Int = 1,
        measuresLoudness: Bool = false,
        onProgress: FileProgress = { _, _, _ in },
        onLine: (JSONValue) -> Void = { _ in }
    ) throws(HeadroomError) -> Result {
        let reader = try AudioFileReader(path: path)
        // Given names win; then the ones the file carries (a take's iXML); then numbers.
        let carried =
            path == AudioFileReader.standardInput ? [:] : CarriedNames.read(path: path, channels: reader.channels)
        let given = (0..<reader.channels).map { c in
            c < settings.names.count && !settings.names[c].isEmpty ? settings.names[c] : carried[c] ?? ""
        }
        let names = ClipLog.channelNames(given, channels: reader.channels)
        let header = ClipLog.Header(
            file: path,
            device: nil,
            rate: reader.rate,
            channels: reader.channels,
            format: reader.encodingName,
            names: names,
            started: Date(),
            settings: settings.analysis
        )
        onLine(ClipLog.headerLine(header))
        let analyzer = Analyzer(
            channels: reader.channels,
            rate: reader.rate,
            layout: reader.layout,
            settings: settings.analysis,
            maxBlockFrames: blockFrames,
            threads: threads,
            largestCode: reader.largestCode,
            handoffSpin: Analyzer.idleHandoffSpin
        )
        analyzer.splitsConversion = true  // nothing else wants the cores
        // Two buffers: the next block is read while the analyzer's second thread works on its
        // share of this one (the analyzer's `alongside`), not while that thread waits.
        let bytes = blockFrames * reader.channels * reader.layout.bytesPerSample
        var buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        var next = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer {
            buffer.deallocate()
            next.deallocate()
        }
        var events: [Event] = []
        func drain() {
            events += analyzer.events
            for event in analyzer.events { onLine(ClipLog.eventLine(event, names: names, rate: reader.rate)) }
            analyzer.events.removeAll(keepingCapacity: true)
        }
        // Read once: a pipe (`-`, a named pipe, `<(...)`) cannot be read again for it.
        let meter = measuresLoudness ? LoudnessMeter(channels: reader.channels, rate: reader.rate) : nil
        var n = reader.read(into: buffer, frames: blockFrames)
        while n > 0 {
            // The analyzer is built for blocks this size: it takes each in one piece and runs
            // `alongside` once.
            var following = 0
            analyzer.process(buffer, frames: n) { block, frames in
                meter?.add(block, frames: frames, layout: reader.layout)
                following = reader.read(into: next, frames: blockFrames)
            }
            drain()
            onProgress(analyzer.frameCount, reader.frames, reader.rate)
            swap(&buffer, &next)
            n = following
        }
        analyzer.finish()
        drain()
        let summaries = (0..<reader.channels).map { analyzer.summary(channel: $0) }
        onLine(
            ClipLog.summaryLine(
                frames: analyzer.frameCount,
                rate: reader.rate,
                complete: true,
                channels: summaries,
                names: names,
                trouble: nil
            )
        )
        return Result(
            header: header,
            frames: analyzer.frameCount,
            summaries: summaries,
            readError: reader.readError,
            containerName: reader.containerName,
            encodingName: reader.encodingName,
            lossyCodec: reader.lossyCodec,
            events: events,
            loudness: meter?.measured,
            originated: reader.originated
        )
    }
}
