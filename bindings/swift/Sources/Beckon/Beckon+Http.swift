// The device's HTTP requests over the platform's own stack: `URLSessionHttpClient`, the
// `HttpClient` that `Beckon(config:)` gives the core (src/net/exchange.rs states the
// contract). URLSession brings the system's trust store, proxies and VPN rules, and keeps
// TLS out of the Rust library.
//
// Threads: the core calls `send(request:)` on a thread of its own (tokio's blocking pool),
// never the main thread, one request at a time; it blocks that thread on a semaphore until
// the answer is in, the limit is passed or the deadline expires. URLSession calls the
// delegate below on its own serial queue.
import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension Beckon {
    /// Opens the local store and starts the upload worker, whose requests go through
    /// `URLSessionHttpClient` (URLSession: the system's trust store, proxies and VPN
    /// rules). Throws `BeckonError.InvalidConfig` for an invalid config,
    /// `BeckonError.Storage` for an unusable data directory and
    /// `BeckonError.AlreadyOpen` when another live instance holds the directory.
    ///
    /// ```swift
    /// let beckon = try Beckon(config: BeckonConfig(
    ///     dataDir: dir.path, serverUrl: "https://beckon.shop.example", appKey: "…"))
    /// ```
    ///
    /// To make the requests with a client of the app's own (its URLSession setup,
    /// certificate pinning), pass it instead: `try Beckon(config: config, http: client)`,
    /// where `client` conforms to `HttpClient` (wrapping a `URLSessionHttpClient` is the
    /// easiest way to add to it).
    public convenience init(config: BeckonConfig) throws {
        try self.init(config: config, http: URLSessionHttpClient())
    }
}

/// The `HttpClient` over `URLSession` that `Beckon(config:)` uses.
///
/// Each request is sent as the core built it (method, URL, headers, body), on an ephemeral
/// session with no cache, no cookies and no stored credentials. Redirects are not followed:
/// a 3xx is the answer. Every status is returned with its headers and its body, decoded by
/// URLSession from the content encoding it asked for (gzip). A body longer than the
/// request's `maxResponseBytes` is not read to its end: the transfer is cancelled and
/// `send` throws `HttpClientError.TooLarge`. No answer (no connection, a TLS failure, a
/// connection dropped mid-answer, the request's `timeoutMs` passed) throws
/// `HttpClientError.Network`; an answer whose encoding cannot be decoded throws
/// `HttpClientError.Decode`.
///
/// What URLSession does not allow: headers go out in URLSession's order rather than the
/// given one, repeated request headers are sent as one comma-joined line, and repeated
/// response headers come back as one comma-joined value (URLRequest and HTTPURLResponse
/// keep headers in dictionaries); URLSession also adds headers of its own (`Accept-Encoding`,
/// `Accept-Language`, `Connection`) and sets `Content-Length` and `Host` itself.
///
/// One URLSession per client, so connections are reused from one request to the next; it
/// is invalidated when the client goes away.
public final class URLSessionHttpClient: HttpClient, @unchecked Sendable {
    // @unchecked: the only mutable state, `current`, is read and written under `lock`.
    private let lock = NSLock()
    private var current: Session?

    public init() {}

    deinit {
        current?.session.invalidateAndCancel()
    }

