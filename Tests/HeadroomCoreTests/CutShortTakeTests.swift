import CSndFile
import Foundation
import Testing

@testable import HeadroomCore

/// A FLAC take that a full disk cut short: the whole frames it holds are kept, bit for bit,
/// and its header says how many (libFLAC fills the length in only when it finishes); a FLAC
/// take being written says how many it holds so far.
@Suite("FLAC takes cut short, and being written")
struct CutShortTakeTests {
    @Test(
        "cut at any byte, with its length unknown: trimmed to its last whole frame, which reads back bit-exact with its length in STREAMINFO",
        arguments: [(2, Int32(SF_FORMAT_PCM_16)), (8, Int32(SF_FORMAT_PCM_24)), (1, Int32(SF_FORMAT_PCM_24))]
    )
    func trimmedToWholeFrames(channels: Int, subtype: Int32) throws {
        let path = NSTemporaryDirectory() + "headroom-flac-\(UUID().uuidString).flac"
        defer { unlink(path) }
        // Noise over a tone (so frames differ in size), 3 s at 48 kHz.
        let frames = 144_000
        var samples = [Int32](repeating: 0, count: frames * channels)
        var seed: UInt32 = 12345
        for i in samples.indices {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            let tone = sin(Double(i / channels) * 0.05 + Double(i % channels)) * 0.4
            let noise = Double(Int32(bitPattern: seed) >> 8) / Double(1 << 23) * 0.1
            // Left-justified, at the resolution the file keeps (16 or 24 bits).
            let resolution: Int32 = subtype == Int32(SF_FORMAT_PCM_16) ? ~0xFFFF : ~0xFF
            samples[i] = Int32((tone + noise) * Double(1 << 23)) << 8 & resolution
        }
        var info = SF_INFO()
        info.channels = Int32(channels)
        info.samplerate = 48000
        info.format = Int32(SF_FORMAT_FLAC) | subtype
        let out = try #require(sf_open(path, Int32(SFM_WRITE), &info))
        #expect(sf_writef_int(out, samples, sf_count_t(frames)) == sf_count_t(frames))
        sf_close(out)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        let largestFrame = Int(whole[15]) << 16 | Int(whole[16]) << 8 | Int(whole[17])
        try #require(largestFrame > 0)
        // STREAMINFO as libFLAC leaves it before it finishes: no length, no MD5.
        var unfinished = whole
        unfinished[21] &= 0xF0
        for k in 22..<42 { unfinished[k] = 0 }

        var lastHeld = -1
        for cut in stride(from: whole.count / 3, to: whole.count + 1, by: whole.count / 7) + [whole.count] {
            try unfinished.prefix(cut).write(to: URL(fileURLWithPath: path))
            let fd = open(path, O_RDWR)
            defer { close(fd) }
            let held = try #require(try FLACFrames.trimCutShort(fd, path: path))
            #expect(held > 0 && held <= frames)
            #expect(held >= lastHeld, "a longer cut holds no fewer frames")
            lastHeld = held
            if cut == whole.count { #expect(held == frames, "the whole stream") }
            var readInfo = SF_INFO()
            let file = try #require(sf_open(path, Int32(SFM_READ), &readInfo))
            defer { sf_close(file) }
            #expect(Int(readInfo.frames) == held, "cut at \(cut) of \(whole.count)")
            var back = [Int32](repeating: 0, count: held * channels)
            #expect(sf_readf_int(file, &back, sf_count_t(held)) == sf_count_t(held))
            // (Compared first: swift-testing's diff of two long arrays takes minutes.)
            let same = back == Array(samples.prefix(held * channels))
            #expect(same, "cut at \(cut)")
            // Only the frame the cut went through is dropped: less than the largest frame.
            var st = stat()
            fstat(fd, &st)
            #expect(Int(st.st_size) <= cut && cut - Int(st.st_size) < largestFrame, "cut at \(cut)")
        }
    }

    @Test(
        "a FLAC take being written has its length in STREAMINFO after each header update: the whole frames on disk, read back bit-exact by libsndfile while it is written; closed, libFLAC's own length and MD5"
    )
    func liveLength() throws {
        let path = NSTemporaryDirectory() + "headroom-flac-\(UUID().uuidString).flac"
        defer { unlink(path) }
        let channels = 2
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0o644)
        try #require(fd >= 0)
        let writer = try TakeWriter(
            fd: fd,
            path: path,
            fileFormat: .flac,
            format: .s16,
            rate: 48000,
            channels: channels,
            broadcastInfo: nil
        )
        var seed: UInt32 = 99
        let second = (0..<(48000 * channels)).map { _ in
            seed = seed &* 1_664_525 &+ 1_013_904_223
            return Int16(truncatingIfNeeded: Int32(bitPattern: seed) >> 20)
        }
        func lengthInHeader() throws -> Int {
            var info = SF_INFO()
            let file = try #require(sf_open(path, Int32(SFM_READ), &info))
            defer { sf_close(file) }
            guard info.frames != Int64.max else { return -1 }
            var back = [Int16](repeating: 0, count: Int(info.frames) * channels)
            #expect(sf_readf_short(file, &back, info.frames) == info.frames)
            let same = back.indices.allSatisfy { back[$0] == second[$0 % second.count] }
            #expect(same, "the frames the header counts read back as written")
            return Int(info.frames)
        }
        var written = 0
        for _ in 0..<3 {
            try second.withUnsafeBytes { try writer.write($0.baseAddress!, frames: 48000) }
            written += 48000
            writer.updateHeader()
            // libFLAC holds back the frame it is encoding (4,096 frames at most).
            let length = try lengthInHeader()
            #expect(length <= written && written - length <= 4096, "\(length) of \(written) frames")
        }
        try writer.close()
        #expect(try lengthInHeader() == written)
        let head = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(42)
        #expect(head[26..<42].contains { $0 != 0 }, "libFLAC wrote the MD5 at the close")
    }

