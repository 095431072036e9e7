// URLSessionHttpClient against a real HTTP/1.1 server on loopback (LoopbackHttpServer):
// the contract of src/net/exchange.rs, point by point.
import Beckon
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

final class URLSessionHttpClientTests: BeckonTestCase {
    func serve(_ handler: @escaping (ReceivedRequest) -> ServerAction) throws -> LoopbackHttpServer {
        let server = try LoopbackHttpServer(handler)
        addCleanup { server.stop() }
        return server
    }

    func request(
        _ method: HttpMethod, _ url: String, headers: [(String, String)] = [], body: Data = Data(),
        timeoutMs: UInt64 = 10_000, limit: UInt64 = 1 << 20
    ) -> HttpRequest {
        HttpRequest(
            method: method, url: url, headers: headers.map { HttpHeader(name: $0.0, value: $0.1) },
            body: body, timeoutMs: timeoutMs, maxResponseBytes: limit)
    }

    /// The error `send` threw, failing the test when it returned an answer.
    func sendError(
        _ client: URLSessionHttpClient, _ request: HttpRequest, file: StaticString = #filePath, line: UInt = #line
    ) -> HttpClientError? {
        do {
            let response = try client.send(request: request)
            XCTFail("expected an error, got status \(response.status) with \(response.body.count) bytes", file: file, line: line)
            return nil
        } catch let error as HttpClientError {
            return error
        } catch {
            XCTFail("expected an HttpClientError, got \(error)", file: file, line: line)
            return nil
        }
    }

    func networkMessage(_ error: HttpClientError?, file: StaticString = #filePath, line: UInt = #line) -> String {
        guard case let .Network(message)? = error else {
            XCTFail("expected HttpClientError.Network, got \(String(describing: error))", file: file, line: line)
            return ""
        }
        XCTAssertFalse(message.isEmpty, "a network error says what happened", file: file, line: line)
        return message
    }

    // MARK: Sent as given

    func testGetAndPostGoOutAsGivenAndTheAnswerComesBack() throws {
        let server = try serve { request in
            .reply(ServerReply(
                status: 200, headers: [("Content-Type", "application/octet-stream"), ("X-Method", request.method)],
                body: request.body.isEmpty ? Data("empty".utf8) : request.body))
        }
        let client = URLSessionHttpClient()

        let got = try client.send(request: request(
            .get, server.url + "/v1/sync?since=42&locale=fr-FR",
            headers: [("user-agent", "beckon-sdk/test"), ("x-beckon-app-key", "key-1"), ("if-none-match", "\"v7\"")]))
        XCTAssertEqual(got.status, 200)
        XCTAssertEqual(String(decoding: got.body, as: UTF8.self), "empty")
        XCTAssertEqual(got.headers.first { $0.name.lowercased() == "x-method" }?.value, "GET")

        // Every byte value, and more than one read's worth.
        var payload = Data((0...255).map { UInt8($0) })
        while payload.count < 300_000 { payload.append(payload) }
        let posted = try client.send(request: request(
            .post, server.url + "/v1/batch",
            headers: [("user-agent", "beckon-sdk/test"), ("x-beckon-app-key", "key-1"),
                      ("content-type", "application/json"), ("content-encoding", "gzip")],
            body: payload))
        XCTAssertEqual(posted.status, 200)
        XCTAssertEqual(posted.body, payload, "the body makes the round trip unchanged")
        XCTAssertEqual(posted.headers.first { $0.name.lowercased() == "x-method" }?.value, "POST")

        let seen = server.requests
        XCTAssertEqual(seen.count, 2, "\(seen)")
        guard seen.count == 2 else { return }
        let (get, post) = (seen[0], seen[1])
        XCTAssertEqual(get.method, "GET")
        XCTAssertEqual(get.target, "/v1/sync?since=42&locale=fr-FR")
        XCTAssertEqual(get.values("user-agent"), ["beckon-sdk/test"], "the core's user agent, not URLSession's")
        XCTAssertEqual(get.values("x-beckon-app-key"), ["key-1"])
        XCTAssertEqual(get.values("if-none-match"), ["\"v7\""])
        XCTAssertTrue(get.body.isEmpty)
        XCTAssertEqual(post.method, "POST")
        XCTAssertEqual(post.target, "/v1/batch")
        XCTAssertEqual(post.values("content-type"), ["application/json"])
        XCTAssertEqual(post.values("content-encoding"), ["gzip"], "the body is sent as the core encoded it")
        XCTAssertEqual(post.values("content-length"), ["\(payload.count)"])
        XCTAssertEqual(post.body, payload)
        XCTAssertEqual(post.values("expect"), [], "no 100-continue round trip")
        for request in seen {
            XCTAssertEqual(request.values("cookie"), [])
            XCTAssertEqual(request.values("authorization"), [])
        }
    }

