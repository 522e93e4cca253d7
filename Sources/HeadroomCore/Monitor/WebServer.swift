import FlyingFox
import FlyingSocks
import Foundation
import Synchronization

/// `record --listen ADDR:PORT`: a read-only HTTP server on its own thread and Swift tasks
/// (FlyingFox: plain sockets and `epoll`, no SwiftNIO), serving from the ``Monitor``:
///
/// - `/metrics`: the Prometheus text exposition format;
/// - `/status`: the recorder as one JSON object;
/// - `/`: the live meter page (``LivePage``), which opens `/live`, a WebSocket that sends the
///   status 10 times a second, and reconnects by itself when the recorder restarts.
///
/// Nothing here touches the capture, writer or analyzer threads: requests read the monitor's
/// last figures under its lock.
public final class WebServer: Sendable {
    public let host: String
    public let port: UInt16
    private let server: HTTPServer

    /// `spec` is `ADDR:PORT` or a bare port (then 127.0.0.1); `localhost:PORT` is 127.0.0.1, and
    /// `:PORT` every IPv4 address, as Prometheus and its exporters read `--web.listen-address`.
    /// An IPv6 address goes in brackets, as in a URL: `[::1]:PORT`, and `[::]:PORT` every
    /// address, IPv6 and IPv4 alike (Linux's `bindv6only` is 0 unless someone set it).
    /// Throws a usage error for a bad one.
    public static func parse(_ spec: String) throws(HeadroomError) -> (host: String, port: UInt16) {
        let usage = "give a port (9110) or an address and a port (0.0.0.0:9110, [::]:9110)"
        if spec.hasPrefix("[") {
            guard let close = spec.firstIndex(of: "]") else {
                throw HeadroomError(.usage, "--listen \(spec): the IPv6 address has no closing ]; \(usage)")
            }
            let host = String(spec[spec.index(after: spec.startIndex)..<close])
            let rest = spec[spec.index(after: close)...]
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()), port > 0 else {
                throw HeadroomError(.usage, "--listen \(spec): \(usage)")
            }
            var addr = in6_addr()
            guard inet_pton(AF_INET6, host, &addr) == 1 else {
                let what = host.isEmpty ? "no address in the brackets" : "\(host) is not an IPv6 address"
                throw HeadroomError(.usage, "--listen \(spec): \(what) (use [::1] or [::])")
            }
            return (host, port)
        }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count > 2 {
            // Which colon is the port's? A URL's brackets say.
            guard let port = UInt16(parts.last!), port > 0 else {
                throw HeadroomError(.usage, "--listen \(spec): \(usage)")
            }
            throw HeadroomError(
                .usage,
                "--listen \(spec): put an IPv6 address in brackets, as in a URL: [\(parts.dropLast().joined(separator: ":"))]:\(port)"
            )
        }
        var host = parts.count == 2 ? String(parts[0]) : "127.0.0.1"
        if host == "localhost" { host = "127.0.0.1" }
        if host.isEmpty { host = "0.0.0.0" }
        guard parts.count <= 2, let port = UInt16(parts.last ?? ""), port > 0 else {
            throw HeadroomError(.usage, "--listen \(spec): \(usage)")
        }
        var addr = in_addr()
        guard inet_pton(AF_INET, host, &addr) == 1 else {
            throw HeadroomError(
                .usage,
                "--listen \(spec): \(host) is not an IP address (use 127.0.0.1, 0.0.0.0, or [::] for IPv6 too)"
            )
        }
        return (host, port)
    }

    /// `host:port`, with an IPv6 host in brackets, as a URL has it.
    public static func authority(host: String, port: UInt16) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public var authority: String { Self.authority(host: host, port: port) }

    public init(host: String, port: UInt16, monitor: Monitor) throws(HeadroomError) {
        self.host = host
        self.port = port
        do {
            if host.contains(":") {
                server = HTTPServer(address: try .inet6(ip6: host, port: port), timeout: 15, logger: .disabled)
            } else {
                server = HTTPServer(address: try .inet(ip4: host, port: port), timeout: 15, logger: .disabled)
            }
        } catch {
            throw HeadroomError(.usage, "--listen \(Self.authority(host: host, port: port)): \(error)")
        }
        self.monitor = monitor
    }

    private let monitor: Monitor

    private static func addRoutes(_ server: HTTPServer, _ m: Monitor) async {
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(
                statusCode: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: Data(m.exposition.utf8)
            )
        }
        await server.appendRoute("GET /status") { _ in
            HTTPResponse(
                statusCode: .ok,
                headers: [.contentType: "application/json", HTTPHeader("Cache-Control"): "no-store"],
                body: m.statusJSON
            )
        }
        await server.appendRoute("GET /live", to: .webSocket(LiveFeed(monitor: m)))
        await server.appendRoute("GET /") { _ in
            HTTPResponse(
                statusCode: .ok,
                headers: [.contentType: "text/html; charset=utf-8"],
                body: Data(LivePage.html(device: m.device).utf8)
            )
        }
    }

    /// Starts serving; throws (exit 69... 73) when the port cannot be bound.
    public func start() throws(HeadroomError) {
        let started = DispatchSemaphore(value: 0)
        let failure = SendableBox<String?>(nil)
        let server = self.server
        let monitor = self.monitor
        let thread = Thread {
            let done = DispatchSemaphore(value: 0)
            Task {
                await Self.addRoutes(server, monitor)
                do {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            do {
                                try await server.run()
                            } catch {
                                // A port that cannot be bound says so at once, not when the
                                // wait for listening below runs out.
                                failure.value = Self.why(error)
                                started.signal()
                                throw error
                            }
                        }
                        group.addTask {
                            try await server.waitUntilListening(timeout: 5)
                            started.signal()
                        }
                        try await group.waitForAll()
                    }
                } catch {
                    if failure.value == nil { failure.value = Self.why(error) }
                    started.signal()
                }
                done.signal()
            }
            done.wait()
        }
        thread.name = "headroom-http"
        thread.start()
        started.wait()
        if let why = failure.value {
            throw HeadroomError(.cantCreate, "--listen \(authority): cannot listen: \(why)")
        }
    }

    /// What a person can act on, from what the socket said.
    static func why(_ error: any Error) -> String {
        guard case .failed(_, let code, let message) = error as? SocketError else { return "\(error)" }
        switch code {
        case EADDRINUSE: return "the port is in use (another headroom, or another server, listens there)"
        case EACCES: return "permission denied (ports below 1024 need root, or CAP_NET_BIND_SERVICE)"
        case EADDRNOTAVAIL: return "this machine has no such address"
        default: return message
        }
    }

    public func stop() {
        let server = self.server
        let done = DispatchSemaphore(value: 0)
        Task {
            await server.stop(timeout: 1)
            done.signal()
        }
        _ = done.wait(timeout: .now() + 3)
    }
}