    /// Sends `request` and blocks the calling thread until the whole answer is in, or
    /// `request.timeoutMs` passes. Never call it on the main thread.
    public func send(request: HttpRequest) throws -> HttpResponse {
        guard let url = URL(string: request.url),
            let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host != nil
        else {
            throw HttpClientError.Network(reason: "not an absolute http(s) URL: \(request.url)")
        }
        let timeoutMs = min(request.timeoutMs, Self.longestTimeoutMs)
        let session = session(timeoutMs: timeoutMs)

        var urlRequest = URLRequest(
            url: url, cachePolicy: .reloadIgnoringLocalCacheData,
            timeoutInterval: Self.idleTimeout(ms: timeoutMs))
        urlRequest.httpMethod = request.method.name
        urlRequest.httpShouldHandleCookies = false
        for header in request.headers {
            // A repeated name is added to the line already there, comma-joined.
            urlRequest.addValue(header.value, forHTTPHeaderField: header.name)
        }
        // Linux's URLSession refuses a GET with any body, even an empty one.
        if !request.body.isEmpty {
            urlRequest.httpBody = request.body
        }

        let exchange = Exchange(limit: request.maxResponseBytes)
        let task = session.session.dataTask(with: urlRequest)
        session.exchanges.add(exchange, for: task)
        task.resume()
        guard exchange.done.wait(timeout: .now() + .milliseconds(Int(timeoutMs))) == .success else {
            exchange.gaveUp()
            task.cancel()
            throw HttpClientError.Network(
                reason: "no whole answer from \(Self.origin(url)) within \(timeoutMs) ms")
        }
        return try exchange.outcome(url: url)
    }

    /// The session for requests of `timeoutMs`. Its configuration (copied by URLSession
    /// when the session is made) holds the timeouts, so a request with another timeout
    /// replaces it; the core gives every request of one Beckon the same timeout
    /// (`FlushPolicy.requestTimeoutMs`), so in practice one session serves the client's life.
    private func session(timeoutMs: UInt64) -> Session {
        lock.lock()
        defer { lock.unlock() }
        if let current, current.timeoutMs == timeoutMs { return current }
        current?.session.finishTasksAndInvalidate()
        let made = Session(timeoutMs: timeoutMs)
        current = made
        return made
    }

    /// Longer timeouts are cut to this (24 days: a DispatchTime offset that cannot overflow).
    static let longestTimeoutMs: UInt64 = UInt64(Int32.max)

    /// The idle timeout, between bytes. Linux's URLSession reads it in whole seconds (0.5 s
    /// would time out at once), so there it is rounded up; the whole exchange is still held
    /// to `timeoutMs` by `send`'s deadline.
    static func idleTimeout(ms: UInt64) -> TimeInterval {
        let seconds = TimeInterval(ms) / 1000
        #if canImport(Darwin)
        return seconds
        #else
        return max(1, seconds.rounded(.up))
        #endif
    }

    static func origin(_ url: URL) -> String {
        "\(url.scheme ?? "?")://\(url.host ?? "?")\(url.port.map { ":\($0)" } ?? "")"
    }
}

extension HttpMethod {
    var name: String {
        switch self {
        case .get: return "GET"
        case .post: return "POST"
        }
    }
}

/// A URLSession with its delegate and the timeout its configuration was made for.
private final class Session: Sendable {
    let session: URLSession
    let exchanges: Exchanges
    let timeoutMs: UInt64

    init(timeoutMs: UInt64) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.httpCookieStorage = nil
        configuration.urlCredentialStorage = nil
        configuration.timeoutIntervalForRequest = URLSessionHttpClient.idleTimeout(ms: timeoutMs)
        configuration.timeoutIntervalForResource = max(1, TimeInterval(timeoutMs) / 1000)
        let exchanges = Exchanges()
        // The session keeps its delegate until it is invalidated; the delegate holds no
        // reference back to the client, so the client's deinit runs and invalidates it.
        self.session = URLSession(configuration: configuration, delegate: exchanges, delegateQueue: nil)
        self.exchanges = exchanges
        self.timeoutMs = timeoutMs
    }
}

/// One request's answer as URLSession hands it over, and the semaphore `send` waits on.
private final class Exchange: @unchecked Sendable {
    // @unchecked: the fields below `lock` are read and written under it.
    let limit: UInt64
    let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var response: HTTPURLResponse?
    private var body = Data()
    private var tooLarge = false
    private var abandoned = false
    /// The answer is complete although the task goes on (a 401 on Linux).
    private var answered = false
    private var error: Error?