    func testARepeatedRequestHeaderKeepsItsValuesInOrder() throws {
        let server = try serve { _ in .reply(ServerReply(status: 204, body: Data())) }
        let client = URLSessionHttpClient()
        let answer = try client.send(request: request(
            .get, server.url + "/h",
            headers: [("X-Beckon-Test", "one"), ("x-other", "o"), ("x-beckon-test", "two"), ("X-BECKON-TEST", "three")]))
        XCTAssertEqual(answer.status, 204)
        let seen = try XCTUnwrap(server.requests.first)
        // URLSession sends a repeated name as one comma-joined line (a list header means
        // the same either way): the values arrive, in the order given.
        XCTAssertEqual(seen.listValues("x-beckon-test"), ["one", "two", "three"], "\(seen)")
        XCTAssertEqual(seen.values("x-other"), ["o"])
    }

    func testConnectionsAreReusedFromOneRequestToTheNext() throws {
        let server = try serve { _ in .reply(ServerReply(status: 200, text: "ok")) }
        let client = URLSessionHttpClient()
        for _ in 0..<3 {
            XCTAssertEqual(try client.send(request: request(.get, server.url + "/again")).status, 200)
        }
        XCTAssertEqual(server.requests.map(\.connection), [1, 1, 1], "one keep-alive connection for the three")
    }

    func testReleasingTheClientClosesItsConnections() throws {
        let server = try serve { _ in .reply(ServerReply(status: 200, text: "ok")) }
        var client: URLSessionHttpClient? = URLSessionHttpClient()
        XCTAssertEqual(try client?.send(request: request(.get, server.url + "/once")).status, 200)
        XCTAssertEqual(server.connectionsClosedByClient, 0, "the connection is kept for the next request")
        client = nil
        XCTAssertTrue(eventually { server.connectionsClosedByClient == 1 },
                      "the client's session is invalidated when it goes away, closing its connection")
    }

    func testABadUrlIsANetworkErrorWithoutARequest() throws {
        let client = URLSessionHttpClient()
        for url in ["", "not a url", "ftp://127.0.0.1/file", "/v1/batch"] {
            let message = networkMessage(sendError(client, request(.get, url)))
            XCTAssertTrue(message.contains("URL"), message)
        }
    }

    // MARK: Any status is an answer

    func testEveryStatusIsAnAnswerWithItsHeadersAndBody() throws {
        let statuses: [(Int, [(String, String)])] = [
            (201, []), (400, []), (401, [("WWW-Authenticate", "Basic realm=\"beckon\"")]), (403, []), (404, []),
            (409, []), (413, []), (429, [("Retry-After", "120")]), (500, []), (502, []),
            (503, [("Retry-After", "Wed, 21 Oct 2037 07:28:00 GMT")]),
        ]
        let server = try serve { request in
            let status = Int(request.target.dropFirst()) ?? 500
            let extra = statuses.first { $0.0 == status }?.1 ?? []
            return .reply(ServerReply(
                status: status, headers: [("Content-Type", "application/json")] + extra,
                text: "{\"error\":\"status \(status)\"}"))
        }
        let client = URLSessionHttpClient()
        for (status, extra) in statuses {
            let answer = try client.send(request: request(.post, server.url + "/\(status)", body: Data("{}".utf8)))
            XCTAssertEqual(answer.status, UInt16(status))
            XCTAssertEqual(String(decoding: answer.body, as: UTF8.self), "{\"error\":\"status \(status)\"}")
            XCTAssertEqual(header(answer, "content-type"), "application/json", "\(status)")
            for (name, value) in extra {
                XCTAssertEqual(header(answer, name), value, "\(status) keeps its \(name)")
            }
        }
        XCTAssertEqual(server.requests.count, statuses.count, "one request per status: no retries, no auth round trips")
        XCTAssertTrue(server.requests.allSatisfy { $0.values("authorization").isEmpty })
    }

