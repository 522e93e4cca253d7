import CSndFile
import Foundation
import Synchronization

/// The writer thread: takes blocks from the writer ring and writes them to take files,
/// silence where frames were lost, a new file at each split, the header brought up to
/// date every second. A failed write (disk full) ends the recording, and the take that
/// failed is still closed with a valid header.
final class WriterLoop: @unchecked Sendable {
    let ring: SPSCRing
    let registry: TakeRegistry
    let format: SampleFormat
    let fileFormat: TakeFileFormat
    let rate: Int
    let channels: Int
    let description: String
    /// Channel names, for the tags of FLAC and the other non-RIFF containers.
    let names: [String]
    /// A WAV/RF64 take's speaker mask (``ChannelLayout``), held in its header as it is written.
    let channelMask: UInt32
    /// Called (once) with why, when a write fails; the session stops capture.
    let onFailure: @Sendable (String) -> Void
    /// Test hook: called before each block is written (a test can stall it).
    let beforeWrite: (@Sendable () -> Void)?

    private var writer: TakeWriter?
    private var takeIndex = 0
    /// Take `takeIndex` is in the registry and not yet closed. After a failure no writer is
    /// made, but each take the frames still pass through is registered and closed all the
    /// same (and removed as never written): closing one never registered stopped the
    /// recorder (an index past the registry's end) when the analyzer had not yet reached it.
    private var opened = false
    private var boundary: TakeBoundary
    private var globalFrame = 0
    /// Why writing failed (then nothing more is written, and each take closed from here on
    /// says so to the registry).
    private var failure: String?
    private var failed: Bool { failure != nil }
    private var lastHeaderUpdate = 0.0
    /// When the disk call under way began (``MonotonicClock`` seconds, as bits), 0 between
    /// calls: a write, a header update or a close that does not return (a network share
    /// gone, a failing disk) shows as a call that has lasted, for the session to say so.
    let diskCallBegan = Atomic<UInt64>(0)

    /// Runs a call that goes to the disk, stamped in ``diskCallBegan`` while it runs.
    private func onDisk<T, E: Error>(_ call: () throws(E) -> T) throws(E) -> T {
        diskCallBegan.store(MonotonicClock.now().bitPattern, ordering: .relaxed)
        defer { diskCallBegan.store(0, ordering: .relaxed) }
        return try call()
    }

    init(
        ring: SPSCRing,
        registry: TakeRegistry,
        format: SampleFormat,
        fileFormat: TakeFileFormat,
        rate: Int,
        channels: Int,
        maxTakeFrames: Int?,
        description: String,
        names: [String] = [],
        channelMask: UInt32 = 0,
        onFailure: @escaping @Sendable (String) -> Void,
        beforeWrite: (@Sendable () -> Void)?
    ) {
        self.ring = ring
        self.registry = registry
        self.format = format
        self.fileFormat = fileFormat
        self.rate = rate
        self.channels = channels
        boundary = TakeBoundary(maxFrames: maxTakeFrames)
        self.description = description
        self.names = names
        self.channelMask = channelMask
        self.onFailure = onFailure
        self.beforeWrite = beforeWrite
    }

    /// Creates the first take before capture starts, so that a take that cannot be made
    /// (a full disk, a name the file system refuses) is an error before the first frame,
    /// with nothing left behind; its path.
    func prepareFirstTake() throws(HeadroomError) -> String {
        let take = registry.take(0, startFrame: 0)
        opened = true
        if let error = take.error { throw error }
        do {
            writer = try makeWriter(take)
        } catch {
            unlink(take.file)
            unlink(take.log)
            throw error
        }
        boundary.startTake()
        return take.file
    }

    func run() {
        if !opened { openTake() }
        while true {
            guard let (header, payload) = ring.next(timeoutMilliseconds: 250) else {
                tick()
                continue
            }
            beforeWrite?()
            if header.splitBefore && boundary.frames > 0 { closeTake() }
            if header.lostFrames > 0 { append(nil, frames: header.lostFrames) }
            if header.frames > 0 { append(payload, frames: header.frames) }
            ring.release()
            if header.isLast { break }
            tick()
        }
        if opened { closeTake() }
        registry.writerFinished()
    }

