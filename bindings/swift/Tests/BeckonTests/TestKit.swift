// What the tests share: temporary directories, beckon-server child processes and Beckon
// instances, all cleaned up after each test (instances shut down, servers stopped,
// directories deleted), plus a reader for the server's events export and admin API.
import Beckon
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import XCTest

class BeckonTestCase: XCTestCase {
    static let appKey = "swift-test-key"
    static let adminToken = "swift-test-admin"
    /// Never uploads on its own during a test: only `flush()` does.
    static let quiet = FlushPolicy(flushAt: 500, flushIntervalMs: 3_600_000, requestTimeoutMs: 5_000)
    static let flushTimeoutMs: Int64 = 20_000

    private var cleanups: [() -> Void] = []

    override func tearDown() {
        for cleanup in cleanups.reversed() { cleanup() }
        cleanups.removeAll()
        super.tearDown()
    }

    func addCleanup(_ cleanup: @escaping () -> Void) {
        cleanups.append(cleanup)
    }

    func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("beckon-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addCleanup { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// A fresh beckon-server on loopback with an empty database (built-in segments seeded),
    /// started with `extraArguments` after the usual flags (`--verify-identities required`…).
    func startServer(extraArguments: [String] = []) throws -> TestServer {
        let server = try TestServer.start(
            workDir: try tempDir(), appKey: Self.appKey, adminToken: Self.adminToken,
            extraArguments: extraArguments)
        addCleanup { server.stop() }
        return server
    }

    /// Opens Beckon; it is shut down after the test.
    func open(_ dir: URL, serverUrl: String, flushPolicy: FlushPolicy = quiet) throws -> Beckon {
        let beckon = try Beckon(config: BeckonConfig(
            dataDir: dir.path, serverUrl: serverUrl, appKey: Self.appKey, flushPolicy: flushPolicy))
        addCleanup { beckon.shutdown() }
        return beckon
    }

    /// Opens Beckon against `server` and syncs, so the device holds the server's segments
    /// and campaigns before the test tracks anything (no sync can land mid-test).
    func openSynced(_ dir: URL, server: TestServer, file: StaticString = #filePath, line: UInt = #line) throws -> Beckon {
        let beckon = try open(dir, serverUrl: server.url)
        let report = try beckon.sync(timeoutMs: 10_000)
        XCTAssertTrue([.updated, .notModified].contains(report.outcome), "\(report)", file: file, line: line)
        return beckon
    }

    /// A loopback URL nothing listens on: uploads to it fail with "connection refused".
    func deadServerUrl() throws -> String {
        "http://127.0.0.1:\(try freeLoopbackPort())"
    }

    /// Polls `condition` until it holds or `timeout` seconds pass.
    func eventually(timeout: TimeInterval = 5, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        } while Date() < deadline
        return try condition()
    }
}

/// Names of the events the SDK itself records when the user enters or leaves a segment
/// (membership reports, `beckon::protocol::SEGMENT_ENTERED` / `SEGMENT_EXITED`). They are
/// uploaded with the app's events; tests about the app's events leave them out and check
/// them on their own.
let membershipReportNames: Set<String> = ["Segment Entered", "Segment Exited"]

/// A port on 127.0.0.1 that was free a moment ago.
func freeLoopbackPort() throws -> Int {
    let (fd, port) = try listenOnLoopback(backlog: 1)
    _ = close(fd)
    return Int(port)
}

/// The name of the calling thread, as the OS knows it (Rust names its threads this way).
func currentThreadName() -> String {
    #if os(Linux)
    // The calling thread's name (Glibc's module does not export pthread_getname_np).
    let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?"
    return comm.trimmingCharacters(in: .newlines)
    #else
    var buffer = [CChar](repeating: 0, count: 64)
    _ = pthread_getname_np(pthread_self(), &buffer, buffer.count)
    return String(cString: buffer)
    #endif
}

