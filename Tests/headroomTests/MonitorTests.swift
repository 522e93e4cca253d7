import FlyingFox
import Foundation
import Testing

@testable import HeadroomCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// GET `url`: status and body, or nil when nothing answered within `timeout`.
func httpGet(_ url: String, timeout: Double = 5) -> (status: Int, body: String)? {
    let done = DispatchSemaphore(value: 0)
    let result = SendableResult()
    var request = URLRequest(url: URL(string: url)!)
    request.timeoutInterval = timeout
    URLSession.shared.dataTask(with: request) { data, response, _ in
        if let http = response as? HTTPURLResponse {
            result.value = (http.statusCode, String(decoding: data ?? Data(), as: UTF8.self))
        }
        done.signal()
    }.resume()
    _ = done.wait(timeout: .now() + timeout + 1)
    return result.value
}

final class SendableResult: @unchecked Sendable {
    var value: (Int, String)?
}

/// Metric `name`'s value for channel `channel` (1-based) in Prometheus's text format; nil
/// when it is not there.
func metricValue(_ exposition: String, _ name: String, channel: Int) -> Double? {
    exposition.split(separator: "\n").first { $0.hasPrefix(name + "{") && $0.contains("channel=\"\(channel)\"") }
        .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
}

/// A port for a server a test starts: 20000 + a number from this process and a counter.
func testPort(_ k: Int) -> Int { 20000 + Int(getpid() % 4000) * 8 + k }

/// A server the test starts (Prometheus, node_exporter), stopped by its pid.
final class ServerProcess {
    let process: Process
    init(_ path: String, _ arguments: [String]) throws {
        process = try JackRig.launch(path, arguments, [:])
    }
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        if !JackRig.reap(process.processIdentifier, seconds: 10) {
            kill(process.processIdentifier, SIGKILL)
            _ = JackRig.reap(process.processIdentifier, seconds: 5)
        }
    }
    deinit { stop() }
}