    init(limit: UInt64) {
        self.limit = limit
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Takes the head of the answer; false when its announced length is already over the
    /// limit. A `Content-Length` counts the encoded body, so it decides only when the body
    /// is not encoded; an encoded body is counted as it is decoded (`received`).
    func head(_ response: URLResponse) -> Bool {
        locked {
            guard let http = response as? HTTPURLResponse else { return true }
            self.response = http
            let encoding = (http.value(forHTTPHeaderField: "Content-Encoding") ?? "")
                .trimmingCharacters(in: .whitespaces).lowercased()
            let plain = encoding.isEmpty || encoding == "identity"
            if plain && http.expectedContentLength > 0 && UInt64(http.expectedContentLength) > limit {
                tooLarge = true
            }
            return !tooLarge
        }
    }

    /// Takes a piece of the (decoded) body; false once the body would pass the limit, and
    /// then the piece is not kept.
    func received(_ data: Data) -> Bool {
        locked {
            guard !tooLarge, !abandoned else { return false }
            if UInt64(body.count) + UInt64(data.count) > limit {
                tooLarge = true
                body = Data()
                return false
            }
            body.append(data)
            return true
        }
    }

    func finished(_ task: URLSessionTask, error: Error?) {
        let first: Bool = locked {
            guard !answered else { return false }
            self.error = error
            if response == nil { response = task.response as? HTTPURLResponse }
            return true
        }
        if first { done.signal() }
    }

    /// The answer received so far is the whole answer, whatever the task does next.
    func answerAsReceived(_ task: URLSessionTask) {
        let first: Bool = locked {
            guard !answered else { return false }
            answered = true
            if response == nil { response = task.response as? HTTPURLResponse }
            return true
        }
        if first { done.signal() }
    }

    /// `send` stopped waiting: whatever still arrives is dropped.
    func gaveUp() {
        locked {
            abandoned = true
            body = Data()
        }
    }

    func outcome(url: URL) throws -> HttpResponse {
        try locked {
            if tooLarge { throw HttpClientError.TooLarge(limit: limit) }
            if let error { throw Self.clientError(error, url: url) }
            guard let response else {
                throw HttpClientError.Network(reason: "no HTTP answer from \(URLSessionHttpClient.origin(url))")
            }
            guard let status = UInt16(exactly: response.statusCode) else {
                throw HttpClientError.Network(reason: "status \(response.statusCode) is not an HTTP status")
            }
            #if canImport(Darwin)
            // Apple's URLSession passes a body in an encoding it does not know through as it
            // came (Linux's fails the task instead, below).
            let encodings = (response.value(forHTTPHeaderField: "Content-Encoding") ?? "")
                .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            if let unknown = encodings.first(where: { !Self.decodedEncodings.contains($0) }) {
                throw HttpClientError.Decode(reason: "unknown content encoding \"\(unknown)\"")
            }
            #endif
            let headers = response.allHeaderFields
                .map { HttpHeader(name: "\($0.key)", value: "\($0.value)") }
                // A dictionary has no order: give a stable one.
                .sorted { ($0.name.lowercased(), $0.name) < ($1.name.lowercased(), $1.name) }
            return HttpResponse(status: status, headers: headers, body: body)
        }
    }

    /// The content encodings URLSession decodes on Apple's platforms.
    static let decodedEncodings: Set<String> = ["", "identity", "gzip", "x-gzip", "deflate", "br"]

    static func clientError(_ error: Error, url: URL) -> HttpClientError {
        let origin = URLSessionHttpClient.origin(url)
        guard let urlError = error as? URLError else {
            return .Network(reason: "\(origin): \(error.localizedDescription)")
        }
        let description = urlError.localizedDescription
        let detail = "\(origin): \(description) (URLError \(urlError.code.rawValue)\(codeName(urlError.code)))"
        switch urlError.code {
        case .cannotDecodeContentData, .cannotDecodeRawData:
            return .Decode(reason: detail)
        // Linux's URLSession reports libcurl's CURLE_BAD_CONTENT_ENCODING as an unknown
        // error; only libcurl's message ("Error while processing content unencoding: …",
        // "Unrecognized content encoding type …") tells it apart.
        case .unknown where description.lowercased().contains("content unencoding")
            || description.lowercased().contains("content encoding"):
            return .Decode(reason: detail)
        default:
            return .Network(reason: detail)
        }
    }

    /// Names for the codes a request to Beckon's server can end with.
    static func codeName(_ code: URLError.Code) -> String {
        let names: [URLError.Code: String] = [
            .timedOut: "timedOut", .cannotConnectToHost: "cannotConnectToHost",
            .cannotFindHost: "cannotFindHost", .networkConnectionLost: "networkConnectionLost",
            .notConnectedToInternet: "notConnectedToInternet", .dnsLookupFailed: "dnsLookupFailed",
            .secureConnectionFailed: "secureConnectionFailed",
            .serverCertificateUntrusted: "serverCertificateUntrusted",
            .serverCertificateHasBadDate: "serverCertificateHasBadDate",
            .serverCertificateHasUnknownRoot: "serverCertificateHasUnknownRoot",
            .serverCertificateNotYetValid: "serverCertificateNotYetValid",
            .badServerResponse: "badServerResponse", .zeroByteResource: "zeroByteResource",
            .cannotDecodeContentData: "cannotDecodeContentData",
            .cannotDecodeRawData: "cannotDecodeRawData", .cancelled: "cancelled",
            .badURL: "badURL", .unsupportedURL: "unsupportedURL",
            .cannotParseResponse: "cannotParseResponse",
        ]
        return names[code].map { " \($0)" } ?? ""
    }
}

/// The session's delegate: routes URLSession's calls to the request they belong to.
private final class Exchanges: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    // @unchecked: `byTask` is read and written under `lock`.
    private let lock = NSLock()
    private var byTask: [Int: Exchange] = [:]

