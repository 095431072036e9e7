// Verified identities against a live beckon-server started with `--verify-identities
// required`. The app's backend is played by `TestBackend`, which signs with the `openssl`
// command line (Linux has no CryptoKit): HMAC-SHA256 tokens with the app's secret, and
// RS256 JWTs with the throwaway test key in server/tests/fixtures/identity.
import Beckon
import Foundation
import XCTest

/// What an app's backend does for Beckon: sign user ids.
enum TestBackend {
    static let secret = "swift-identity-test-secret-9a3b"
    static let fixtures = repositoryRoot.appendingPathComponent("server/tests/fixtures/identity")
    static let jwtPrivateKey = fixtures.appendingPathComponent("rs256-private.pem").path
    static let jwtPublicKey = fixtures.appendingPathComponent("rs256-public.pem").path

    /// The server flags that make it require tokens signed like this backend's.
    static let serverArguments = [
        "--verify-identities", "required", "--identity-secret", secret, "--identity-jwt-key", jwtPublicKey,
    ]

    /// Hex HMAC-SHA256 of the user id with the app's secret.
    static func hmac(_ userId: String) throws -> String {
        let tag = try openssl(["dgst", "-sha256", "-hmac", secret, "-binary"], input: Data(userId.utf8))
        return tag.map { String(format: "%02x", $0) }.joined()
    }