    /// No credentials of its own: a 401 asking for them (whatever the scheme) is the answer,
    /// not a prompt, a retry or a hang.
    func testA401AskingForCredentialsIsTheAnswer() throws {
        let challenges = ["Basic realm=\"beckon\"", "Basic", "Bearer", "Bearer realm=\"api\", error=\"invalid_token\"",
                          "Digest realm=\"x\", nonce=\"abc\"", "Negotiate", ""]
        let server = try serve { request in
            let challenge = challenges[Int(request.target.dropFirst()) ?? 0]
            return .reply(ServerReply(
                status: 401, headers: challenge.isEmpty ? [] : [("WWW-Authenticate", challenge)],
                text: "{\"error\":\"identity token refused\"}"))
        }
        let client = URLSessionHttpClient()
        for (index, challenge) in challenges.enumerated() {
            let started = Date()
            let answer = try client.send(request: request(.post, server.url + "/\(index)", body: Data("{}".utf8), timeoutMs: 5_000))
            XCTAssertEqual(answer.status, 401, challenge)
            XCTAssertEqual(String(decoding: answer.body, as: UTF8.self), "{\"error\":\"identity token refused\"}", challenge)
            XCTAssertEqual(header(answer, "www-authenticate"), challenge.isEmpty ? nil : challenge)
            XCTAssertLessThan(Date().timeIntervalSince(started), 3, challenge)
        }
        XCTAssertEqual(server.requests.count, challenges.count, "no second try with credentials: \(server.requests)")
        XCTAssertTrue(server.requests.allSatisfy { $0.values("authorization").isEmpty })
        // The client goes on working after them.
        XCTAssertEqual(try client.send(request: request(.get, server.url + "/0")).status, 401)
    }

