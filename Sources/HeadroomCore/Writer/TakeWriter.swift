import CHeadroomKernels
import CSndFile
import Foundation

/// One take file, written through libsndfile bit for bit in the captured sample format
/// (S16 -> PCM_16, S24 -> PCM_24, S32 -> PCM_32, FLOAT -> FLOAT). Runs on the writer
/// thread, never on the capture thread.
public final class TakeWriter {
    public let path: String
    public let format: SampleFormat
    public let fileFormat: TakeFileFormat
    public let channels: Int
    /// Frames written so far.
    public private(set) var frames = 0
    private var file: OpaquePointer?
    /// The descriptor libsndfile writes through (to see whether the file was deleted).
    private let fd: Int32
    private let scratch: UnsafeMutablePointer<Int32>
    private let scratchFrames = 8192
    private let zeros: UnsafeMutableRawPointer
    /// WAV, RF64 and W64 store S16/S24_3LE/S32/FLOAT exactly as ALSA delivers them.
    private let rawLayout: Bool
    /// A write was cut short (a full disk): the file may end inside a frame.
    private var cutShort = false
    /// A FLAC take's length, written into its header as it grows.
    private var flacLength = FLACFrames.LiveLength()
    /// A WAV/RF64 take's speaker mask, put back after each header libsndfile writes.
    private let channelMask: UInt32?
    /// Bytes written since the kernel was last asked to start writing the file out.
    private var unflushedBytes = 0
    /// Every this many bytes, the file's dirty pages are handed to the disk
    /// (`sync_file_range`, without waiting): a take reaches the disk as it is recorded, not
    /// 30 s later or all at once when the take is closed and synced (a 32-channel take at
    /// 96 kHz dirties 12 MB a second; left to the kernel, the close of a 30-s take waited
    /// half a second for 370 MB to be written).
    static let writebackBytes = 8 << 20

    /// Writes the take into `fd`, a new empty file at `path` (``TakeRegistry`` creates
    /// it, with its log); the writer owns `fd` from here on. A header that cannot be
    /// written (a full disk) is ``HeadroomError/Code/cantCreate``.
    public init(
        fd: Int32,
        path: String,
        fileFormat: TakeFileFormat,
        format: SampleFormat,
        rate: Int,
        channels: Int,
        broadcastInfo: BroadcastInfo?,
        tags: [Int32: String] = [:],
        ixml: String? = nil,
        channelMask: UInt32? = nil
    ) throws(HeadroomError) {
        self.path = path
        self.channelMask = channelMask
        self.format = format
        self.fileFormat = fileFormat
        self.channels = channels
        self.fd = fd
        var info = SF_INFO()
        info.channels = Int32(channels)
        info.samplerate = Int32(rate)
        info.format = fileFormat.major | format.sndfileSubtype
        guard sf_format_check(&info) == SF_TRUE else {
            Glibc.close(fd)
            throw HeadroomError(
                .cantCreate,
                "cannot create \(path): libsndfile cannot write \(format.rawValue) as \(fileFormat.rawValue)"
            )
        }
        errno = 0
        guard let handle = sf_open_fd(fd, Int32(SFM_WRITE), &info, Int32(SF_TRUE)) else {
            // The header could not be written: say why in the system's words (a full disk,
            // a file-size limit), not libsndfile's.
            let why = errno != 0 ? String(cString: strerror(errno)) : String(cString: sf_strerror(nil))
            Glibc.close(fd)
            throw HeadroomError(.cantCreate, "cannot create \(path): \(why)")
        }
        file = handle
        if fileFormat == .wav {
            sf_command(handle, Int32(SFC_RF64_AUTO_DOWNGRADE), nil, Int32(SF_TRUE))
        }
        if fileFormat.isRIFF, let broadcastInfo {
            var bext = broadcastInfo.sndfile
            sf_command(handle, Int32(SFC_SET_BROADCAST_INFO), &bext, Int32(MemoryLayout<SF_BROADCAST_INFO>.size))
        }
        for (key, value) in tags.sorted(by: { $0.key < $1.key }) { sf_set_string(handle, key, value) }
        if let ixml {
            // Before the first frame: libsndfile keeps the chunk (a copy) in every header it
            // writes from here on, ahead of the data. It pads a chunk to 4 bytes with NULs,
            // which an XML parser may refuse after the document; whitespace it may not.
            var body = Array(ixml.utf8)
            while body.count % 4 != 0 { body.append(UInt8(ascii: "\n")) }
            var chunk = SF_CHUNK_INFO()
            withUnsafeMutableBytes(of: &chunk.id) { id in
                for (i, c) in "iXML".utf8.enumerated() { id[i] = c }
            }
            chunk.id_size = 4
            chunk.datalen = UInt32(body.count)
            body.withUnsafeMutableBytes { bytes in
                chunk.data = bytes.baseAddress
                _ = sf_set_chunk(handle, &chunk)
            }
        }
        rawLayout = [.wav, .rf64, .w64].contains(fileFormat) && format != .s24
        scratch = .allocate(capacity: scratchFrames * channels)
        zeros = .allocate(byteCount: scratchFrames * channels * 4, alignment: 16)
        zeros.initializeMemory(as: UInt8.self, repeating: 0, count: scratchFrames * channels * 4)
    }