/// The engagement thread's name as the OS reports it: "beckon-engagement", cut to 15
/// bytes on Linux, where thread names are at most 15 bytes long.
#if os(Linux)
let engagementThreadName = String("beckon-engagement".prefix(15))
#else
let engagementThreadName = "beckon-engagement"
#endif

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Collects values handed over from other threads.
final class Inbox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []

    func add(_ item: T) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    var all: [T] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

/// A JSON value from the server, compared by value: numbers are equal when numerically
/// equal (the export writes `10.0` as `10`), booleans are not numbers.
enum JSON: Equatable, Sendable, Decodable, CustomStringConvertible,
    ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSON].self))
        }
    }

    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .number(Double(value)) }
    init(floatLiteral value: Double) { self = .number(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(arrayLiteral elements: JSON...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(Dictionary(uniqueKeysWithValues: elements))
    }

    subscript(key: String) -> JSON? {
        if case let .object(fields) = self { return fields[key] }
        return nil
    }

    var string: String? {
        if case let .string(value) = self { return value }
        return nil
    }

    var object: [String: JSON] {
        if case let .object(fields) = self { return fields }
        return [:]
    }

    var description: String {
        switch self {
        case .null: return "null"
        case let .bool(value): return "\(value)"
        case let .number(value): return value == value.rounded() && abs(value) < 1e15 ? "\(Int64(value))" : "\(value)"
        case let .string(value): return "\"\(value)\""
        case let .array(values): return "[" + values.map(\.description).joined(separator: ", ") + "]"
        case let .object(fields):
            return "{" + fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
        }
    }
}

/// One line of `GET /v1/events`: an event as the server stored it.
struct ExportedEvent: CustomStringConvertible {
    let json: JSON

    var id: String { json["id"]?.string ?? "" }
    var type: String { json["type"]?.string ?? "" }
    var name: String? { json["name"]?.string }
    var anonymousId: String? { json["anonymous_id"]?.string }
    var userId: String? { json["user_id"]?.string }
    var timestamp: String? { json["timestamp"]?.string }
    var properties: [String: JSON] { json["properties"]?.object ?? [:] }
    var traits: [String: JSON] { json["traits"]?.object ?? [:] }
    /// `name` for tracks and screens, else the type (`identify`).
    var label: String { name ?? type }
    var isMembershipReport: Bool { type == "track" && membershipReportNames.contains(name ?? "") }

    var description: String { json.description }
}

/// A beckon-server child process on loopback with its own SQLite file, started with the
/// command line's defaults (built-in segments seeded) and any extra arguments. Its log
/// goes to server.log in its work directory.
final class TestServer {
    let url: String
    let appKey: String
    let adminToken: String
    let log: URL
    private let process: Process

    private init(process: Process, url: String, appKey: String, adminToken: String, log: URL) {
        self.process = process
        self.url = url
        self.appKey = appKey
        self.adminToken = adminToken
        self.log = log
    }

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["BECKON_SERVER_BINARY"] { return path }
        return repositoryRoot.appendingPathComponent("target/debug/beckon-server").path
    }

    static func start(
        workDir: URL, appKey: String, adminToken: String, extraArguments: [String] = []
    ) throws -> TestServer {
        let log = workDir.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--listen", "127.0.0.1:0", "--db", workDir.appendingPathComponent("server.db").path,
            "--app-key", appKey, "--admin-token", adminToken,
        ] + extraArguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardInput = FileHandle.nullDevice
        // The child inherits the calling thread's signal mask, and Dispatch worker threads
        // (where async tests run) block SIGTERM: unblock it for the spawn, or the server
        // would never see stop()'s SIGTERM.
        var termination = sigset_t()
        var previous = sigset_t()
        sigemptyset(&termination)
        sigaddset(&termination, SIGTERM)
        sigaddset(&termination, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &termination, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
        // The first stdout line is "beckon-server listening on http://HOST:PORT".
        let reader = stdout.fileHandleForReading
        var line = Data()
        let deadline = Date().addingTimeInterval(60)
        while !line.contains(UInt8(ascii: "\n")) && Date() < deadline {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let prefix = "beckon-server listening on "
        guard text.hasPrefix(prefix) else {
            process.terminate()
            process.waitUntilExit()
            let logText = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw TestError("beckon-server printed \"\(text)\"; log: \(logText.suffix(2000))")
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        Thread.detachNewThread {
            while !reader.availableData.isEmpty {}
        }
        return TestServer(process: process, url: String(text.dropFirst(prefix.count)), appKey: appKey, adminToken: adminToken, log: log)
    }

    /// SIGTERM, then SIGKILL if the server has not stopped within 10 s.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    struct Response {
        let status: Int
        let headers: [String: String]
        let body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// One HTTP request with the admin token, waiting for the answer.
    func request(_ method: String, _ pathAndQuery: String, json body: String? = nil) throws -> Response {
        guard let target = URL(string: url + pathAndQuery) else { throw TestError("bad URL \(pathAndQuery)") }
        var request = URLRequest(url: target, timeoutInterval: 15)
        request.httpMethod = method
        request.setValue("Bearer \(adminToken)", forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
        }
        let done = DispatchSemaphore(value: 0)
        let outcome = Inbox<Result<Response, Error>>()
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                outcome.add(.failure(error))
            } else if let http = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (key, value) in http.allHeaderFields {
                    headers[String(describing: key).lowercased()] = String(describing: value)
                }
                outcome.add(.success(Response(status: http.statusCode, headers: headers, body: data ?? Data())))
            } else {
                outcome.add(.failure(TestError("\(method) \(pathAndQuery): no HTTP response")))
            }
            done.signal()
        }
        task.resume()
        guard done.wait(timeout: .now() + 30) == .success, let result = outcome.all.first else {
            task.cancel()
            throw TestError("\(method) \(pathAndQuery): no answer within 30 s")
        }
        return try result.get()
    }

    /// `POST` to an admin route; returns the status and the answer's text.
    func adminPost(_ path: String, json: String) throws -> Response {
        try request("POST", path, json: json)
    }

    /// Every event the server holds, oldest first, read page by page through the cursor.
    func events(pageSize: Int = 100) throws -> [ExportedEvent] {
        var out: [ExportedEvent] = []
        var cursor = "0"
        while true {
            let page = try request("GET", "/v1/events?limit=\(pageSize)&cursor=\(cursor)")
            guard page.status == 200 else { throw TestError("GET /v1/events answered \(page.status): \(page.text)") }
            let lines = page.text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            for line in lines {
                out.append(ExportedEvent(json: try JSONDecoder().decode(JSON.self, from: Data(line.utf8))))
            }
            guard let next = page.headers["beckon-next-cursor"] else {
                throw TestError("export answer has no beckon-next-cursor header")
            }
            if lines.isEmpty || next == cursor { return out }
            cursor = next
        }
    }

    /// The events the app recorded: the export without the SDK's membership reports.
    func appEvents() throws -> [ExportedEvent] {
        try events().filter { !$0.isMembershipReport }
    }

    /// The SDK's membership reports in the export.
    func membershipReports() throws -> [ExportedEvent] {
        try events().filter(\.isMembershipReport)
    }
}

/// The repository root (this file is bindings/swift/Tests/BeckonTests/TestKit.swift).
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// A TCP listener on loopback that never accepts: connections to it complete (the kernel
/// queues them) but no request is ever answered.
final class SilentListener {
    let url: String
    private var fd: Int32

    init() throws {
        let (fd, port) = try listenOnLoopback(backlog: 16)
        self.fd = fd
        url = "http://127.0.0.1:\(port)"
    }

    func close() {
        if fd >= 0 { Self.closeSocket(fd) }
        fd = -1
    }

    private static func closeSocket(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
    }
}

/// A TCP socket listening on a free port of 127.0.0.1, and that port.
func listenOnLoopback(backlog: Int32) throws -> (fd: Int32, port: UInt16) {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw TestError("socket() failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let status = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Int32 in
            guard bind(fd, sa, length) == 0, listen(fd, backlog) == 0 else { return -1 }
            return getsockname(fd, sa, &length)
        }
    }
    guard status == 0 else {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
        throw TestError("bind/listen failed")
    }
    return (fd, UInt16(bigEndian: address.sin_port))
}