    func add(_ exchange: Exchange, for task: URLSessionTask) {
        lock.lock()
        byTask[task.taskIdentifier] = exchange
        lock.unlock()
    }

    private func exchange(_ task: URLSessionTask, remove: Bool = false) -> Exchange? {
        lock.lock()
        defer { lock.unlock() }
        return remove ? byTask.removeValue(forKey: task.taskIdentifier) : byTask[task.taskIdentifier]
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        // Not followed: the 3xx (with its body) is the answer.
        completionHandler(nil)
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
        completionHandler: @escaping @Sendable (URLSession.AuthChallengeDisposition, URLCredential?) -> Void
    ) {
        #if canImport(Darwin)
        // Server trust as the system decides it; for an HTTP authentication challenge (a
        // 401 with WWW-Authenticate) there is no credential to give (no credential storage),
        // so the 401 is the answer.
        completionHandler(.performDefaultHandling, nil)
        #else
        // Linux's URLSession asks only about a 401 with a WWW-Authenticate header, once the
        // whole answer is in, and with no credential to offer it would wait forever: the
        // 401 as received is the answer, and the task is let go.
        exchange(task)?.answerAsReceived(task)
        completionHandler(.cancelAuthenticationChallenge, nil)
        #endif
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        guard let exchange = exchange(dataTask), exchange.head(response) else {
            // Linux's URLSession ignores the disposition: cancel the task itself too.
            dataTask.cancel()
            completionHandler(.cancel)
            return
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let exchange = exchange(dataTask), exchange.received(data) else {
            dataTask.cancel()
            return
        }
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, willCacheResponse proposedResponse: CachedURLResponse,
        completionHandler: @escaping @Sendable (CachedURLResponse?) -> Void
    ) {
        completionHandler(nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        exchange(task, remove: true)?.finished(task, error: error)
    }
}