    func testEveryResponseHeaderComesBackWithRepeatsJoined() throws {
        let server = try serve { _ in
            .reply(ServerReply(
                status: 200,
                headers: [("ETag", "\"abc\""), ("X-Multi", "first"), ("Date", "Mon, 07 Dec 2026 20:00:00 GMT"),
                          ("X-Multi", "second"), ("X-Empty-Ok", "yes")],
                body: Data()))
        }
        let answer = try URLSessionHttpClient().send(request: request(.get, server.url + "/headers"))
        XCTAssertEqual(header(answer, "etag"), "\"abc\"")
        XCTAssertEqual(header(answer, "date"), "Mon, 07 Dec 2026 20:00:00 GMT")
        XCTAssertEqual(header(answer, "x-empty-ok"), "yes")
        XCTAssertEqual(header(answer, "content-length"), "0")
        // HTTPURLResponse holds one value per name: repeats come back comma-joined, in order.
        let multi = answer.headers.filter { $0.name.lowercased() == "x-multi" }
            .flatMap { $0.value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        XCTAssertEqual(multi, ["first", "second"], "\(answer.headers)")
    }

    func testNotModifiedIsTheAnswer() throws {
        let server = try serve { request in
            guard request.values("if-none-match") == ["\"v7\""] else {
                return .reply(ServerReply(status: 200, headers: [("ETag", "\"v7\"")], text: "{}"))
            }
            var notModified = ServerReply(status: 304, reason: "Not Modified", headers: [("ETag", "\"v7\"")])
            notModified.framing = .none
            return .reply(notModified)
        }
        let client = URLSessionHttpClient()
        let answer = try client.send(request: request(.get, server.url + "/v1/sync", headers: [("if-none-match", "\"v7\"")]))
        XCTAssertEqual(answer.status, 304)
        XCTAssertEqual(answer.body, Data())
        XCTAssertEqual(header(answer, "etag"), "\"v7\"")
        XCTAssertEqual(server.requests.count, 1)
    }

    func testRedirectsAreTheAnswerAndAreNotFollowed() throws {
        let server = try serve { request in
            guard let status = Int(request.target.split(separator: "/").last ?? "") else {
                return .reply(ServerReply(status: 200, text: "followed"))
            }
            return .reply(ServerReply(
                status: status, headers: [("Location", "/moved/elsewhere")], text: "see /moved/elsewhere"))
        }
        let client = URLSessionHttpClient()
        for status in [301, 302, 303, 307, 308] {
            for method in [HttpMethod.get, .post] {
                let body = method == .post ? Data("{\"batch\":1}".utf8) : Data()
                let answer = try client.send(request: request(method, server.url + "/v1/\(status)", body: body))
                XCTAssertEqual(answer.status, UInt16(status), "\(method) \(status)")
                XCTAssertEqual(header(answer, "location"), "/moved/elsewhere")
                XCTAssertEqual(String(decoding: answer.body, as: UTF8.self), "see /moved/elsewhere", "\(method) \(status)")
            }
        }
        XCTAssertEqual(server.requests.count, 10, "\(server.requests)")
        XCTAssertFalse(server.requests.contains { $0.target.hasPrefix("/moved") }, "a redirect was followed")
    }

    func testNothingIsCachedAndNoCookieIsKept() throws {
        let server = try serve { request in
            .reply(ServerReply(
                status: 200,
                headers: [("Cache-Control", "public, max-age=3600"), ("ETag", "\"same\""),
                          ("Last-Modified", "Mon, 07 Dec 2026 20:00:00 GMT"),
                          ("Set-Cookie", "session=abc; Path=/"), ("Content-Type", "application/json")],
                text: "{\"n\":\(request.connection)}"))
        }
        let client = URLSessionHttpClient()
        for _ in 0..<3 {
            XCTAssertEqual(try client.send(request: request(.get, server.url + "/v1/sync")).status, 200)
        }
        let seen = server.requests
        XCTAssertEqual(seen.count, 3, "every GET reaches the server: no cache")
        for request in seen {
            XCTAssertEqual(request.values("cookie"), [], "no cookie sent back: \(request)")
            XCTAssertEqual(request.values("if-none-match"), [], "no revalidation of its own: \(request)")
            XCTAssertEqual(request.values("if-modified-since"), [], "\(request)")
        }
    }

    // MARK: Content encoding

    func testAGzipBodyComesBackDecoded() throws {
        let server = try serve { _ in
            .reply(ServerReply(status: 200, headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                               body: Gzip.syncDocument))
        }
        let answer = try URLSessionHttpClient().send(request: request(.get, server.url + "/v1/sync"))
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.body, Gzip.syncDocumentText, "URLSession decodes; the core gets the plain body")
        let accepted = try XCTUnwrap(server.requests.first).listValues("accept-encoding").map { $0.lowercased() }
        XCTAssertTrue(accepted.contains("gzip"), "URLSession asks for gzip: \(accepted)")
    }

    func testADamagedGzipBodyIsADecodeError() throws {
        let server = try serve { _ in
            .reply(ServerReply(status: 200, headers: [("Content-Encoding", "gzip")], body: Gzip.damaged))
        }
        let error = sendError(URLSessionHttpClient(), request(.get, server.url + "/v1/sync"))
        guard case let .Decode(message)? = error else {
            return XCTFail("expected HttpClientError.Decode, got \(String(describing: error))")
        }
        XCTAssertFalse(message.isEmpty)
    }