/// Watching recorders from elsewhere: /metrics scraped by a real Prometheus, the textfile
/// read by a real node_exporter, the live page in headless Chromium, systemd's protocol.
@Suite("Watching recorders from elsewhere", .serialized)
struct MonitorTests {
    /// Opens `url` in headless Chromium, driven over DevTools' pipe (fds 3 and 4), keeps it
    /// open `seconds` of real time, and reads the take time the page shows and the one
    /// `/status` gives just after.
    static func pageKeptOpen(
        _ url: String,
        seconds: Double,
        in dir: String
    ) throws -> (shown: Double, takeSeconds: Double) {
        let script = dir + "/devtools.py"
        try """
        import fcntl, json, os, subprocess, sys, time, urllib.request
        url, seconds = sys.argv[1], float(sys.argv[2])
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes on fd 4: the pipe ends go above them first.
        low = (to_chrome_r, from_chrome_w)
        to_chrome_r, from_chrome_w = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in low)
        for fd in low: os.close(fd)
        def child_fds():
            os.dup2(to_chrome_r, 3); os.dup2(from_chrome_w, 4)
        chrome = subprocess.Popen(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
            "--remote-debugging-pipe", "about:blank"], preexec_fn=child_fds, pass_fds=(3, 4),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r); os.close(from_chrome_w)
        buf, n = b"", 0
        def call(method, params, session=None):
            global buf, n
            n += 1
            msg = {"id": n, "method": method, "params": params}
            if session: msg["sessionId"] = session
            os.write(to_chrome_w, json.dumps(msg).encode() + b"\\0")
            while True:
                while b"\\0" not in buf:
                    chunk = os.read(from_chrome_r, 65536)
                    if not chunk: raise SystemExit("chromium went away")
                    buf += chunk
                line, buf = buf.split(b"\\0", 1)
                reply = json.loads(line)
                if reply.get("id") == n:
                    if "error" in reply: raise SystemExit(str(reply["error"]))
                    return reply["result"]
        try:
            target = call("Target.createTarget", {"url": url})["targetId"]
            session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            time.sleep(seconds)  # the page stays open this long: what is tested
            shown = call("Runtime.evaluate", {"expression": "document.getElementById('time').textContent"},
                session)["result"].get("value")
            status = json.load(urllib.request.urlopen(url + "status"))
            print(shown, status["take_seconds"])
        finally:
            chrome.kill(); chrome.wait()
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try run("/usr/bin/python3", [script, url, String(seconds)])
        let words = r.stdout.split(separator: " ")
        // The page's clock: mm:ss.t, or h:mm:ss.t.
        let shown = words.first.map { $0.split(separator: ":").reduce(0.0) { $0 * 60 + (Double($1) ?? .nan) } }
        guard r.status == 0, words.count == 2, let shown,
            let take = Double(words[1].trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw RigError("the page could not be read: \(r.stdout) \(r.stderr)") }
        return (shown, take)
    }

    @Test(
        "the live page's feed sends a page that stops answering (a phone asleep with it open) no more than its window, and goes on when it answers: the server's queue stays bounded"
    )
    func stalledPage() async throws {
        let monitor = Monitor(device: "test", settings: AnalysisSettings())
        var snapshot = MeterSnapshot(channels: [.init(name: "Vox")], rate: 48000)
        snapshot.takeName = "t.wav"
        monitor.update(snapshot, recording: true, diskSecondsLeft: nil)
        let (page, answer) = AsyncStream<WSMessage>.makeStream()
        let feed = try await LiveFeed(monitor: monitor).makeMessages(for: page)
        let received = SendableCounter()
        let reader = Task {
            for await _ in feed { received.add() }
        }
        defer { reader.cancel() }
        func count() -> Int { received.value }
        // The page answers nothing: the feed stops at its window, however long it waits.
        #expect(eventually { count() == LiveFeed.window })
        try await Task.sleep(for: .seconds(1))  // ten more statuses' time
        #expect(count() == LiveFeed.window)
        // It answers three: three more come, and no more.
        for _ in 0..<3 { answer.yield(.text("a")) }
        #expect(eventually { count() == LiveFeed.window + 3 })
        try await Task.sleep(for: .seconds(1))
        #expect(count() == LiveFeed.window + 3)
    }

    @Test("--listen reads addresses as Prometheus's exporters do, and names what it cannot read")
    func listenAddresses() throws {
        for (spec, host, port) in [
            ("9110", "127.0.0.1", 9110), ("localhost:9110", "127.0.0.1", 9110), (":9110", "0.0.0.0", 9110),
            ("0.0.0.0:80", "0.0.0.0", 80), ("192.168.1.20:9110", "192.168.1.20", 9110),
        ] as [(String, String, UInt16)] {
            let parsed = try WebServer.parse(spec)
            #expect(parsed.host == host && parsed.port == port, "\(spec)")
        }
        for (spec, host, port) in [("[::1]:9110", "::1", 9110), ("[::]:9110", "::", 9110)] as [(String, String, UInt16)]
        {
            let parsed = try WebServer.parse(spec)
            #expect(parsed.host == host && parsed.port == port, "\(spec)")
            #expect(WebServer.authority(host: parsed.host, port: parsed.port) == spec)
        }
        for (spec, says) in [
            ("stage-box:9110", "stage-box is not an IP address"), ("0.0.0.0:99999", "give a port"),
            ("9110x", "give a port"), (":0", "give a port"), ("", "give a port"),
            ("::1:9110", "put an IPv6 address in brackets, as in a URL: [::1]:9110"), ("[::1]", "give a port"),
            ("[::1:9110", "no closing ]"), ("[fe80::zz]:9110", "fe80::zz is not an IPv6 address"),
            ("[127.0.0.1]:9110", "127.0.0.1 is not an IPv6 address"), ("[]:9110", "no address in the brackets"),
            ("::", "give a port"),
        ] {
            let result = Result { () throws(HeadroomError) in try WebServer.parse(spec) }
            if case .failure(let error) = result {
                #expect(error.message.contains(says), "\(spec): \(error.message)")
            } else {
                Issue.record("\(spec) was taken")
            }
        }
    }

    @Test("a port another server holds: exit 73 and one line that says so, before anything is recorded")
    func portInUse() throws {
        // A listening socket of the test's own, on a port the system picks.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let dir = scratchDirectory() + "/takes"
        let r = try recordOnFileRig(
            Material(frames: 48000, channels: 2),
            seconds: 1,
            dir: dir,
            extra: ["--listen", "127.0.0.1:\(port)"]
        )
        #expect(r.status == 73)
        #expect(
            r.stderr
                == "headroom: --listen 127.0.0.1:\(port): cannot listen: the port is in use (another headroom, or another server, listens there)\n",
            "\(r.stderr)"
        )
        #expect((try? FileManager.default.contentsOfDirectory(atPath: dir))?.isEmpty ?? true)
    }

    @Test("a --metrics-file node_exporter's textfile collector would pass over (not *.prom): a note says so")
    func metricsFileName() throws {
        let dir = scratchDirectory()
        for name in ["headroom.txt", "headroom.prom"] {
            let r = try recordOnFileRig(
                Material(frames: 48000, channels: 2),
                seconds: 1,
                dir: dir + "/takes",
                extra: ["--metrics-file", dir + "/" + name]
            )
            #expect(r.status == 0, "\(r.stderr)")
            let note =
                "headroom: note: --metrics-file \(dir)/\(name): node_exporter's textfile collector reads only files whose names end in .prom\n"
            #expect(r.stderr.contains(note) == (name == "headroom.txt"), "\(r.stderr)")
            #expect(FileManager.default.fileExists(atPath: dir + "/" + name))
        }
    }

    @Test(
        "the metrics come in a fixed order: families by name, channels 1 to 12 in turn, where the registry shuffled them"
    )
    func metricsOrder() throws {
        let dir = scratchDirectory()
        var m = Material(frames: 48000, channels: 12)
        for f in stride(from: 100, to: 48000, by: 50) {
            for c in 0..<12 { m.values[f * 12 + c] = 0.3 }
        }
        let r = try recordOnFileRig(
            m,
            seconds: 1,
            dir: dir + "/takes",
            extra: ["--metrics-file", dir + "/headroom.prom"]
        )
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOfFile: dir + "/headroom.prom", encoding: .utf8).split(separator: "\n")
        let families = lines.filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) }
        #expect(families.count >= 15 && families == families.sorted(), "\(families)")
        // Each family's head, then its series.
        for (i, line) in lines.enumerated() where line.hasPrefix("# TYPE ") {
            let name = line.split(separator: " ")[2]
            #expect(lines[(i + 1)...].prefix { !$0.hasPrefix("#") }.allSatisfy { $0.hasPrefix(name) }, "\(name)")
        }
        for family in ["headroom_channel_peak_dbfs", "headroom_clip_events_total", "headroom_channel_gain_proposal_db"]
        {
            let channels = lines.filter { $0.hasPrefix(family + "{") }.compactMap { line in
                line.split(separator: "channel=\"").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) }
            }
            #expect(channels == Array(1...12), "\(family): \(channels)")
        }
    }

    @Test("a channel at a 24-bit converter's largest code (-0.000001 dBFS) reads 0.0 dBFS in the metrics, not -0.0")
    func noNegativeZero() throws {
        let dir = scratchDirectory()
        let r = try recordOnFileRig(
            Material.stereoSecond(clips: [(0, 40000, 4)]),
            seconds: 1,
            dir: dir + "/takes",
            extra: ["--metrics-file", dir + "/headroom.prom"]
        )
        #expect(r.status == 0, "\(r.stderr)")
        let metrics = try String(contentsOfFile: dir + "/headroom.prom", encoding: .utf8)
        let peak = try #require(
            metrics.split(separator: "\n").first {
                $0.hasPrefix("headroom_channel_peak_dbfs{") && $0.contains("channel=\"1\"")
            }
        )
        #expect(peak.hasSuffix(" 0.0"), "\(peak)")
        #expect(!metrics.contains(" -0.0\n"), "\(metrics)")
    }

    static let root = repositoryRoot

    @Test(
        "a real Prometheus scrapes two recorders on two JACK rigs: clip events on the clipping one only; promtool accepts the shipped files and /metrics; the Grafana dashboard's queries find both"
    )
    func prometheus() throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/hot.wav", seconds: 2, level: 0.1, clipEvery: 4800)
        _ = writeNoiseWav(dir + "/clean.wav", seconds: 2, level: 0.05)
        let rigA = try JackRig(name: "promA", wav: dir + "/hot.wav")
        defer { rigA.stop() }
        let rigB = try JackRig(name: "promB", wav: dir + "/clean.wav")
        defer { rigB.stop() }
        let (portA, portB, portP) = (testPort(0), testPort(1), testPort(2))
        let a = try BackgroundRecorder(
            ["record", "--device", "testlive", "--dir", dir + "/a", "--listen", "127.0.0.1:\(portA)"],
            environment: rigA.environment,
            directory: try Self.folder(dir + "/ra")
        )
        let b = try BackgroundRecorder(
            // Every address, IPv6 and IPv4: Prometheus scrapes it over IPv6, the test over IPv4.
            ["record", "--device", "testlive", "--dir", dir + "/b", "--listen", "[::]:\(portB)"],
            environment: rigB.environment,
            directory: try Self.folder(dir + "/rb")
        )
        #expect(eventually { httpGet("http://127.0.0.1:\(portA)/metrics")?.status == 200 })
        #expect(eventually { httpGet("http://127.0.0.1:\(portB)/metrics")?.status == 200 })

        // promtool: the shipped scrape config and rules, and what /metrics serves.
        let rules = try run("/usr/bin/promtool", ["check", "rules", Self.root + "/monitoring/headroom-alerts.yml"])
        #expect(rules.status == 0, "\(rules.stdout)\(rules.stderr)")
        // The rules' own unit tests: series as /metrics serves them, the alerts they raise.
        let ruleTests = try run(
            "/usr/bin/promtool",
            ["test", "rules", "headroom-alerts.test.yml"],
            cwd: Self.root + "/monitoring"
        )
        #expect(ruleTests.status == 0, "\(ruleTests.stdout)\(ruleTests.stderr)")
        let config = try run("/usr/bin/promtool", ["check", "config", Self.root + "/monitoring/prometheus.yml"])
        #expect(config.status == 0, "\(config.stdout)\(config.stderr)")
        let metrics = try #require(httpGet("http://127.0.0.1:\(portA)/metrics")?.body)
        try metrics.write(toFile: dir + "/metrics.txt", atomically: true, encoding: .utf8)
        let check = try run("/bin/sh", ["-c", "/usr/bin/promtool check metrics < \(dir)/metrics.txt"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")

        // Prometheus itself, scraping both every second, with the shipped rules loaded.
        try """
        global: { scrape_interval: 1s, evaluation_interval: 1s }
        rule_files: ["\(Self.root)/monitoring/headroom-alerts.yml"]
        scrape_configs:
          - job_name: headroom
            static_configs:
              - targets: ["127.0.0.1:\(portA)", "[::1]:\(portB)"]
        """.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = try ServerProcess(
            "/usr/bin/prometheus",
            [
                "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/tsdb",
                "--web.listen-address=127.0.0.1:\(portP)",
            ]
        )
        defer { prometheus.stop() }
        func query(_ q: String) -> [(instance: String, value: Double)] {
            let url =
                "http://127.0.0.1:\(portP)/api/v1/query?query=" + q.addingPercentEncoding(
                    withAllowedCharacters: .alphanumerics
                )!
            guard let body = httpGet(url)?.body,
                let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
            else { return [] }
            return result.compactMap { r in
                guard let metric = r["metric"] as? [String: String], let value = r["value"] as? [Any],
                    let text = value.last as? String, let v = Double(text)
                else { return nil }
                return (metric["instance"] ?? "", v)
            }
        }
        var sums: [String: Double] = [:]
        let seen = eventually(40) {
            sums = [:]
            for r in query("sum by (instance) (headroom_clip_events_total)") { sums[r.instance] = r.value }
            return sums.count == 2 && (sums["127.0.0.1:\(portA)"] ?? 0) > 0
        }
        #expect(seen, "\(sums)")
        #expect(sums["[::1]:\(portB)"] == 0)
        #expect(query("headroom_up").count == 2)

        // The shipped Grafana dashboard: every panel's query, as Grafana sends it with all
        // recorders chosen (its instance variable lists headroom_up's), finds both recorders.
        let dashboard = try #require(
            JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: Self.root + "/monitoring/grafana-dashboard.json"))
            ) as? [String: Any]
        )
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let queries = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(queries.count >= panels.count)
        for q in queries {
            var instances: Set<String> = []
            let both = eventually(20) {
                instances = Set(query(q.replacingOccurrences(of: "$instance", with: ".+")).map(\.instance))
                return instances == ["127.0.0.1:\(portA)", "[::1]:\(portB)"]
            }
            #expect(both, "\(q): \(instances)")
        }

        for r in [a, b] { kill(r.pid, SIGINT) }
        #expect(a.wait(seconds: 15) == 0)
        #expect(b.wait(seconds: 15) == 0)
        #expect(
            b.stderr.contains("serving /metrics, /status and the live page on http://[::]:\(portB)/"),
            "\(b.stderr)"
        )
    }

    @Test("--metrics-file read by a real node_exporter (textfile collector): the values are the clip log's")
    func nodeExporter() throws {
        let dir = scratchDirectory()
        var m = Material(frames: 48000 * 3, channels: 2)
        m.clip(channel: 0, frame: 12345, length: 4)
        m.clip(channel: 0, frame: 90000, length: 5)
        m.clip(channel: 1, frame: 60000, length: 7, negative: true)
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        let textfiles = try Self.folder(dir + "/textfile")
        let r = try headroom(
            "record",
            "--device",
            "testcap",
            "--duration",
            "3",
            "--dir",
            dir + "/takes",
            "--name",
            "t",
            "--names",
            "Vox,Bass",
            "--metrics-file",
            textfiles + "/headroom.prom",
            environment: rig.environment
        )
        #expect(r.status == 0, "\(r.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: textfiles)
        #expect(files == ["headroom.prom"], "only the renamed file is left, no temporary")
        let port = testPort(3)
        let exporter = try ServerProcess(
            "/usr/bin/prometheus-node-exporter",
            [
                "--collector.disable-defaults", "--collector.textfile",
                "--collector.textfile.directory=\(textfiles)", "--web.listen-address=127.0.0.1:\(port)",
            ]
        )
        defer { exporter.stop() }
        var body = ""
        #expect(
            eventually {
                body = httpGet("http://127.0.0.1:\(port)/metrics")?.body ?? ""
                return !body.isEmpty
            }
        )
        #expect(body.split(separator: "\n").contains("node_textfile_scrape_error 0"), "\(body)")
        func value(_ name: String, channel: Int) -> Double? { metricValue(body, name, channel: channel) }
        let log = logLines(dir + "/takes/t.clips.jsonl")
        let summary = try #require(log.last?["channels"] as? [[String: Any]])
        for c in 1...2 {
            #expect(
                value("headroom_clip_events_total", channel: c)
                    == (summary[c - 1]["clip_events"] as? Int).map(Double.init)
            )
            #expect(
                value("headroom_clipped_samples_total", channel: c)
                    == (summary[c - 1]["clipped_samples"] as? Int).map(Double.init)
            )
        }
        #expect(value("headroom_clip_events_total", channel: 1) == 2)
    }

    @Test(
        "disk time left counts the bytes a frame takes in the take (3 a sample for 24 bits in 32), not in capture",
        arguments: [("S24_LE", 3), ("S16_LE", 2)]
    )
    func diskSecondsLeft(format: String, fileBytes: Int) throws {
        let dir = scratchDirectory()
        let rig = FileRig(bytes: Material(frames: 48000, channels: 2).bytes(format))
        let metrics = dir + "/headroom.prom"
        _ = try rig.record("--format", format, "--duration", "1", "--name", "t", "--metrics-file", metrics)
        let exposition = try String(contentsOfFile: metrics, encoding: .utf8)
        let line = try #require(
            exposition.split(separator: "\n").first { $0.hasPrefix("headroom_disk_seconds_left{") }
        )
        let seconds = try #require(line.split(separator: " ").last.flatMap { Double($0) })
        var fs = statvfs()
        #expect(statvfs(dir, &fs) == 0)
        let free = Double(fs.f_bavail) * Double(fs.f_frsize)
        // Other tests write and remove files meanwhile; a quarter off is what the bug was.
        let ratio = seconds * 48000 * 2 * Double(fileBytes) / free
        #expect(ratio > 0.95 && ratio < 1.05, "\(line) against \(free) bytes free")
    }

    @Test(
        "the live page in headless Chromium: latches and levels from the JACK rig; 100 clients at once do not hurt the take"
    )
    func livePage() throws {
        let dir = scratchDirectory()
        var noise = writeNoiseWav(dir + "/in.wav", seconds: 2, level: 0.2, clipEvery: 9600)
        // Bass steps through four levels, 6 dB apart, every quarter second: its bar has to
        // move (steady noise reads the same to 0.1 dB block after block).
        for i in 0..<(noise.count / 2) { noise[2 * i + 1] *= [1, 0.5, 2, 0.25][(i / 12000) % 4] }
        writeAudio(
            dir + "/in.wav",
            samples: noise.map { Int32((max(-1, min(1, $0)) * 8_388_607).rounded()) << 8 },
            channels: 2
        )
        let rig = try JackRig(name: "page", wav: dir + "/in.wav")
        defer { rig.stop() }
        let port = testPort(4)
        let recorder = try BackgroundRecorder(
            [
                "record", "--device", "testlive", "--names", "Vox,Bass", "--dir", dir + "/takes", "--listen",
                String(port),
            ],
            environment: rig.environment,
            directory: try Self.folder(dir + "/r")
        )
        #expect(eventually { httpGet("http://127.0.0.1:\(port)/status")?.status == 200 })
        #expect(waitForAudio(in: dir + "/takes", seconds: 1))
        let first = try livePageDOM(port: port) { $0.contains(">live<") && $0.contains("1 Vox") }
        #expect(first.contains("class=\"latch clip\""), "ch1 clips every 0.2 s: its latch is lit")
        #expect(first.contains("1 Vox") && first.contains("2 Bass"))
        #expect(first.contains(">live<"), "the WebSocket feed connected")
        let widths = { (html: String) in html.matches(of: #/class="fill" style="width: ([\d.]+)%/#).map { String($0.1) }
        }
        #expect(widths(first).count == 2)
        // The dB scale over the bars, and the bars coloured by zone as the terminal's are: ch1,
        // clipping every 0.2 s, reaches into the hot zone (red above -margin).
        #expect(
            first.contains(#"<span style="left:0%">-60</span>"#) && first.contains(#"<span style="left:90%">-6</span>"#)
        )
        let fills = first.matches(of: #/class="fill" style="([^"]*)"/#).map { String($0.1) }
        #expect(fills.first?.contains("rgb(239, 83, 80)") == true, "\(fills)")
        let second = try livePageDOM(port: port) { widths($0) != widths(first) }
        #expect(widths(second) != widths(first), "the bars move while the rig plays")
        let shot = try run(
            "/usr/bin/chromium",
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=420,640",
                "--virtual-time-budget=2500", "--screenshot=\(dir)/live.png", "http://127.0.0.1:\(port)/",
            ]
        )
        #expect(shot.status == 0)

        // The page kept open 5 s in a real browser (DevTools over a pipe) follows the take: it
        // answers each status, so the feed's window never closes on it (a page that did not
        // would stop at 2 s).
        let followed = try Self.pageKeptOpen("http://127.0.0.1:\(port)/", seconds: 5, in: dir)
        #expect(abs(followed.shown - followed.takeSeconds) < 1, "\(followed)")
        // 100 clients at once: every one answered (or refused), and the take goes on whole.
        let group = DispatchGroup()
        let answered = SendableCounter()
        for i in 0..<100 {
            group.enter()
            DispatchQueue.global().async {
                if rawGet(port: port, path: i % 2 == 0 ? "/metrics" : "/status").hasPrefix("HTTP/1.1 200") {
                    answered.add()
                }
                group.leave()
            }
        }
        group.wait()
        #expect(answered.value == 100, "\(answered.value) of 100 answered")
        kill(recorder.pid, SIGINT)
        #expect(recorder.wait(seconds: 15) == 0)
        let log = logLines(try #require(files(in: dir + "/takes", ending: ".clips.jsonl").first))
        #expect(!log.contains { ["xrun", "dropped"].contains($0["type"] as? String ?? "") }, "\(recorder.stderr)")
    }

    @Test(
        "a channel that clips without a pause (one clip event for as long as it lasts): its clipped samples keep rising on /metrics while it clips, and end as the log's"
    )
    func clippingWithoutAPause() throws {
        let dir = scratchDirectory()
        MeterTerminalTests.writeClippedBursts(dir + "/in.wav", throughout: true)
        let rig = try JackRig(name: "pause", wav: dir + "/in.wav")
        defer { rig.stop() }
        let port = testPort(6)
        let recorder = try BackgroundRecorder(
            ["record", "--device", "testlive", "--dir", dir + "/takes", "--name", "t", "--listen", String(port)],
            environment: rig.environment,
            directory: try Self.folder(dir + "/r")
        )
        func read() -> (events: Double, samples: Double)? {
            guard let body = httpGet("http://127.0.0.1:\(port)/metrics")?.body,
                let events = metricValue(body, "headroom_clip_events_total", channel: 1),
                let samples = metricValue(body, "headroom_clipped_samples_total", channel: 1)
            else { return nil }
            return (events, samples)
        }
        // Half a second of the tone's overs (about 10,000 samples), then as much again, all in
        // the one event still open.
        var first: (events: Double, samples: Double)?
        #expect(
            eventually {
                first = read()
                return (first?.samples ?? 0) > 10_000
            },
            "\(String(describing: first))"
        )
        var later: (events: Double, samples: Double)?
        #expect(
            eventually {
                later = read()
                return (later?.samples ?? 0) > (first?.samples ?? .infinity) + 10_000
            },
            "\(String(describing: first)), then \(String(describing: later))"
        )
        #expect(first?.events == 1 && later?.events == 1)
        kill(recorder.pid, SIGINT)
        #expect(recorder.wait(seconds: 15) == 0)
        let clips = logLines(dir + "/takes/t.clips.jsonl").filter { $0["type"] as? String == "clip" }
        #expect(clips.count == 1 && clips.first?["channel"] as? Int == 1)
        let total = try #require(clips.first?["clipped_samples"] as? Int)
        #expect(Double(total) >= later?.samples ?? .infinity, "the counter ran ahead of the event: \(total)")
    }

    @Test("a clip reaches /status (what the page's feed sends) within half a second of its frame being captured")
    func latchLatency() throws {
        let dir = scratchDirectory()
        _ = writeNoiseWav(dir + "/in.wav", seconds: 2, level: 0.05, clipEvery: 48000)  // one clip a loop, at 1 s
        let rig = try JackRig(name: "latch", wav: dir + "/in.wav")
        defer { rig.stop() }
        let port = testPort(5)
        let recorder = try BackgroundRecorder(
            ["record", "--device", "testlive", "--dir", dir + "/takes", "--name", "t", "--listen", String(port)],
            environment: rig.environment,
            directory: try Self.folder(dir + "/r")
        )
        #expect(eventually { rawGet(port: port, path: "/status").hasPrefix("HTTP/1.1 200") })
        // Poll as fast as a page could be fed; note the wall time the clip first shows.
        var seen: Double? = nil
        let deadline = Date().addingTimeInterval(10)
        while seen == nil && Date() < deadline {
            let body = rawGet(port: port, path: "/status").split(separator: "\r\n\r\n").last ?? ""
            if let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let channels = json["channels"] as? [[String: Any]],
                (channels.first?["clip_events"] as? Int ?? 0) > 0
            {
                seen = Date().timeIntervalSince1970
            }
            usleep(10_000)
        }
        kill(recorder.pid, SIGINT)
        #expect(recorder.wait(seconds: 15) == 0)
        let log = logLines(dir + "/takes/t.clips.jsonl")
        let started = try #require((log.first?["started"] as? String).flatMap { ClipLog.date(from: $0) })
        let clip = try #require(log.first { $0["type"] as? String == "clip" })
        let captured = started.timeIntervalSince1970 + Double(clip["start_frame"] as? Int ?? 0) / 48000
        let latency = try #require(seen) - captured
        print(String(format: "clip frame captured -> on /status: %.3f s", latency))
        #expect(latency < 0.5, "clip at \(captured), on /status at \(seen!): \(latency) s")
    }

    @Test(
        "under systemd: READY=1, STATUS and WATCHDOG=1 on NOTIFY_SOCKET, STOPPING=1 as it ends; journal lines carry priorities and the take"
    )
    func systemd() throws {
        let dir = scratchDirectory()
        let notify = try NotifySocket(dir + "/notify")
        var m = Material(frames: 48000 * 2, channels: 2)
        m.clip(channel: 0, frame: 24000, length: 5)
        let rig = FileRig(bytes: m.bytes("S24_3LE"))
        // stderr goes to a file whose device and inode JOURNAL_STREAM names, as journald's would.
        let errPath = dir + "/stderr"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        var st = stat()
        stat(errPath, &st)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: headroomBinary)
        p.arguments = ["record", "--device", "testcap", "--duration", "2", "--dir", dir + "/takes", "--name", "t"]
        p.environment = ProcessInfo.processInfo.environment.merging(rig.environment) { $1 }.merging([
            "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000", "JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)",
        ]) { $1 }
        p.standardError = FileHandle(forWritingAtPath: errPath)
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let messages = notify.received()
        #expect(messages.first?.hasPrefix("READY=1") == true, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("STATUS=recording t.wav") })
        #expect(messages.contains("WATCHDOG=1"))
        // Ending by itself (--duration), it says so: systemd's watchdog no longer applies while
        // the last take is finished and its upload waited for.
        #expect(messages.last == "STOPPING=1", "\(messages)")
        let lines = try String(contentsOfFile: errPath, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.allSatisfy { $0.hasPrefix("<") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("<4>CLIP: ch1") && $0.hasSuffix("[t.wav]") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("<6>headroom: take") })
    }

    @Test(
        "under systemd with --wait-device: waiting for the device is being ready and alive (READY=1, STATUS, WATCHDOG=1 while it waits), so neither TimeoutStartSec nor WatchdogSec ends it"
    )
    func systemdWaiting() throws {
        let dir = scratchDirectory()
        let notify = try NotifySocket(dir + "/notify")
        let rig = FileRig(bytes: Material(frames: 4800, channels: 2).bytes("S16_LE"))
        // A card that is not plugged in: the wait the unit's --wait-device makes after an unplug.
        let rec = try BackgroundRecorder(
            ["record", "--device", "hw:CARD=nothere", "--headless", "--wait-device", "--dir", dir + "/takes"],
            environment: rig.environment.merging(["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "3000000"]) { $1 },
            directory: dir
        )
        // The unit's WatchdogSec is 10 s; fed every second or so, three pings come within 10 s.
        let (pinged, messages) = notify.untilPinged(3)
        #expect(pinged, "\(messages) \(rec.stderr)")
        #expect(messages.first?.hasPrefix("READY=1\nSTATUS=waiting for hw:CARD=nothere") == true, "\(messages)")
        // A marker asked for meanwhile (a button wired to kill -USR2) is not placed, and says so.
        kill(rec.pid, SIGUSR2)
        #expect(
            waitFor("headroom: note: SIGUSR2: no take is being recorded, so no marker was placed\n", in: rec),
            "\(rec.stderr)"
        )
        kill(rec.pid, SIGTERM)
        #expect(rec.wait(seconds: 10) == 0, "\(rec.stderr)")
        #expect(notify.received().last == "STOPPING=1")
        // In the journal these are notices, not errors (`journalctl -p err` stays on what failed).
        for line in [
            "headroom: waiting for hw:CARD=fieldrec to come back (Ctrl-C to stop)",
            "headroom: recording again: hw:CARD=fieldrec is back after 41.3 s",
            "headroom: note: SIGUSR2: no take is being recorded, so no marker was placed",
            "headroom: 1190 takes from take-0001.wav to take-1190.wav, and the last 10:",
        ] {
            #expect(Systemd.priority(of: line) == 6, "\(line)")
        }
        #expect(Systemd.priority(of: "headroom: cannot create --dir /srv/takes: Permission denied") == 3)
        #expect(Systemd.priority(of: "headroom: 2 takes from a share that failed") == 3)
    }

    static func folder(_ path: String) throws -> String {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A datagram socket standing in for systemd's NOTIFY_SOCKET: what the recorder tells it.
/// The live page on `port` as Chromium draws it (its DOM). Chromium's virtual-time budget runs
/// on its own clock, not the WebSocket's: on a busy machine the page can be dumped before the
/// feed's first message has drawn it, so it is asked again (up to three times) until `drawn`
/// holds; the last dump either way, for the caller to judge.
func livePageDOM(port: Int, until drawn: (String) -> Bool) throws -> String {
    func dump() throws -> String {
        try run(
            "/usr/bin/chromium",
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=2500", "--dump-dom",
                "http://127.0.0.1:\(port)/",
            ]
        ).stdout
    }
    var page = try dump()
    for _ in 0..<3 where !drawn(page) { page = try dump() }
    return page
}

final class NotifySocket {
    let path: String
    private let fd: Int32

    init(_ path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard fd >= 0, bound == 0 else { throw RigError("cannot bind \(path)") }
    }

    deinit { close(fd) }

    /// Reads messages until `count` of them have fed the watchdog (`WATCHDOG=1`, alone or
    /// with others), up to `seconds`: whether they did, and every message read, oldest first.
    func untilPinged(_ count: Int, seconds: Double = 20) -> (pinged: Bool, messages: [String]) {
        var messages: [String] = []
        let pinged = eventually(seconds) {
            messages += received()
            return messages.filter { $0.split(separator: "\n").contains("WATCHDOG=1") }.count >= count
        }
        return (pinged, messages)
    }

    /// The messages received since the last call, oldest first.
    func received() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { break }
            messages.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
        return messages
    }
}

/// One HTTP/1.1 request on its own TCP connection (`Connection: close`), read to the end:
/// what a hundred clients at once look like (URLSession would queue them on a few connections).
func rawGet(port: Int, path: String) -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { return "" }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard send(fd, request, request.count, 0) == request.count else { return "" }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        out += buffer[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

final class SendableCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}