    deinit {
        if file != nil { _ = try? close() }
        scratch.deallocate()
        zeros.deallocate()
    }

    /// Writes `count` interleaved frames in the capture format. A short write (disk full,
    /// I/O error) throws ``HeadroomError/Code/io``; the frames that fit are kept.
    public func write(_ samples: UnsafeRawPointer, frames count: Int) throws(HeadroomError) {
        guard let file else { return }
        if rawLayout {
            // The file stores exactly these little-endian bytes: no conversion, no copy.
            let bytes = count * channels * format.bytesPerSample
            errno = 0
            let n = Int(sf_write_raw(file, samples, sf_count_t(bytes)))
            frames += max(n, 0) / (channels * format.bytesPerSample)
            if n < bytes { throw shortWrite(file) }
            startWriteback(after: bytes)
            return
        }
        defer { startWriteback(after: count * channels * format.bytesPerSample) }
        var done = 0
        while done < count {
            let n: Int
            let chunk = min(count - done, scratchFrames)
            errno = 0
            let src = samples + done * channels * format.bytesPerSample
            switch format {
            case .s16:
                n = Int(sf_writef_short(file, src.assumingMemoryBound(to: Int16.self), sf_count_t(chunk)))
            case .float:
                n = Int(sf_writef_float(file, src.assumingMemoryBound(to: Float.self), sf_count_t(chunk)))
            case .s32:
                n = Int(sf_writef_int(file, src.assumingMemoryBound(to: Int32.self), sf_count_t(chunk)))
            case .s24:
                let s = src.assumingMemoryBound(to: Int32.self)
                for i in 0..<(chunk * channels) { scratch[i] = s[i] << 8 }
                n = Int(sf_writef_int(file, scratch, sf_count_t(chunk)))
            case .s24packed:
                let s = src.assumingMemoryBound(to: UInt8.self)
                for i in 0..<(chunk * channels) {
                    let p = s + i * 3
                    scratch[i] = SampleLayout.packed24(p)
                }
                n = Int(sf_writef_int(file, scratch, sf_count_t(chunk)))
            }
            frames += max(n, 0)
            if n < chunk { throw shortWrite(file) }
            done += chunk
        }
    }

    /// A write cut short: why, in the system's words where it gave them ("No space left on
    /// device"), not libsndfile's. The frame it stopped at is the log's `disk` line's (for
    /// FLAC, known only once the take is closed: libFLAC holds the frame it is encoding).
    private func shortWrite(_ file: OpaquePointer) -> HeadroomError {
        cutShort = true
        let why = errno != 0 ? String(cString: strerror(errno)) : String(cString: sf_strerror(file))
        return HeadroomError(.io, "\(path): write failed: \(why)")
    }