    /// Notes the first failure and tells the session, which stops capture.
    private func fail(_ message: String) {
        guard !failed else { return }
        failure = message
        registry.endCreating()
        onFailure(message)
    }

    private func tick() {
        let now = MonotonicClock.now()
        if now - lastHeaderUpdate >= 1 {
            if let writer { onDisk { writer.updateHeader() } }
            lastHeaderUpdate = now
            // A take deleted under the recorder (or its folder removed) would swallow the
            // rest of the session: end it as a disk failure instead.
            if !failed, let writer, let why = writer.missing() {
                fail(why)
            }
        }
    }

    /// Writes frames (or silence for `nil`), splitting at `--max-take-seconds`.
    private func append(_ payload: UnsafeRawPointer?, frames: Int) {
        let frameBytes = channels * format.bytesPerSample
        var done = 0
        while done < frames {
            if !opened { openTake() }
            let n = boundary.fit(frames - done)
            if !failed, let writer {
                do {
                    try onDisk { () throws(HeadroomError) in
                        if let payload {
                            try writer.write(payload + done * frameBytes, frames: n)
                        } else {
                            try writer.writeSilence(frames: n)
                        }
                    }
                } catch {
                    fail(error.message)
                }
            }
            done += n
            globalFrame += n
            if boundary.advance(n) { closeTake() }
        }
    }

    private func openTake() {
        let take = onDisk { registry.take(takeIndex, startFrame: globalFrame) }
        opened = true
        boundary.startTake()
        guard !failed else { return }
        do throws(HeadroomError) {
            if let error = take.error { throw error }
            writer = try onDisk { () throws(HeadroomError) in try makeWriter(take) }
        } catch {
            fail(error.message)
        }
    }

    private func makeWriter(_ take: TakeRegistry.Take) throws(HeadroomError) -> TakeWriter {
        let bext = BroadcastInfo(
            start: take.startDate,
            rate: rate,
            description: description,
            reference: BroadcastInfo.uniqueReference(start: take.startDate, path: take.file)
        )
        // FLAC and CAF have no bext or iXML: what fits goes into their tags (Vorbis comments
        // for FLAC) before the first frame, the only time libsndfile writes them; a FLAC
        // take's comment keeps room after it for its markers and loudness, written into the
        // same bytes when it closes (``FLACTags``). W64 gets none (libsndfile has no strings
        // for it).
        let channelList = names.enumerated().map { "\($0.offset + 1) \($0.element)" }.joined(separator: ", ")
        let comment =
            "\(description); channels: \(channelList); originator reference \(bext.originatorReference); time reference \(bext.timeReference) samples since midnight"
        let tags: [Int32: String] = [
            Int32(SF_STR_TITLE): URL(fileURLWithPath: take.base).lastPathComponent,
            Int32(SF_STR_SOFTWARE): "headroom",
            Int32(SF_STR_DATE): bext.originationDate + "T" + bext.originationTime,
            Int32(SF_STR_COMMENT): fileFormat == .flac ? FLACTags.reserving(comment) : comment,
        ]
        // WAV and RF64: the iXML (the channel names, the take's own name) in the first header,
        // so that a take whose recorder is killed still carries them.
        let ixml = TakeMetadata(
            take: take.file,
            start: take.startDate,
            number: take.index + 1,
            names: names,
            rate: rate,
            bitDepth: format.layout.bits ?? 32
        ).ixml
        return try TakeWriter(
            fd: registry.claimFile(take.index),
            path: take.file,
            fileFormat: fileFormat,
            format: format,
            rate: rate,
            channels: channels,
            broadcastInfo: bext,
            tags: fileFormat.carriesTags ? tags : [:],
            ixml: fileFormat.isRIFF ? ixml : nil,
            channelMask: fileFormat.isRIFF ? channelMask : nil
        )
    }

    private func closeTake() {
        if let writer {
            do { try onDisk { () throws(HeadroomError) in try writer.close() } } catch {
                fail(error.message)
            }
        }
        // After the close: a FLAC take cut short by a full disk holds fewer frames than were
        // handed to libFLAC (the frame it was encoding).
        let frames = writer?.frames ?? 0
        writer = nil
        if opened {
            registry.writerClosed(takeIndex, frames: frames, failure: failure)
            takeIndex += 1
            opened = false
        }
        boundary.startTake()
    }
}