    /// An RS256 JWT for `userId` that expires `expiresIn` seconds from now (negative:
    /// already past).
    static func jwt(_ userId: String, expiresIn: TimeInterval) throws -> String {
        let exp = Int(Date().timeIntervalSince1970 + expiresIn)
        let header = base64URL(Data(#"{"alg":"RS256","typ":"JWT"}"#.utf8))
        let claims = base64URL(Data(#"{"sub":"\#(userId)","exp":\#(exp)}"#.utf8))
        let signature = try openssl(
            ["dgst", "-sha256", "-sign", jwtPrivateKey, "-binary"], input: Data("\(header).\(claims)".utf8))
        return "\(header).\(claims).\(base64URL(signature))"
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .trimmingCharacters(in: CharacterSet(charactersIn: "="))
    }

    /// Runs `openssl` with `input` on stdin; returns stdout.
    static func openssl(_ arguments: [String], input: Data) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, !output.isEmpty else {
            throw TestError("openssl \(arguments.joined(separator: " ")) failed (\(process.terminationStatus))")
        }
        return output
    }
}

/// Requests for a token, with the thread each came on.
final class TokenRequests: @unchecked Sendable {
    private let inbox = Inbox<(userId: String, problem: IdentityProblem, thread: String)>()

    func record(_ userId: String, _ problem: IdentityProblem) {
        inbox.add((userId, problem, currentThreadName()))
    }

    var heard: [String] { inbox.all.map { "\($0.userId) \($0.problem)" } }
    var threads: Set<String> { Set(inbox.all.map(\.thread)) }
}

final class IdentityVerificationTests: BeckonTestCase {
    func verifyingServer() throws -> TestServer {
        try startServer(extraArguments: TestBackend.serverArguments)
    }

    /// The app's events as "name user", after checking none was stored twice.
    func exportedOnce(_ server: TestServer, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        let events = try server.events()
        XCTAssertEqual(Set(events.map(\.id)).count, events.count, "an event was stored twice", file: file, line: line)
        return events.filter { !$0.isMembershipReport }.map { "\($0.label) \($0.userId ?? "nil")" }
    }

    func flushed(_ beckon: Beckon, _ outcome: FlushOutcome, file: StaticString = #filePath, line: UInt = #line) throws -> FlushReport {
        let report = try beckon.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(report.outcome, outcome, "\(report)", file: file, line: line)
        return report
    }

    func testIdentifyWithAnHmacTokenUploadsTheUsersEventsOnce() throws {
        let server = try verifyingServer()
        let beckon = try open(try tempDir(), serverUrl: server.url)
        let requests = TokenRequests()
        try beckon.setIdentityTokenListener { requests.record($0, $1) }

        try beckon.identify("ana", traits: ["plan": "gold"], identityToken: try TestBackend.hmac("ana"))
        try beckon.track(.custom(name: "Viewed", properties: [:]))
        try beckon.track(.custom(name: "Bought", properties: [:]))
        _ = try flushed(beckon, .delivered)
        XCTAssertEqual(try flushed(beckon, .delivered).uploaded, 0)

        XCTAssertEqual(try exportedOnce(server), ["identify ana", "Viewed ana", "Bought ana"])
        XCTAssertEqual(requests.heard, [])
    }

    func testAnExpiredJwtIsRenewedThroughTheListenerAndEverythingArrivesOnce() throws {
        let server = try verifyingServer()
        let beckon = try open(try tempDir(), serverUrl: server.url)
        let requests = TokenRequests()
        try beckon.setIdentityTokenListener { requests.record($0, $1) }
        // Valid for 4 more seconds: the server allows a minute of clock difference.
        let issued = Date()
        try beckon.identify("cleo", identityToken: try TestBackend.jwt("cleo", expiresIn: -56))
        try beckon.track(.custom(name: "Viewed", properties: [:]))
        _ = try flushed(beckon, .delivered)

        try beckon.track(.custom(name: "Added", properties: [:]))
        try beckon.track(.custom(name: "Checked Out", properties: [:]))
        Thread.sleep(forTimeInterval: max(0, 5 - Date().timeIntervalSince(issued)))
        let refused = try flushed(beckon, .willRetry)
        XCTAssertTrue(refused.error?.contains("\"cleo\" (expired)") == true, "\(refused)")
        XCTAssertGreaterThanOrEqual(refused.queued, 2, "nothing dropped")

        XCTAssertTrue(eventually(timeout: 10) { requests.heard == ["cleo expired"] }, "\(requests.heard)")
        XCTAssertEqual(requests.threads, [String("beckon-upload".prefix(15))])
        // After the callback: the app's backend issued a fresh token.
        try beckon.setIdentityToken(try TestBackend.jwt("cleo", expiresIn: 3600), forUser: "cleo")
        _ = try flushed(beckon, .delivered)

        XCTAssertEqual(requests.heard, ["cleo expired"], "asked once")
        XCTAssertEqual(try exportedOnce(server), ["identify cleo", "Viewed cleo", "Added cleo", "Checked Out cleo"])
        let stats = try beckon.stats()
        XCTAssertEqual(stats.dropped.rejectedByServer, 0)
        XCTAssertEqual(stats.queuedEvents, 0)
    }

    func testAWrongTokenIsReportedInvalidAndTheEventsWaitForTheRightOne() throws {
        let server = try verifyingServer()
        let beckon = try open(try tempDir(), serverUrl: server.url)
        let requests = TokenRequests()
        try beckon.setIdentityTokenListener { userId, problem in
            requests.record(userId, problem)
            // From inside the callback, as an app holding a fresh token can.
            if let token = try? TestBackend.hmac(userId) {
                try? beckon.setIdentityToken(token, forUser: userId)
            }
        }
        try beckon.identify("dan", identityToken: try TestBackend.hmac("eve"))
        try beckon.track(.custom(name: "Viewed", properties: [:]))
        let refused = try flushed(beckon, .willRetry)
        XCTAssertTrue(refused.error?.contains("\"dan\" (invalid)") == true, "\(refused)")
        XCTAssertTrue(try beckon.stats().lastError?.contains("\"dan\" (invalid)") == true)

        XCTAssertTrue(eventually(timeout: 10) { (try? beckon.stats().queuedEvents) == 0 })
        _ = try flushed(beckon, .delivered)
        XCTAssertEqual(requests.heard, ["dan invalid"])
        XCTAssertEqual(try exportedOnce(server), ["identify dan", "Viewed dan"])
    }

    func testBadTokensThrowOnlyBeckonErrorNamingTheArgument() throws {
        let beckon = try open(try tempDir(), serverUrl: try deadServerUrl())
        for token in ["", " ", "two words", String(repeating: "x", count: 5_000), "café", "emoji😀", "tab\there"] {
            for call in [
                { try beckon.identify("ivy", identityToken: token) },
                { try beckon.setIdentityToken(token, forUser: "ivy") },
            ] {
                XCTAssertThrowsError(try call(), "\(token.prefix(20))") { error in
                    guard case let BeckonError.InvalidArgument(message) = error else {
                        return XCTFail("\(error) is not InvalidArgument")
                    }
                    XCTAssertTrue(message.contains("identity_token"), message)
                }
            }
        }
        XCTAssertNil(beckon.userId(), "a refused identify changes nothing")
        XCTAssertEqual(try beckon.stats().queuedEvents, 0)
    }
}