    func testAnUnknownContentEncodingIsADecodeError() throws {
        let server = try serve { _ in
            .reply(ServerReply(status: 200, headers: [("Content-Encoding", "x-beckon-unheard-of")], text: "{}"))
        }
        let error = sendError(URLSessionHttpClient(), request(.get, server.url + "/v1/sync"))
        guard case .Decode? = error else {
            return XCTFail("expected HttpClientError.Decode, got \(String(describing: error))")
        }
    }

    // MARK: The size limit

    func testABodyOverTheLimitWithContentLengthIsTooLarge() throws {
        let server = try serve { request in
            let size = Int(request.target.dropFirst()) ?? 0
            return .reply(ServerReply(status: 200, body: Data(repeating: UInt8(ascii: "x"), count: size)))
        }
        let client = URLSessionHttpClient()
        let exact = try client.send(request: request(.get, server.url + "/1000", limit: 1000))
        XCTAssertEqual(exact.body.count, 1000, "a body of exactly the limit is fine")
        XCTAssertEqual(sendError(client, request(.get, server.url + "/1001", limit: 1000)), .TooLarge(limit: 1000))
        // The client is still usable afterwards.
        XCTAssertEqual(try client.send(request: request(.get, server.url + "/10", limit: 1000)).body.count, 10)
    }

    /// An answer over the limit is not read to its end: here the end never comes (the server
    /// stalls after 256 KiB), so only a client that stops reading at the limit answers
    /// before the request's 10 s timeout.
    func testAnAnswerOverTheLimitIsNotReadToItsEnd() throws {
        let server = try serve { request in
            var reply = ServerReply(status: 200, body: Data(repeating: UInt8(ascii: "y"), count: 16 << 10))
            reply.times = 4096  // 64 MiB
            reply.framing = request.target == "/chunked" ? .chunked : .contentLength
            reply.cutAfter = 256 << 10
            reply.cut = .stall
            return .reply(reply)
        }
        let client = URLSessionHttpClient()
        for (framing, abandoned) in [("/length", 1), ("/chunked", 2)] {
            let started = Date()
            XCTAssertEqual(sendError(client, request(.get, server.url + framing, timeoutMs: 10_000, limit: 100_000)),
                           .TooLarge(limit: 100_000), framing)
            XCTAssertLessThan(Date().timeIntervalSince(started), 5, framing)
            XCTAssertTrue(eventually { server.answersAbandonedByClient == abandoned },
                          "\(framing): the client hung up on the rest of the body")
        }
    }

    func testABodyOverTheLimitWithoutContentLengthIsTooLarge() throws {
        let server = try serve { request in
            // "/SIZE/PIECE": SIZE bytes in chunks of PIECE, no Content-Length.
            let numbers = request.target.split(separator: "/").compactMap { Int($0) }
            var reply = ServerReply(status: 200, body: Data(repeating: UInt8(ascii: "y"), count: numbers[1]))
            reply.times = numbers[0] / numbers[1]
            reply.framing = .chunked
            return .reply(reply)
        }
        let client = URLSessionHttpClient()
        let exact = try client.send(request: request(.get, server.url + "/1000/100", limit: 1000))
        XCTAssertEqual(exact.body, Data(repeating: UInt8(ascii: "y"), count: 1000))
        XCTAssertEqual(sendError(client, request(.get, server.url + "/1010/10", limit: 1000)), .TooLarge(limit: 1000))
        XCTAssertEqual(try client.send(request: request(.get, server.url + "/10/10", limit: 1000)).body.count, 10)
    }

    func testAGzipBodyCountsDecoded() throws {
        let server = try serve { _ in
            .reply(ServerReply(status: 200, headers: [("Content-Encoding", "gzip")], body: Gzip.mebibyteOfZeros))
        }
        let client = URLSessionHttpClient()
        // About 1 KB on the wire, 1 MiB decoded: the limit applies to the decoded body.
        XCTAssertLessThan(Gzip.mebibyteOfZeros.count, 2_000)
        XCTAssertEqual(sendError(client, request(.get, server.url + "/bomb", limit: 64 << 10)), .TooLarge(limit: 64 << 10))
        let whole = try client.send(request: request(.get, server.url + "/bomb", limit: 1 << 20))
        XCTAssertEqual(whole.body, Data(repeating: 0, count: 1 << 20))
    }

