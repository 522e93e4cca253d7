import Foundation
import Testing

/// The `udev/` folder: rules, the systemd unit, install.sh; and the recorder's side of
/// hotplug (--wait-device).
@Suite("udev and systemd: arm on plug-in, survive unplugging", .serialized)
struct HotplugTests {
    static let udev = repositoryRoot + "/udev"

    @Test(
        "the rules use only keys and operators udev knows, quote every value, select only sound devices, and ask for the unit's service"
    )
    func rules() throws {
        let text = try String(contentsOfFile: Self.udev + "/99-headroom.rules", encoding: .utf8)
        let matchKeys: Set<String> = [
            "ACTION", "DEVPATH", "KERNEL", "KERNELS", "NAME", "SYMLINK", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER", "DRIVERS",
            "ATTR", "ATTRS", "SYSCTL", "TAG", "TAGS", "ENV", "CONST", "TEST", "PROGRAM", "RESULT",
        ]
        let assignKeys: Set<String> = [
            "NAME", "SYMLINK", "OWNER", "GROUP", "MODE", "SECLABEL", "ATTR", "SYSCTL", "ENV", "TAG", "RUN", "LABEL",
            "GOTO",
            "IMPORT", "OPTIONS",
        ]
        let pattern = #/^([A-Z_]+)(\{[^}]+\})?(==|!=|\+=|-=|:=|=)"([^"]*)"$/#
        var rules = 0
        var services: [String] = []
        for line in text.split(separator: "\n")
        where !line.hasPrefix("#") && !line.trimmingCharacters(in: .whitespaces).isEmpty {
            rules += 1
            var subsystem: String? = nil
            for part in line.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                let m = try #require(part.wholeMatch(of: pattern), "malformed key: \(part)")
                let key = String(m.1)
                let op = String(m.3)
                let value = String(m.4)
                let isMatch = op == "==" || op == "!="
                #expect(isMatch ? matchKeys.contains(key) : assignKeys.contains(key), "\(key)\(op) is not a udev key")
                if key == "SUBSYSTEM" && op == "==" { subsystem = value }
                if key == "ENV", m.2.map({ String($0) }) == "{SYSTEMD_WANTS}" { services.append(value) }
            }
            #expect(subsystem == "sound", "rule without SUBSYSTEM==\"sound\": \(line)")
        }
        #expect(rules >= 2)
        #expect(!services.isEmpty)
        for service in services {
            // headroom@<id>.service instantiates the template unit headroom@.service.
            #expect(service.hasPrefix("headroom@") && service.hasSuffix(".service"))
            #expect(FileManager.default.fileExists(atPath: Self.udev + "/headroom@.service"))
        }
    }

    @Test("systemd-analyze verify passes and the unit's exposure is 2.0 or lower")
    func unit() throws {
        let dir = scratchDirectory()
        // The unit starts /usr/local/bin/headroom; verify needs the binary to exist, so a
        // copy points ExecStart at the one under test. Nothing else changes.
        let unit = try String(contentsOfFile: Self.udev + "/headroom@.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/headroom record --headless --wait-device"))
        try unit.replacingOccurrences(of: "ExecStart=/usr/local/bin/headroom", with: "ExecStart=\(headroomBinary)")
            .write(toFile: dir + "/headroom@.service", atomically: true, encoding: .utf8)
        let verify = try run("/usr/bin/systemd-analyze", ["verify", dir + "/headroom@.service"])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stderr.isEmpty, "\(verify.stderr)")
        try FileManager.default.copyItem(
            atPath: Self.udev + "/headroom@.service",
            toPath: dir + "/headroom@fieldrec.service"
        )
        let security = try run(
            "/usr/bin/systemd-analyze",
            ["security", "--offline=true", dir + "/headroom@fieldrec.service"]
        )
        let verdict = try #require(
            security.stdout.split(separator: "\n").last { $0.contains("Overall exposure level") }
        )
        let score = try #require(
            Double(verdict.split(separator: ":")[1].trimmingCharacters(in: .whitespaces).split(separator: " ")[0])
        )
        #expect(score <= 0.9, "\(verdict)")
        // It tells systemd how it is, and a bad config fails once instead of looping.
        #expect(unit.contains("Type=notify") && unit.contains("WatchdogSec="))
        #expect(unit.contains("RestartPreventExitStatus=64 66 73"))
    }

    @Test("install.sh into a scratch root puts the repo's files in place; --uninstall takes them out")
    func install() throws {
        let root = scratchDirectory()
        let binary = URL(fileURLWithPath: headroomBinary)
        // install.sh installs .build/release/headroom; give it the binary under test.
        let staging = scratchDirectory()
        try FileManager.default.createDirectory(atPath: staging + "/udev", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: staging + "/.build/release", withIntermediateDirectories: true)
        for f in ["install.sh", "99-headroom.rules", "headroom@.service", "fieldrec.toml"] {
            try FileManager.default.copyItem(atPath: Self.udev + "/" + f, toPath: staging + "/udev/" + f)
        }
        try FileManager.default.copyItem(at: binary, to: URL(fileURLWithPath: staging + "/.build/release/headroom"))
        try FileManager.default.copyItem(atPath: Self.udev + "/../README.md", toPath: staging + "/README.md")
        // The documents the README links to, installed beside it.
        try FileManager.default.copyItem(atPath: Self.udev + "/../docs", toPath: staging + "/docs")
        // The man pages, as the argument parser's manual plugin made them (bash .ci/test runs it).
        let manuals = Self.udev + "/../.build/plugins/GenerateManual/outputs/headroom"
        try #require(
            FileManager.default.fileExists(atPath: manuals + "/headroom.record.1"),
            "no man pages: run swift package plugin generate-manual --multi-page (bash .ci/test does)"
        )
        try FileManager.default.createDirectory(
            atPath: staging + "/.build/plugins/GenerateManual/outputs",
            withIntermediateDirectories: true
        )
        try FileManager.default.copyItem(
            atPath: manuals,
            toPath: staging + "/.build/plugins/GenerateManual/outputs/headroom"
        )
        let r = try run("/bin/bash", [staging + "/udev/install.sh"], environment: ["DESTDIR": root])
        #expect(r.status == 0, "\(r.stderr)")
        let pairs = [
            ("/etc/udev/rules.d/99-headroom.rules", "99-headroom.rules"),
            ("/etc/systemd/system/headroom@.service", "headroom@.service"),
            ("/etc/headroom/fieldrec.toml", "fieldrec.toml"),
        ]
        for (installed, source) in pairs {
            #expect(
                FileManager.default.contentsEqual(atPath: root + installed, andPath: Self.udev + "/" + source),
                "\(installed)"
            )
            #expect(r.stdout.contains("installed \(root)\(installed)"))
        }
        #expect(FileManager.default.contentsEqual(atPath: root + "/usr/local/bin/headroom", andPath: headroomBinary))
        // The unit's Documentation= pages, and what the README links to beside it.
        let documents = [
            "README.md", "docs/guide.md", "docs/clip-log.md", "docs/clip-log.schema.json", "docs/clipping.md",
        ]
        for d in documents {
            #expect(
                FileManager.default.contentsEqual(
                    atPath: root + "/usr/local/share/doc/headroom/" + d,
                    andPath: Self.udev + "/../" + d
                ),
                "\(d)"
            )
        }
        let unit = try String(contentsOfFile: Self.udev + "/headroom@.service", encoding: .utf8)
        let pointedAt = unit.split(separator: "\n").first { $0.hasPrefix("Documentation=") } ?? ""
        for page in pointedAt.dropFirst("Documentation=".count).split(separator: " ") where page.hasPrefix("file:") {
            #expect(FileManager.default.fileExists(atPath: root + page.dropFirst("file:".count)), "\(page)")
        }
        #expect(FileManager.default.isExecutableFile(atPath: root + "/usr/local/bin/headroom"))
        let pages = [
            "headroom", "headroom.record", "headroom.calibrate", "headroom.review", "headroom.analyze",
            "headroom.devices",
        ]
        .map { root + "/usr/local/share/man/man1/\($0).1" }
        for page in pages { #expect(FileManager.default.fileExists(atPath: page), "\(page)") }
        let recordPage = try String(contentsOfFile: pages[1], encoding: .utf8)
        #expect(recordPage.contains("max-take-seconds") && recordPage.contains("S24_3LE"))
        let completions = [
            "/usr/local/share/bash-completion/completions/headroom", "/usr/local/share/zsh/site-functions/_headroom",
            "/usr/local/share/fish/vendor_completions.d/headroom.fish",
        ].map { root + $0 }
        for file in completions {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            #expect(text.contains("FLOAT_LE") && text.contains("file-format"), "\(file)")
        }
        let off = try run("/bin/bash", [staging + "/udev/install.sh", "--uninstall"], environment: ["DESTDIR": root])
        #expect(off.status == 0)
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/udev/rules.d/99-headroom.rules"))
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/systemd/system/headroom@.service"))
        #expect(!FileManager.default.fileExists(atPath: root + "/usr/local/bin/headroom"))
        for file in pages + completions { #expect(!FileManager.default.fileExists(atPath: file), "\(file)") }
        #expect(!FileManager.default.fileExists(atPath: root + "/usr/local/share/doc/headroom"))
        #expect(FileManager.default.fileExists(atPath: root + "/etc/headroom/fieldrec.toml"))  // settings are kept
        #expect(off.stdout.contains("removed"))
    }

    @Test(
        "jackd stopped and started again: the take closes with device_lost, the next one follows on with resumed and the player's output, sample for sample"
    )
    func resume() throws {
        let r = try RigRecording(
            "resume",
            seconds: 3,
            arguments: ["--format", "FLOAT_LE", "--headless", "--wait-device", "--name", "day/take-%n"]
        )
        defer { r.stop() }
        // In a folder --name makes (a folder a day), where the takes that follow on go too.
        let (rig, rec, out, input) = (r.rig, r.recorder, r.out + "/day", r.input)
        #expect(waitForAudio(in: out, seconds: 1))
        rig.stop()  // the interface goes away
        // Wait for the recorder to notice and close the first take (its summary is written).
        let firstLog = out + "/take-001.clips.jsonl"
        let deadline = Date().addingTimeInterval(10)
        while logLines(firstLog).last?["type"] as? String != "summary" && Date() < deadline { usleep(50_000) }
        try rig.startServer()  // and comes back
        // The takes in the order they were made: take-001, take-001-2, take-001-3...
        func takes() -> [String] {
            files(in: out, ending: ".wav").sorted {
                func n(_ p: String) -> Int { Int(p.dropLast(4).split(separator: "-").last ?? "") ?? 0 }
                return (n($0) == 1 ? 0 : n($0)) < (n($1) == 1 ? 0 : n($1))
            }
        }
        func frames(_ take: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: take)[.size] as? Int) ?? 0) / 8
        }
        // The take that follows on is the first after take-001 with audio. While the server
        // comes up the device can open and fail at once (seen on CI: a take of no frames,
        // logged as resumed then device_lost, and the next attempt records).
        let appeared = Date().addingTimeInterval(20)
        var second: String? = nil
        while second == nil && Date() < appeared {
            second = takes().dropFirst().first { frames($0) > 2 * 48000 }
            if second == nil { usleep(50_000) }
        }
        kill(rec.pid, SIGINT)
        #expect(rec.wait(seconds: 10) == 0, "\(rec.stderr)")
        let made = takes()
        let followOn = try #require(second, "\(made)")
        let index = try #require(made.firstIndex(of: followOn))
        for flapped in made[1..<index] {
            let log = logLines(flapped.dropLast(4) + ".clips.jsonl")
            #expect(log.last?["frames"] as? Int == 0 && log.contains { $0["type"] as? String == "device_lost" })
        }

        let first = logLines(firstLog)
        #expect(first.contains { $0["type"] as? String == "device_lost" })
        #expect(first.last?["complete"] as? Bool == false)
        #expect((readFloats(out + "/take-001.wav")?.samples.count ?? 0) > 0)
        let next = logLines(followOn.dropLast(4) + ".clips.jsonl")
        let resumed = try #require(next.first { $0["type"] as? String == "resumed" })
        #expect(resumed["previous"] as? String == (made[index - 1] as NSString).lastPathComponent)
        // The recorder loses nothing of its own (no overrun, no analysis dropped); time JACK's
        // dummy backend fails to deliver on a loaded machine is a logged gap, as for any device
        // (CI: 4,971 frames a second after the reconnect), and the take holds its silence.
        #expect(!next.contains { ["xrun", "dropped"].contains($0["type"] as? String ?? "") })
        let audio = try #require(readFloats(followOn))
        #expect(audio.samples.count / 2 > 48000)
        // After the reconnect the take is the player's output, sample for sample.
        expectPlayerOutput(audio.samples, log: next, of: input, channels: 2)
        #expect(rec.stderr.contains("waiting for testlive"))
    }

    @Test(
        "--wait-device: a device back under its name that refuses the settings (44.1 kHz only) is said, not waited on in silence; the right one back is said and recorded; /status and the page say it waits and why, with no level held up"
    )
    func backRefusing() throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/in.wav", seconds: 3, channels: 2, level: 0.4)
        let rig = try JackRig(name: "refuse", wav: dir + "/in.wav")
        defer { rig.stop() }
        // ALSA's jack plugin itself, with no plug in front to resample: it offers the server's rate.
        let port = testPort(7)
        let rec = try BackgroundRecorder(
            [
                "record", "--device", "jackraw", "--format", "FLOAT_LE", "--dir", dir + "/takes", "--headless",
                "--wait-device", "--name", "take-%n", "--listen", String(port),
            ],
            environment: rig.environment,
            directory: dir
        )
        func said(_ text: String) -> Bool { waitFor(text, in: rec, seconds: 20) }
        #expect(waitForAudio(in: dir + "/takes", seconds: 1))
        rig.stop()  // unplugged
        #expect(said("waiting for jackraw to come back"), "\(rec.stderr)")
        #expect(said("waiting for jackraw: cannot open capture device jackraw"), "\(rec.stderr)")
        // A phone watching the page sees it waiting, and no bar held up by the last block's level.
        func status() -> [String: Any]? {
            httpGet("http://127.0.0.1:\(port)/status").flatMap {
                try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any]
            }
        }
        let waiting = try #require(status())
        #expect(waiting["waiting_for_device"] as? Bool == true && waiting["recording"] as? Bool == false, "\(waiting)")
        let channels = try #require(waiting["channels"] as? [[String: Any]])
        #expect(channels.count == 2 && channels.allSatisfy { $0["level_dbfs"] == nil }, "\(channels)")
        try rig.startServer(rate: 44100)  // another interface, plugged in under its name
        #expect(
            said(
                "waiting for jackraw: jackraw cannot capture at 48000 Hz (nearest it offers: 44100 Hz); use --rate 44100\n"
            ),
            "\(rec.stderr)"
        )
        // The page says why it waits, and for how long: a phone sees the wrong interface.
        var refusing: [String: Any]? = nil
        #expect(
            eventually {
                refusing = status()
                return (refusing?["waiting_reason"] as? String)?.contains("cannot capture at 48000 Hz") == true
            },
            "\(String(describing: refusing))"
        )
        #expect((refusing?["waiting_seconds"] as? Double ?? 0) > 0, "\(String(describing: refusing))")
        let shown = try livePageDOM(port: port) { $0.contains("cannot capture at 48000 Hz") }
        #expect(shown.contains("waiting for the device") && shown.contains("cannot capture at 48000 Hz"), "\(shown)")
        rig.stop()
        try rig.startServer()  // the right one again
        #expect(said("headroom: recording again: jackraw is back after "), "\(rec.stderr)")
        var again: [String: Any]? = nil
        #expect(
            eventually(20) {
                again = status()
                return (again?["channels"] as? [[String: Any]])?.first?["level_dbfs"] != nil
            },
            "\(String(describing: again))"
        )
        #expect(again?["waiting_for_device"] as? Bool == false && again?["recording"] as? Bool == true)
        #expect(again?["waiting_reason"] == nil && again?["waiting_seconds"] == nil)
        #expect(
            eventually(20) { files(in: dir + "/takes", ending: ".wav").contains { $0.hasSuffix("take-001-2.wav") } }
        )
        kill(rec.pid, SIGINT)
        #expect(rec.wait(seconds: 10) == 0, "\(rec.stderr)")
        // Each reason once, however many times a second the device was tried.
        #expect(rec.stderr.components(separatedBy: "cannot capture at 48000 Hz").count == 2, "\(rec.stderr)")
        let log = logLines(dir + "/takes/take-001-2.clips.jsonl")
        #expect(log.contains { $0["type"] as? String == "resumed" } && log.last?["type"] as? String == "summary")
    }

    @Test(
        "--wait-device with --max-take-seconds and --duration: the take after a reconnect follows on from the one the loss cut (take-002-2), the parts after it are numbered on, and --duration counts the audio, not the sessions"
    )
    func partsAcrossAReconnect() throws {
        let r = try RigRecording(
            "parts",
            seconds: 3,
            arguments: [
                "--format", "FLOAT_LE", "--headless", "--wait-device", "--name", "take-%n", "--max-take-seconds", "1",
                "--duration", "4",
            ]
        )
        defer { r.stop() }
        let (rig, rec, out) = (r.rig, r.recorder, r.out)
        // Half a second into the second part, the interface goes away, and comes back.
        #expect(waitForAudio(in: out, seconds: 0.5, ending: "take-002.wav"))
        rig.stop()
        #expect(waitFor("waiting for testlive to come back", in: rec, seconds: 20), "\(rec.stderr)")
        try rig.startServer()
        // It ends by itself once 4 s of audio are in the takes, across the two sessions.
        #expect(rec.wait(seconds: 30) == 0, "\(rec.stderr)")
        let takes = files(in: out, ending: ".wav").map { ($0 as NSString).lastPathComponent }
        #expect(takes.contains("take-002-2.wav") && takes.contains("take-003.wav"), "\(takes)")
        #expect(!takes.contains { $0.hasPrefix("take-001-") }, "\(takes)")
        let frames = files(in: out, ending: ".wav").map { (readFloats($0)?.samples.count ?? 0) / 2 }
        #expect(frames.reduce(0, +) == 4 * 48000, "\(zip(takes, frames).map { "\($0) \($1)" })")
        let next = logLines(out + "/take-002-2.clips.jsonl")
        #expect(next.first { $0["type"] as? String == "resumed" }?["previous"] as? String == "take-002.wav")
    }

    @Test(
        "a device lost while an upload runs: the recorder waits for the device at once, not for the upload, and the uploads run in take order across the reconnect"
    )
    func reconnectDuringUpload() throws {
        // The first take's command hangs (a server gone) until this test stops it; the others
        // say they ran. Its pid is written down so that it is stopped whatever happens.
        let side = scratchDirectory()
        let (sleepers, ran) = (side + "/sleepers", side + "/ran")
        defer {
            let pids = (try? String(contentsOfFile: sleepers, encoding: .utf8)) ?? ""
            for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
        let hook =
            "case \"$1\" in *take-001.wav) echo $$ >> '\(sleepers)'; exec sleep 600;; esac; echo \"$1\" >> '\(ran)'"
        let r = try RigRecording(
            "upload",
            seconds: 3,
            arguments: [
                "--format", "FLOAT_LE", "--headless", "--wait-device", "--name", "take-%n", "--on-take-closed", hook,
            ]
        )
        defer { r.stop() }
        let (rig, rec, out) = (r.rig, r.recorder, r.out)
        #expect(waitForAudio(in: out, seconds: 1))
        rig.stop()  // the interface goes away while nothing has been uploaded
        let deadline = Date().addingTimeInterval(15)
        while !rec.stderr.contains("waiting for testlive to come back") && Date() < deadline { usleep(50_000) }
        #expect(rec.stderr.contains("waiting for testlive to come back"), "\(rec.stderr)")
        #expect(!rec.stderr.contains("waiting for --on-take-closed"), "\(rec.stderr)")
        // The first take's command is running; it has not held up the wait for the device.
        let hung = try #require(
            Int32((try? String(contentsOfFile: sleepers, encoding: .utf8))?.split(separator: "\n").first ?? ""),
            "\(rec.stderr)"
        )
        try rig.startServer()  // and comes back: the recorder follows on in a new take
        let appeared = Date().addingTimeInterval(20)
        func followOn() -> String? {
            files(in: out, ending: ".wav").first {
                !$0.hasSuffix("take-001.wav")
                    && ((try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0) > 8 * 48000
            }
        }
        while followOn() == nil && Date() < appeared { usleep(50_000) }
        let second = try #require(followOn(), "\(rec.stderr)")
        // The upload is given up on (its own timeout, or by hand); the rest run in order.
        kill(hung, SIGTERM)
        kill(rec.pid, SIGINT)
        #expect(rec.wait(seconds: 20) == 0, "\(rec.stderr)")
        #expect(rec.stderr.contains("--on-take-closed was killed by signal 15 for take-001.wav\n"), "\(rec.stderr)")
        let order = try String(contentsOfFile: ran, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(order.last == second, "\(order)")
        #expect(!order.contains(out + "/take-001.wav"), "\(order)")
        #expect(Set(order).count == order.count && order.allSatisfy { FileManager.default.fileExists(atPath: $0) })
    }

    @Test(
        "under --wait-device an open that never returns (a file plugin's input, a pipe nobody writes) ends the recorder, exit 69, alive to the watchdog meanwhile, for a fresh start to open it"
    )
    func stuckOpenUnderWaitDevice() throws {
        let rig = FileRig(bytes: Material(frames: 4800, channels: 2).bytes("S16_LE"))
        // alsa-lib's file plugin opens its infile as the PCM opens: missing, the device is
        // not there; a FIFO with no writer holds the open inside snd_pcm_open, as a driver or
        // plugin that is stuck does.
        let infile = rig.directory + "/in.raw"
        try FileManager.default.removeItem(atPath: infile)
        let notify = try NotifySocket(rig.directory + "/notify")
        let recorder = try BackgroundRecorder(
            [
                "record", "--headless", "--wait-device", "--device", "testcap", "--format", "S16_LE", "--dir",
                rig.directory + "/takes",
            ],
            environment: rig.environment.merging(["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "3000000"]) { $1 },
            directory: rig.directory
        )
        // Missing first: waited for, and each try after the first is quiet (stderr silenced
        // around it); then the try that never returns.
        #expect(waitFor("headroom: waiting for testcap: ", in: recorder), "\(recorder.stderr)")
        #expect(mkfifo(infile, 0o600) == 0)
        // Alive to systemd while the open is waited for (a watchdog of 3 s: a ping a second).
        _ = notify.received()
        let (pinged, messages) = notify.untilPinged(5)
        #expect(pinged, "\(messages)\n\(recorder.stderr)")
        let status = recorder.wait(seconds: 40)
        #expect(status == 69, "\(recorder.stderr)")
        #expect(
            recorder.stderr.contains(
                "headroom: opening testcap has not returned in 15 s: its driver or plugin is stuck, and only a new process can open it again"
            ),
            "\(recorder.stderr)"
        )
        #expect(!recorder.stderr.contains("waiting for testcap: opening"), "\(recorder.stderr)")
        #expect(
            !FileManager.default.fileExists(atPath: rig.directory + "/takes")
                || files(in: rig.directory + "/takes", ending: ".wav").isEmpty
        )
    }
}