    @Test("what is not a FLAC stream is left alone")
    func notFLAC() throws {
        let path = NSTemporaryDirectory() + "headroom-flac-\(UUID().uuidString).flac"
        defer { unlink(path) }
        let bytes = Data("RIFF\0\0\0\0WAVE".utf8)
        try bytes.write(to: URL(fileURLWithPath: path))
        let fd = open(path, O_RDWR)
        defer { close(fd) }
        #expect(try FLACFrames.trimCutShort(fd, path: path) == nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
    }
}

/// Which takes a failed disk removes: those that hold no audio, and only the files the
/// recorder made.
@Suite("Takes the disk failed before")
struct UnwrittenTakeTests {
    @Test(
        "a take the writer failed in before its first frame is removed with its log, named on stderr; a take with audio, or a file a person put in its place, is kept"
    )
    func removedOnlyWhenEmptyAndOurs() throws {
        let directory = try scratchFolder("unwritten")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let namer = try TakeNamer(directory: directory, template: "t", fileFormat: .flac)
        let registry = TakeRegistry(namer: namer, dateOfFrame: { _ in Date() }, channels: 2, addsMarkers: false)
        let takes = (0..<3).map { registry.take($0, startFrame: $0 * 48000) }
        // Take 1 holds audio; take 2's writer wrote its header, then the disk failed before
        // a frame; take 3's file is replaced by a person's before it is finished.
        for (k, frames) in [(0, 48000), (1, 0), (2, 0)] {
            let fd = registry.claimFile(k)
            _ = "fLaC header".withCString { write(fd, $0, 11) }
            close(fd)
            if k == 2 {
                unlink(takes[2].file)
                try Data("a person's".utf8).write(to: URL(fileURLWithPath: takes[2].file))
            }
            close(registry.claimLog(k))
            registry.writerClosed(k, frames: frames, failure: k == 0 ? nil : "No space left on device")
            registry.analyzerClosed(k, markers: [], complete: false, clipEvents: 0)
        }
        registry.waitFinished()
        let exists = takes.map { FileManager.default.fileExists(atPath: $0.file) }
        #expect(exists == [true, false, true])
        #expect(takes.map { FileManager.default.fileExists(atPath: $0.log) } == [true, false, true])
        #expect(registry.kept.map(\.index) == [0, 2])
        let problems = registry.problems.withLock { $0 }
        #expect(problems == ["t-2.flac: removed, with its log: the disk failed before any of it was written"])
        #expect(try String(contentsOfFile: takes[2].file, encoding: .utf8) == "a person's")
    }
}