    // MARK: No answer

    func testAServerThatNeverAnswersIsANetworkErrorAfterTheTimeout() throws {
        let server = try serve { _ in .stall }
        let client = URLSessionHttpClient()
        let started = Date()
        let message = networkMessage(sendError(client, request(.post, server.url + "/v1/batch", body: Data("{}".utf8), timeoutMs: 1_000)))
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(elapsed, 0.9, message)
        XCTAssertLessThan(elapsed, 3, "gives up about the timeout: \(message)")
        XCTAssertEqual(server.requests.count, 1, "the request arrived, the answer never did")
    }

    func testAnAnswerThatStallsMidBodyIsANetworkErrorNotAShortBody() throws {
        let server = try serve { _ in
            var reply = ServerReply(status: 200, body: Data(repeating: UInt8(ascii: "z"), count: 1000))
            reply.cutAfter = 100
            reply.cut = .stall
            return .reply(reply)
        }
        let started = Date()
        _ = networkMessage(sendError(URLSessionHttpClient(), request(.get, server.url + "/slow", timeoutMs: 1_500)))
        XCTAssertLessThan(Date().timeIntervalSince(started), 4)
    }

    func testAConnectionDroppedMidAnswerIsANetworkError() throws {
        let server = try serve { request in
            var reply = ServerReply(status: 200, body: Data(repeating: UInt8(ascii: "z"), count: 1000))
            reply.framing = request.target == "/chunked" ? .chunked : .contentLength
            reply.times = request.target == "/chunked" ? 2 : 1
            reply.cutAfter = 100
            reply.cut = .close
            return .reply(reply)
        }
        let client = URLSessionHttpClient()
        _ = networkMessage(sendError(client, request(.get, server.url + "/length")))
        _ = networkMessage(sendError(client, request(.get, server.url + "/chunked")))
    }

    func testAClosedPortIsANetworkErrorNamingTheServer() throws {
        let url = try deadServerUrl()
        let started = Date()
        let message = networkMessage(sendError(URLSessionHttpClient(), request(.post, url + "/v1/batch", body: Data("{}".utf8))))
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "a refused connection fails at once")
        XCTAssertTrue(message.contains(url), message)
    }

    private func header(_ response: HttpResponse, _ name: String) -> String? {
        response.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// gzip bodies made with Python's gzip module (level 9, mtime 0).
enum Gzip {
    static let syncDocumentText = Data(
        ("{\"segments\":[{\"id\":\"vip\",\"name\":\"VIP shoppers\"}],\"note\":\""
            + String(repeating: "gzip on the wire, plain text in the answer. ", count: 20) + "\"}").utf8)

    /// `syncDocumentText`, gzipped.
    static let syncDocument = Data(base64Encoded:
        "H4sIAAAAAAACA+3KMQrDMAxG4auIfw49gG+QLVOX0sFQkQhqW1imLgm5exxyhKwe3+PbYDwHjsXgXhvkA4efKAZEH7jFc5zIlqTK2bC/20/l/PMqSilSWZiqZB5Iv15a87+QXN9Hq5wf1G233d6z2A+tszMwqwMAAA==")!

    /// `syncDocument` with its first deflate byte set to a reserved block type.
    static let damaged: Data = {
        var data = syncDocument
        data[data.startIndex + 10] = 0xFF
        return data
    }()

    /// 1,048,576 zero bytes, gzipped (1,051 bytes).
    static let mebibyteOfZeros = Data(base64Encoded:
        "H4sIAAAAAAACA+3BMQEAAADCoPVPbQhfoAAA" + String(repeating: "A", count: 1352) + "PgMc6jinAAAQAA==")!
}