    /// Counts `bytes` just written; past ``writebackBytes``, asks the kernel to start writing
    /// the file's dirty pages out. It does not wait for the disk (the writer ring would
    /// cover it if the device queue were full), and an error here would show at the next
    /// write or at the close's sync, so none is checked.
    private func startWriteback(after bytes: Int) {
        unflushedBytes += bytes
        guard unflushedBytes >= Self.writebackBytes else { return }
        unflushedBytes = 0
        _ = hr_start_writeback(fd)
    }

    /// Writes `count` frames of digital silence (frames lost before a block).
    public func writeSilence(frames count: Int) throws(HeadroomError) {
        var left = count
        while left > 0 {
            let n = min(left, scratchFrames)
            try write(zeros, frames: n)
            left -= n
        }
    }

    /// Brings the header up to date so a killed take opens with everything written so far
    /// (a FLAC take's STREAMINFO length: ``FLACFrames/LiveLength``).
    public func updateHeader() {
        guard let file else { return }
        if fileFormat == .flac {
            if !cutShort { flacLength.update(fd) }
        } else {
            sf_command(file, Int32(SFC_UPDATE_HEADER_NOW), nil, 0)
            holdChannelMask()
        }
    }

    /// libsndfile writes WAVE_FORMAT_EXTENSIBLE's speaker mask from the channel count (2
    /// channels "stereo", 4 "quad") each time it writes the header, and offers no way to say
    /// "none": the take's own mask (0 for a multitrack take, ``ChannelLayout``) is put back
    /// after each update, so a take whose recorder is killed carries it too. (The close's
    /// header gets it from ``TakeMetadata/apply(to:)``.)
    private func holdChannelMask() {
        guard let channelMask, let fmt = RIFFChunks.headerChunks(fd).first(where: { $0.id == "fmt " }),
            fmt.size >= 40
        else { return }
        _ = FileBytes.write(fd, RIFFChunks.le32(channelMask), at: fmt.offset + 20)
    }

    /// Why the take can no longer be found on disk (deleted, or its folder removed with it),
    /// or nil while it is there: writing on into a deleted file would lose the take. A take
    /// renamed, or whose folder was renamed, is still there under its new name.
    public func missing() -> String? {
        guard file != nil else { return nil }
        var st = stat()
        if fstat(fd, &st) == 0 && st.st_nlink == 0 { return "\(path) was deleted while recording" }
        return nil
    }

    /// Finalizes the header and closes the file. A WAV, RF64 or FLAC take whose last write
    /// was cut short ends where its last whole frame does (``RIFFChunks/dropAfterData(_:path:)``,
    /// ``FLACFrames/trimCutShort(_:path:)``; `frames` is then what the FLAC file holds).
    public func close() throws(HeadroomError) {
        guard let file else { return }
        self.file = nil
        let kept = cutShort && (fileFormat.isRIFF || fileFormat == .flac) ? dup(fd) : -1
        defer { if kept >= 0 { Glibc.close(kept) } }
        let r = sf_close(file)
        if kept >= 0 {
            if fileFormat == .flac {
                if let held = try FLACFrames.trimCutShort(kept, path: path) { frames = held }
            } else {
                try RIFFChunks.dropAfterData(kept, path: path)
            }
        }
        if r != 0 {
            throw HeadroomError(.io, "\(path): closing failed: \(String(cString: sf_error_number(r)))")
        }
    }
}

extension SampleFormat {
    /// The libsndfile encoding that stores it bit for bit.
    var sndfileSubtype: Int32 {
        switch self {
        case .s16: Int32(SF_FORMAT_PCM_16)
        case .s24packed, .s24: Int32(SF_FORMAT_PCM_24)
        case .s32: Int32(SF_FORMAT_PCM_32)
        case .float: Int32(SF_FORMAT_FLOAT)
        }
    }

    /// Bytes a sample takes in a WAV, RF64 or W64 take (24 bits in 32 are written as 24).
    public var fileBytesPerSample: Int {
        switch self {
        case .s16: 2
        case .s24packed, .s24: 3
        case .s32, .float: 4
        }
    }
}
