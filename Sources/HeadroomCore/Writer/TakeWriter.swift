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
    private let scratch: UnsafeMutablePointer<Int32>
    private let scratchFrames = 8192
    private let zeros: UnsafeMutableRawPointer
    /// WAV, RF64 and W64 store S16/S24_3LE/S32/FLOAT exactly as ALSA delivers them.
    private let rawLayout: Bool

    /// Creates `path` (never overwriting: an existing file is ``HeadroomError/Code/cantCreate``).
    public init(
        path: String,
        fileFormat: TakeFileFormat,
        format: SampleFormat,
        rate: Int,
        channels: Int,
        broadcastInfo: BroadcastInfo?
    ) throws(HeadroomError) {
        self.path = path
        self.format = format
        self.fileFormat = fileFormat
        self.channels = channels
        // O_EXCL: two recorders (or a clock set back) never overwrite a take.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let why = String(cString: strerror(errno))
            throw HeadroomError(.cantCreate, "cannot create \(path): \(why)")
        }
        var info = SF_INFO()
        info.channels = Int32(channels)
        info.samplerate = Int32(rate)
        info.format = fileFormat.major | format.sndfileSubtype
        guard sf_format_check(&info) == SF_TRUE, let handle = sf_open_fd(fd, Int32(SFM_WRITE), &info, Int32(SF_TRUE))
        else {
            Glibc.close(fd)
            unlink(path)
            throw HeadroomError(
                .cantCreate,
                "cannot create \(path): libsndfile cannot write \(format.rawValue) as \(fileFormat.rawValue)"
            )
        }
        file = handle
        if fileFormat == .wav {
            sf_command(handle, Int32(SFC_RF64_AUTO_DOWNGRADE), nil, Int32(SF_TRUE))
        }
        if fileFormat.isRIFF, let broadcastInfo {
            var bext = broadcastInfo.sndfile
            sf_command(handle, Int32(SFC_SET_BROADCAST_INFO), &bext, Int32(MemoryLayout<SF_BROADCAST_INFO>.size))
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
            let n = Int(sf_write_raw(file, samples, sf_count_t(bytes)))
            frames += max(n, 0) / (channels * format.bytesPerSample)
            if n < bytes {
                let reason = String(cString: sf_strerror(file))
                throw HeadroomError(.io, "\(path): write failed after \(frames) frames: \(reason)")
            }
            return
        }
        var done = 0
        while done < count {
            let n: Int
            let chunk = min(count - done, scratchFrames)
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
                    scratch[i] = Int32(p[0]) << 8 | Int32(p[1]) << 16 | Int32(p[2]) << 24
                }
                n = Int(sf_writef_int(file, scratch, sf_count_t(chunk)))
            }
            frames += max(n, 0)
            if n < chunk {
                let reason = String(cString: sf_strerror(file))
                throw HeadroomError(.io, "\(path): write failed after \(frames) frames: \(reason)")
            }
            done += chunk
        }
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

    /// Brings the header up to date so a killed take opens with everything written so far.
    public func updateHeader() {
        guard let file else { return }
        sf_command(file, Int32(SFC_UPDATE_HEADER_NOW), nil, 0)
    }

    /// Finalizes the header and closes the file.
    public func close() throws(HeadroomError) {
        guard let file else { return }
        self.file = nil
        let r = sf_close(file)
        if r != 0 {
            throw HeadroomError(.io, "\(path): closing failed: \(String(cString: sf_error_number(r)))")
        }
    }
}
