import Testing

@Suite("Help text")
struct HelpTests {
    @Test("the root help lists only the commands that work, and the exit codes, word for word")
    func rootHelp() throws {
        let r = try headroom("--help")
        #expect(r.status == 0)
        #expect(
            r.stdout == """
                OVERVIEW: A recording-input guard for ALSA capture: peak margin, clip warnings
                and gain proposals per channel.

                Exit codes: 0 success, 1 --fail-on-clip tripped, 64 usage or config error, 66
                input missing or unreadable, 69 device unavailable, 73 cannot create output, 74
                I/O error.

                USAGE: headroom <subcommand>

                OPTIONS:
                  --version               Show the version.
                  -h, --help              Show help information.

                SUBCOMMANDS:
                  record                  Record takes from an ALSA capture device with live
                                          meters, clip warnings and a clip log per take.
                  calibrate               Listen during soundcheck and propose how many dB to
                                          turn each preamp up or down.
                  review                  Summarize takes and their clip logs (table, events,
                                          JSON, Audacity labels).
                  analyze                 Run the analyzer over audio files (anything
                                          libsndfile reads).
                  devices                 List capture PCMs and cards with the formats, rates
                                          and channel counts each accepts.

                  See 'headroom help <subcommand>' for detailed help.

                """
        )
    }
}
