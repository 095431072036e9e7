// A small HTTP/1.1 server on loopback over POSIX sockets, for testing URLSessionHttpClient
// against real connections: it records every request as it arrived (headers in order,
// repeats included, which connection it came on) and answers as each test scripts it,
// including the ways servers misbehave (never answering, stalling or hanging up
// mid-answer, bodies of any length with or without Content-Length).
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One request as the server read it.
struct ReceivedRequest: CustomStringConvertible {
    /// Which TCP connection it came on: 1 for the server's first, 2 for the next…
    let connection: Int
    let method: String
    /// The request target: path and query.
    let target: String
    /// As received, in order, repeats included.
    let headers: [(name: String, value: String)]
    let body: Data

    /// The values of every line named `name` (any case), in order.
    func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The values of `name` as a list: every line, each split at commas.
    func listValues(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    var description: String {
        "#\(connection) \(method) \(target) \(headers.map { "\($0.name): \($0.value)" }) body \(body.count) bytes"
    }
}

/// How the server answers a request.
enum ServerAction {
    /// Reads the request and never answers (the connection stays open until the server stops).
    case stall
    case reply(ServerReply)
}

/// An answer, and how much of it to send.
struct ServerReply {
    enum Framing {
        /// A `Content-Length` header with the body's whole length.
        case contentLength
        /// `Transfer-Encoding: chunked`, one chunk per repetition of `body`.
        case chunked
        /// No length header at all (for 304 and 204).
        case none
    }

    /// What happens after `cutAfter` bytes of the body.
    enum Cut {
        case stall
        case close
    }

    var status: Int
    var reason = "Status"
    var headers: [(String, String)] = []
    var body = Data()
    /// The body is sent this many times over: a long answer without a long buffer.
    var times = 1
    var framing = Framing.contentLength
    /// After this many bytes of the body, `cut` (nil: send it all).
    var cutAfter: Int?
    var cut = Cut.close

    init(status: Int, reason: String = "Status", headers: [(String, String)] = [], body: Data = Data()) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
    }

    init(status: Int, headers: [(String, String)] = [], text: String) {
        self.init(status: status, headers: headers, body: Data(text.utf8))
    }
}

final class LoopbackHttpServer: @unchecked Sendable {
    let url: String
    private let listener: Int32
    private let handler: (ReceivedRequest) -> ServerAction
    private let lock = NSLock()
    private var received: [ReceivedRequest] = []
    private var openConnections: [Int: Int32] = [:]
    private var closedByPeer: Set<Int> = []
    private var abandoned = 0
    private var connectionCount = 0
    private var stopped = false
    private let acceptLoopDone = DispatchSemaphore(value: 0)

    /// Starts listening on 127.0.0.1 at a free port; `handler` runs on the connection's
    /// own thread for every request.
    init(_ handler: @escaping (ReceivedRequest) -> ServerAction) throws {
        self.handler = handler
        let (fd, port) = try listenOnLoopback(backlog: 64)
        listener = fd
        url = "http://127.0.0.1:\(port)"
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "loopback-http-accept"
        thread.start()
    }

    /// Every request so far, in the order they were read.
    var requests: [ReceivedRequest] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// How many answers the client left before their end: it closed the connection while
    /// the server was writing, or while a cut answer stalled.
    var answersAbandonedByClient: Int {
        lock.lock()
        defer { lock.unlock() }
        return abandoned
    }

    /// How many connections the client has closed (the server read their end).
    var connectionsClosedByClient: Int {
        lock.lock()
        defer { lock.unlock() }
        return closedByPeer.count
    }

    /// Stops accepting, hangs up every open connection and ends the stalls.
    func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        let open = Array(openConnections.values)
        lock.unlock()
        guard !wasStopped else { return }
        // shutdown() (not close()) wakes a thread blocked in accept() or recv() on Linux.
        _ = shutdown(listener, Int32(SHUT_RDWR))
        for fd in open { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        _ = acceptLoopDone.wait(timeout: .now() + 5)
        _ = closeSocket(listener)
    }

