import CSndFile
import Foundation
import Testing

@testable import HeadroomCore

/// A FLAC take's chapters and loudness, written into the room its comment kept
/// (``FLACTags``): what does not fit is left out, never the audio moved.
@Suite("FLAC tags written into the comment's room")
struct FLACTagsTests {
    /// A second of 2-channel noise as FLAC, with `comment` as libsndfile writes it.
    static func flac(comment: String) throws -> (path: String, samples: [Int32]) {
        let path = NSTemporaryDirectory() + "headroom-tags-\(UUID().uuidString).flac"
        var samples = [Int32](repeating: 0, count: 48000 * 2)
        var seed: UInt32 = 7
        for i in samples.indices {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            samples[i] = Int32(bitPattern: seed) >> 4 & ~0xFFFF
        }
        var info = SF_INFO()
        info.channels = 2
        info.samplerate = 48000
        info.format = Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
        let out = try #require(sf_open(path, Int32(SFM_WRITE), &info))
        sf_set_string(out, Int32(SF_STR_COMMENT), comment)
        #expect(sf_writef_int(out, samples, 48000) == 48000)
        sf_close(out)
        return (path, samples)
    }

    static func readBack(_ path: String) throws -> (samples: [Int32], comment: String) {
        var info = SF_INFO()
        let file = try #require(sf_open(path, Int32(SFM_READ), &info))
        defer { sf_close(file) }
        var samples = [Int32](repeating: 0, count: Int(info.frames) * 2)
        #expect(sf_readf_int(file, &samples, info.frames) == info.frames)
        return (samples, sf_get_string(file, Int32(SF_STR_COMMENT)).map { String(cString: $0) } ?? "")
    }

    /// ffprobe's chapters and tags of the file, as JSON.
    static func probe(_ path: String) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
        p.arguments = ["-v", "error", "-show_chapters", "-show_format", "-of", "json", path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return data
    }

    @Test(
        "markers past the room or past chapter 999 are left out, from the last; the rest are chapters in take order; a second finish gives the same bytes; the audio is as written"
    )
    func fitsTheRoom() throws {
        let (path, samples) = try Self.flac(comment: FLACTags.reserving("a take"))
        defer { unlink(path) }
        #expect(FLACTags.look(path)?.chapters == 0 && FLACTags.look(path)?.room == true)
        let size = try Data(contentsOf: URL(fileURLWithPath: path)).count
        // Out of order, as a log lists events when they end; 2,000 of them, with long labels.
        let markers = (0..<2000).reversed().map {
            CueMarkers.Marker(frame: $0 * 24, label: "marker \($0): " + String(repeating: "x", count: 60))
        }
        let loudness = ProgrammeLoudness.Figures(
            integratedLUFS: -23.456,
            rangeLU: 4.2,
            maxMomentaryLUFS: -20,
            maxShortTermLUFS: -21
        )
        let written = try #require(
            try FLACTags.finish(path, markers: markers, rate: 48000, loudness: loudness, maxTruePeakDBTP: -1)
        )
        #expect(written.markers == 2000 && written.loudness)
        #expect(written.chapters > 400 && written.chapters < 999, "\(written)")
        #expect(FLACTags.look(path)?.chapters == written.chapters && FLACTags.look(path)?.room == false)
        let once = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(once.count == size, "written in place")
        let (back, comment) = try Self.readBack(path)
        #expect(back == samples && comment == "a take")
        let probed = try #require(try JSONSerialization.jsonObject(with: try Self.probe(path)) as? [String: Any])
        let chapters = try #require(probed["chapters"] as? [[String: Any]])
        #expect(chapters.count == written.chapters)
        #expect(chapters.first?["start_time"] as? String == "0.000000")
        #expect((chapters.first?["tags"] as? [String: String])?["title"]?.hasPrefix("marker 0: x") == true)
        #expect(
            (chapters.last?["tags"] as? [String: String])?["title"]?.hasPrefix("marker \(written.chapters - 1): x")
                == true
        )
        let tags = (probed["format"] as? [String: Any])?["tags"] as? [String: String] ?? [:]
        #expect(tags["REPLAYGAIN_TRACK_GAIN"] == "+5.46 dB" && tags["REPLAYGAIN_TRACK_RANGE"] == "4.20 dB", "\(tags)")
        #expect(tags["REPLAYGAIN_TRACK_PEAK"] == "0.891251", "\(tags)")
        _ = try FLACTags.finish(path, markers: markers, rate: 48000, loudness: loudness, maxTruePeakDBTP: -1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == once)
        // No loudness given (a review that did not measure it): the tags it has are kept.
        _ = try FLACTags.finish(path, markers: markers, rate: 48000, loudness: nil, maxTruePeakDBTP: nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == once)

        // Short markers: chapter 999 is the last a reader numbers.
        let few = (0..<1200).map { CueMarkers.Marker(frame: $0, label: "m") }
        let all = try #require(
            try FLACTags.finish(path, markers: few, rate: 48000, loudness: nil, maxTruePeakDBTP: nil)
        )
        #expect(all.chapters == 999 && !all.loudness, "\(all)")
        #expect(try Self.readBack(path).samples == samples)
    }

    @Test("the channel names a FLAC take's comment gives, each to the next channel's number: a name may hold a comma")
    func commentNames() {
        let comment =
            "headroom take from hw:CARD=USB; channels: 1 Vox, lead, 2 Gtr 2, 3 , 4 Room; originator reference ZZHDR1; time reference 5 samples since midnight"
        #expect(CarriedNames.commentNames(comment, channels: 4) == [0: "Vox, lead", 1: "Gtr 2", 3: "Room"])
        #expect(
            CarriedNames.commentNames(comment + String(repeating: " ", count: 100), channels: 2) == [
                0: "Vox, lead", 1: "Gtr 2, 3 , 4 Room",
            ]
        )
        #expect(CarriedNames.commentNames("a take", channels: 2).isEmpty)
    }

    @Test("a comment with no room (a FLAC take an earlier headroom wrote, any other FLAC file) is left as it is")
    func noRoom() throws {
        let (path, _) = try Self.flac(comment: "a take")
        defer { unlink(path) }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let marker = CueMarkers.Marker(frame: 0, label: "clip ch1 +3.0 dB")
        #expect(try FLACTags.finish(path, markers: [marker], rate: 48000, loudness: nil, maxTruePeakDBTP: nil) == nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(FLACTags.look(path)?.chapters == 0 && FLACTags.look(path)?.room == false)
        let wav = NSTemporaryDirectory() + "headroom-tags-\(UUID().uuidString).wav"
        defer { unlink(wav) }
        #expect(FileManager.default.createFile(atPath: wav, contents: Data("RIFF".utf8)))
        #expect(FLACTags.look(wav) == nil)
    }
}