@Suite("A folder a day")
struct DatedFolderTests {
    @Test("--name %Y-%m-%d/take-%n: a take that begins after midnight goes into the new day's folder, made then")
    func newDayNewFolder() throws {
        let directory = try scratchFolder("dated")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var lastSecond = DateComponents(year: 2026, month: 12, day: 31, hour: 23, minute: 59, second: 59)
        lastSecond.timeZone = .current
        let start = try #require(Calendar(identifier: .gregorian).date(from: lastSecond))
        let namer = try TakeNamer(directory: directory, template: "%Y-%m-%d/take-%n", fileFormat: .wav)
        #expect(namer.makesFolders)
        let registry = TakeRegistry(
            namer: namer,
            dateOfFrame: { start.addingTimeInterval(Double($0) / 1000) },
            channels: 1,
            addsMarkers: false
        )
        // The first take begins at 23:59:59, the second two seconds of audio later.
        let takes = [registry.take(0, startFrame: 0), registry.take(1, startFrame: 2000)]
        #expect(takes.map(\.file) == [directory + "/2026-12-31/take-001.wav", directory + "/2027-01-01/take-002.wav"])
        #expect(takes.allSatisfy { FileManager.default.fileExists(atPath: $0.log) })
        for k in 0..<2 {
            close(registry.claimFile(k))
            close(registry.claimLog(k))
        }
    }
}

@Suite("The take counter")
struct TakeCounterTests {
    @Test(
        "%n goes on from the highest number in its folder: a deleted take-003 is not reused, dated names, other numbers and a file in a folder's place do not count"
    )
    func afterTheHighest() throws {
        let directory = try scratchFolder("counter")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func touch(_ names: String...) {
            for name in names {
                #expect(FileManager.default.createFile(atPath: directory + "/" + name, contents: Data()))
            }
        }
        var namer = try TakeNamer(directory: directory, template: "take-%n", fileFormat: .wav)
        #expect(namer.next() == directory + "/take-001")
        // take-001 to take-005 were recorded and take-003, a false start, deleted.
        touch("take-001.wav", "take-001.clips.jsonl", "take-002.wav", "take-004.wav", "take-005.clips.jsonl")
        namer = try TakeNamer(directory: directory, template: "take-%n", fileFormat: .wav)
        #expect(namer.next() == directory + "/take-006")
        // A reconnect's part counts; a date, another width and a longer word do not. (The
        // folder is looked at once, as a recorder starts: the next recorder sees these.)
        touch("take-007-2.wav", "take-20261206-162931.wav", "take-0099.wav", "take-010x.wav", "take-012.labels.txt")
        namer = try TakeNamer(directory: directory, template: "take-%n", fileFormat: .wav)
        #expect(namer.next() == directory + "/take-013")
        #expect(namer.next() == directory + "/take-014")
        // Counted folders: 002 and 004 are folders of takes, 009 is a file a person put there.
        try FileManager.default.createDirectory(atPath: directory + "/sets/002", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/sets/004", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: directory + "/sets/009", contents: Data()))
        var sets = try TakeNamer(directory: directory + "/sets", template: "%n/take", fileFormat: .flac)
        #expect(sets.next() == directory + "/sets/005/take")
    }
}