    deinit {
        stop()
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    private func acceptLoop() {
        defer { acceptLoopDone.signal() }
        while !isStopped {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else {
                if errno == EINTR { continue }
                return
            }
            #if canImport(Darwin)
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
            #endif
            lock.lock()
            if stopped {
                lock.unlock()
                _ = closeSocket(fd)
                return
            }
            connectionCount += 1
            let id = connectionCount
            openConnections[id] = fd
            lock.unlock()
            let thread = Thread { [self] in serve(fd, id: id) }
            thread.name = "loopback-http-\(id)"
            thread.start()
        }
    }

    /// Reads requests from one connection and answers them until either side closes it.
    private func serve(_ fd: Int32, id: Int) {
        defer {
            lock.lock()
            openConnections[id] = nil
            lock.unlock()
            _ = closeSocket(fd)
        }
        var buffer = Data()
        while true {
            guard let request = readRequest(fd, connection: id, buffer: &buffer) else {
                if !isStopped {
                    lock.lock()
                    closedByPeer.insert(id)
                    lock.unlock()
                }
                return
            }
            lock.lock()
            received.append(request)
            lock.unlock()
            switch handler(request) {
            case .stall:
                waitUntilStoppedOrClosed(fd)
                return
            case let .reply(reply):
                if !write(reply, to: fd) { return }
            }
        }
    }

    /// Blocks until the server stops or the client closes the connection; true for the
    /// client's close.
    @discardableResult
    private func waitUntilStoppedOrClosed(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        // recv returns 0 at the client's close (or -1 for its reset), and -1 when stop()
        // shuts the socket down.
        while !isStopped, recv(fd, &byte, 1, 0) > 0 {}
        return !isStopped
    }

    /// Reads one request (head and Content-Length body), or nil at the end of the connection.
    private func readRequest(_ fd: Int32, connection: Int, buffer: inout Data) -> ReceivedRequest? {
        let separator = Data("\r\n\r\n".utf8)
        var headEnd = buffer.range(of: separator)
        while headEnd == nil {
            guard readMore(fd, into: &buffer) else { return nil }
            headEnd = buffer.range(of: separator)
        }
        guard let headEnd else { return nil }
        let head = String(decoding: buffer[buffer.startIndex..<headEnd.lowerBound], as: UTF8.self)
        buffer = Data(buffer[headEnd.upperBound...])
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ", maxSplits: 2).map(String.init)
        guard requestLine.count == 3 else { return nil }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        while buffer.count < length {
            guard readMore(fd, into: &buffer) else { return nil }
        }
        let body = Data(buffer.prefix(length))
        buffer = Data(buffer.dropFirst(length))
        return ReceivedRequest(
            connection: connection, method: requestLine[0], target: requestLine[1], headers: headers, body: body)
    }

    private func readMore(_ fd: Int32, into buffer: inout Data) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    /// Writes `reply`; false when the connection is done with (cut, or closed by the client).
    private func write(_ reply: ServerReply, to fd: Int32) -> Bool {
        var head = "HTTP/1.1 \(reply.status) \(reply.reason)\r\n"
        for (name, value) in reply.headers { head += "\(name): \(value)\r\n" }
        switch reply.framing {
        case .contentLength: head += "Content-Length: \(reply.body.count * reply.times)\r\n"
        case .chunked: head += "Transfer-Encoding: chunked\r\n"
        case .none: break
        }
        head += "\r\n"
        guard sendAll(fd, Data(head.utf8)) else { return noteUnfinished() }
        var sent = 0
        for _ in 0..<reply.times where !reply.body.isEmpty {
            var piece = reply.body
            if let cutAfter = reply.cutAfter, sent + piece.count > cutAfter {
                piece = piece.prefix(cutAfter - sent)
            }
            var framed = piece
            if reply.framing == .chunked, !piece.isEmpty {
                framed = Data((String(piece.count, radix: 16) + "\r\n").utf8) + piece + Data("\r\n".utf8)
            }
            guard sendAll(fd, framed) else { return noteUnfinished() }
            sent += piece.count
            if let cutAfter = reply.cutAfter, sent >= cutAfter { break }
        }
        if reply.cutAfter != nil {
            if reply.cut == .stall && waitUntilStoppedOrClosed(fd) { _ = noteUnfinished() }
            return false
        }
        if reply.framing == .chunked {
            guard sendAll(fd, Data("0\r\n\r\n".utf8)) else { return noteUnfinished() }
        }
        return true
    }

    private func noteUnfinished() -> Bool {
        lock.lock()
        abandoned += 1
        lock.unlock()
        return false
    }

    private func sendAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                #if canImport(Glibc)
                let flags = Int32(MSG_NOSIGNAL)
                #else
                let flags: Int32 = 0
                #endif
                let written = send(fd, raw.baseAddress! + offset, raw.count - offset, flags)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return false }
                offset += written
            }
            return true
        }
    }
}

private func closeSocket(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    return Glibc.close(fd)
    #else
    return Darwin.close(fd)
    #endif
}