/// The live page's feed: the status as JSON, 10 times a second, until the page goes away.
/// The page answers each status with a message of its own, and no more than ``window``
/// statuses go unanswered: a page that stops reading without closing (a phone asleep with
/// the page open, a link that stalls) is sent nothing more until it answers again. Without
/// that, every status since would wait in the server's send queue, unbounded (a 32-channel
/// recorder grew 55 KB a second, 200 MB an hour, towards being killed mid-take).
struct LiveFeed: WSMessageHandler {
    let monitor: Monitor
    /// Statuses sent and not answered, at most: two seconds of them.
    static let window = 20

    /// A count several tasks share (statuses sent less those answered).
    final class Counter: Sendable {
        let count = Atomic<Int>(0)
    }

    func makeMessages(for client: AsyncStream<WSMessage>) async throws -> AsyncStream<WSMessage> {
        let m = monitor
        let unanswered = Counter()
        return AsyncStream { continuation in
            let sender = Task {
                while !Task.isCancelled {
                    if unanswered.count.load(ordering: .relaxed) < Self.window {
                        unanswered.count.add(1, ordering: .relaxed)
                        continuation.yield(.text(String(decoding: m.statusJSON, as: UTF8.self)))
                    }
                    try? await Task.sleep(nanoseconds: 100_000_000)
                }
            }
            let watcher = Task {
                for await _ in client {  // an answer; more answers than statuses widen nothing
                    var n = unanswered.count.load(ordering: .relaxed)
                    while n > 0 {
                        let (done, now) = unanswered.count.compareExchange(
                            expected: n,
                            desired: n - 1,
                            ordering: .relaxed
                        )
                        if done { break }
                        n = now
                    }
                }
                // The page closed the socket.
                sender.cancel()
                continuation.finish()
            }
            continuation.onTermination = { _ in
                sender.cancel()
                watcher.cancel()
            }
        }
    }
}

/// A value handed between a thread and a task, set once before a semaphore is signalled.
final class SendableBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
