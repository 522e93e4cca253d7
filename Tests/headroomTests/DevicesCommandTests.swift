import Foundation
import Testing

@Suite("headroom devices")
struct DevicesCommandTests {
    @Test("with no sound card it says so and still lists the plugin PCMs with what they accept")
    func noCard() throws {
        let r = try headroom("devices")
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0] == "Sound cards:")
        #expect(lines[1] == "  none found (no sound card is connected, or ALSA has no driver for it)")
        let null = try #require(lines.firstIndex { $0.hasPrefix("  null  ") })
        #expect(
            lines[null + 1] == "    formats S16_LE S24_3LE S24_LE S32_LE FLOAT_LE; rates 1-768000 Hz; channels 1-256"
        )
        #expect(r.stderr.isEmpty)  // plugins whose servers are down stay quiet
        // Plugins with nothing to reach here share one line at the end; each PCM once.
        let absent = String(cString: strerror(ENOENT))
        #expect(!lines.contains("    cannot open for capture now: \(absent)"), "\(r.stdout)")
        let shared = lines.filter { $0.hasPrefix("  cannot open for capture now (\(absent)): ") }
        #expect(shared.count <= 1 && (shared.isEmpty || lines.last == shared[0]), "\(r.stdout)")
        let named = shared.first.map { $0.split(separator: ": ").last!.split(separator: ", ").map(String.init) } ?? []
        for name in named { #expect(!lines.contains { $0.hasPrefix("  \(name)  ") || $0 == "  \(name)" }, "\(name)") }
        // A sound server this user cannot reach (none runs in its runtime folder): said
        // shortly, once per PCM; `record` says more (RecordFileRigTests.badInput).
        let runtime = scratchDirectory()
        let unreachable = try headroom(
            "devices",
            environment: ["XDG_RUNTIME_DIR": runtime, "PIPEWIRE_RUNTIME_DIR": runtime]
        )
        let pipewire = unreachable.stdout.split(separator: "\n").drop { !$0.hasPrefix("  pipewire  ") }.dropFirst()
            .first
        #expect(
            pipewire?.hasSuffix(
                ": \(String(cString: strerror(EHOSTDOWN))) (its sound server is not running for this user)"
            )
                == true,
            "\(unreachable.stdout)"
        )
    }

    /// Runs headroom as nobody (65534) in a mount namespace of its own whose /dev is a tmpfs
    /// with the usual character devices and a /dev/snd holding a card's control and capture
    /// nodes that only root may open, as a user outside the `audio` group finds them over
    /// ssh. The real libasound2 tries them and finds no card. (Gone with the namespace:
    /// nothing is mounted or created in the machine's /dev.)
    static func asUserWithoutAudioGroup(_ arguments: [String]) throws -> RunResult {
        let dir = scratchDirectory()
        chmod(dir, 0o777)
        let script = """
            set -e
            s=$1; shift
            for n in null zero full random urandom; do : > "$s/$n"; mount --bind /dev/$n "$s/$n"; done
            mount -t tmpfs -o mode=755 tmpfs /dev
            for n in null zero full random urandom; do : > /dev/$n; mount --bind "$s/$n" /dev/$n; done
            mkdir -m 1777 /dev/shm
            mkdir -m 755 /dev/snd
            : > /dev/snd/controlC0; : > /dev/snd/pcmC0D0c
            chmod 600 /dev/snd/controlC0 /dev/snd/pcmC0D0c
            exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
            """
        return try run(
            "/usr/bin/unshare",
            ["--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", dir, headroomBinary] + arguments
                + (arguments.first == "record" ? ["--duration", "1", "--dir", dir + "/takes"] : [])
        )
    }

    @Test(
        "a card this user may not open (not in the audio group): devices and record say so and how to fix it, not 'none found' or 'No such file or directory'"
    )
    func cardWithoutPermission() throws {
        let hint =
            "this user may not open the sound card (/dev/snd/controlC0: permission denied): add it to the audio group, sudo usermod -aG audio nobody, and log in again"
        let devices = try Self.asUserWithoutAudioGroup(["devices"])
        #expect(devices.status == 0, "\(devices.stderr)")
        let lines = devices.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count > 2 && lines[1] == "  " + hint, "\(devices.stdout)")
        // hw:0 and hw:CARD=USB: ALSA says "No such file or directory" and "No such device".
        for device in ["hw:0", "hw:CARD=USB"] {
            let r = try Self.asUserWithoutAudioGroup(["record", "--device", device])
            #expect(r.status == 69, "\(r.stderr)")
            #expect(r.stderr.hasPrefix("headroom: cannot open capture device \(device): "), "\(r.stderr)")
            #expect(r.stderr.contains(" (\(hint)); `headroom devices` lists what is there\n"), "\(r.stderr)")
        }
        // As root the same nodes open: no hint, and the machine's own listing is as before.
        #expect(!(try headroom("devices").stdout.contains("may not open")))
    }
}
