import Beckon
import Foundation
import ReadmeExamples
import XCTest

final class ReadmeTests: BeckonTestCase {
    /// The ```swift blocks of README.md, in order.
    static func readmeBlocks() throws -> [[String]] {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        var blocks: [[String]] = []
        var current: [String]?
        for line in readme.components(separatedBy: "\n") {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```swift" {
                current = []
            } else if let block = current, line.trimmingCharacters(in: .whitespaces) == "```" {
                blocks.append(block)
                current = nil
            } else if current != nil {
                current!.append(line)
            }
        }
        return blocks
    }

    /// The regions of ReadmeExamples.swift, keyed by number, without the indentation the
    /// enclosing function adds, and the file's import lines.
    static func exampleRegions() throws -> (regions: [Int: [String]], imports: Set<String>) {
        let source = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("ReadmeExamples/ReadmeExamples.swift"),
            encoding: .utf8)
        var regions: [Int: [String]] = [:]
        var imports = Set<String>()
        var open: (number: Int, lines: [String])?
        for line in source.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("import ") && open == nil { imports.insert(trimmed) }
            if let number = marker(trimmed, "begin") {
                open = (number, [])
            } else if let number = marker(trimmed, "end"), let region = open, region.number == number {
                regions[number] = dedent(region.lines)
                open = nil
            } else if open != nil {
                open!.lines.append(line)
            }
        }
        return (regions, imports)
    }

    private static func marker(_ line: String, _ kind: String) -> Int? {
        let prefix = "// README swift snippet "
        guard line.hasPrefix(prefix), line.hasSuffix(" " + kind) else { return nil }
        return Int(line.dropFirst(prefix.count).dropLast(kind.count + 1))
    }

    private static func dedent(_ lines: [String]) -> [String] {
        let indent = lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return lines.map { $0.trimmingCharacters(in: .whitespaces).isEmpty ? "" : String($0.dropFirst(indent)) }
    }

    func testEverySwiftSnippetOfTheReadmeIsCompiledHereWordForWord() throws {
        let blocks = try Self.readmeBlocks()
        let (regions, imports) = try Self.exampleRegions()
        XCTAssertFalse(blocks.isEmpty, "README.md has no ```swift block")
        XCTAssertEqual(regions.keys.sorted(), Array(1...max(blocks.count, 1)),
                       "ReadmeExamples.swift needs one region per README swift block (\(blocks.count))")
        for (index, block) in blocks.enumerated() {
            let number = index + 1
            var code = block.map { $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) }
            while code.first?.hasPrefix("import ") == true {
                let line = code.removeFirst()
                XCTAssertTrue(imports.contains(line), "README swift block \(number): `\(line)` must be imported by ReadmeExamples.swift")
            }
            while code.first == "" { code.removeFirst() }
            guard let region = regions[number] else { continue }
            let compiled = region.map { $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) }
            if code != compiled {
                let common = min(code.count, compiled.count)
                let first = (0..<common).first { code[$0] != compiled[$0] } ?? common
                XCTFail("""
                    README swift block \(number) and ReadmeExamples.swift region \(number) differ at line \(first + 1):
                    README:   \(first < code.count ? code[first] : "<end>")
                    compiled: \(first < compiled.count ? compiled[first] : "<end>")
                    """)
            }
        }
    }

    /// The in-app snippet, run against a live server with a real message.
    func testTheReadmeInAppSnippetWorksAgainstALiveServer() throws {
        let server = try startServer()
        let created = try server.adminPost("/v1/admin/campaigns", json: EngagementTests.freeShippingCampaign(cap: #"{"total": 3}"#))
        XCTAssertEqual(created.status, 201, created.text)
        let beckon = try openSynced(try tempDir(), server: server)
        try beckon.track(EngagementTests.added("socks", 37.5))
        guard let message = try beckon.takeInAppMessage(), let button = message.buttons.first else {
            return XCTFail("the campaign should have fired with a button")
        }
        ReadmeExamples.banners = []
        try ReadmeExamples.segmentsSection(beckon: beckon, message: message, button: button)
        XCTAssertEqual(ReadmeExamples.segments, ["cart_abandoner"], "the README's comment shows what segments() returns")

        XCTAssertEqual(try beckon.flush(timeoutMs: Self.flushTimeoutMs).outcome, .delivered)
        let exported = try server.events()
        XCTAssertEqual(exported.filter { $0.name == "In-App Message Clicked" }.map { $0.properties["button_id"] }, [.string(button.id)])
        XCTAssertEqual(exported.filter { $0.name == "In-App Message Dismissed" }.count, 1)
    }

    /// The push snippet, run against a live server with a push that cold-started the app.
    func testTheReadmePushSnippetWorksAgainstALiveServer() throws {
        let server = try startServer()
        let beckon = try open(try tempDir(), serverUrl: server.url)
        let token = Data((0..<32).map { UInt8($0 * 7 % 256) })
        let userInfo = Pushes.userInfo(Pushes.payload(
            "m-readme", deepLink: "shop://product/42?utm_source=push",
            promo: Pushes.promo("WELCOME", ["kind": "fixed", "value": 5])))
        ReadmeExamples.navigations = []
        ReadmeExamples.totals = []

        try ReadmeExamples.pushSection(beckon: beckon, deviceToken: token, userInfo: userInfo, cart: Pushes.cart(30))

        XCTAssertEqual(ReadmeExamples.navigations.map(\.route), ["product"], "pending, then delivered once when ready")
        XCTAssertEqual(ReadmeExamples.navigations.first?.params, ["id": "42"])
        XCTAssertEqual(ReadmeExamples.totals.map(\.amount), [25])
        XCTAssertEqual(ReadmeExamples.totals.map(\.currency), ["EUR"])
        XCTAssertEqual(try beckon.pushToken(),
                       PushToken(provider: .apns, token: token.map { String(format: "%02x", $0) }.joined()))
        try flushAll(beckon)
        let exported = try server.events()
        XCTAssertEqual(exported.named("Push Opened").map { $0.properties["message_id"] }, ["m-readme"])
        XCTAssertEqual(exported.named("Deep Link Opened").map { $0.properties["utm_source"] }, ["push"])
        XCTAssertEqual(exported.named("Coupon Applied").map { $0.properties["coupon_id"] }, ["WELCOME"])
        XCTAssertEqual(exported.named("Push Token Registered").count, 1)
    }

    /// The identity snippet, run against a server requiring verified identities: the
    /// token from sign-in has expired, so the listener fetches a new one from the backend.
    func testTheReadmeIdentitySnippetWorksAgainstALiveServer() throws {
        let server = try startServer(extraArguments: TestBackend.serverArguments)
        let beckon = try open(try tempDir(), serverUrl: server.url)
        let expired = try TestBackend.jwt("user-42", expiresIn: -3600)
        let backend = AppBackend { userId in try TestBackend.hmac(userId) }

        try ReadmeExamples.identitySection(
            beckon: beckon, user: SignedInUser(id: "user-42"), signIn: SignIn(beckonToken: expired),
            backend: backend)
        try beckon.track(.custom(name: "Viewed", properties: [:]))
        let refused = try beckon.flush(timeoutMs: Self.flushTimeoutMs)
        XCTAssertEqual(refused.outcome, .willRetry, "\(refused)")

        XCTAssertTrue(eventually(timeout: 10) { (try? beckon.stats().queuedEvents) == 0 })
        XCTAssertEqual(try beckon.flush(timeoutMs: Self.flushTimeoutMs).outcome, .delivered)
        let exported = try server.events().filter { !$0.isMembershipReport }
        XCTAssertEqual(exported.map(\.label), ["identify", "Viewed"])
        XCTAssertEqual(Set(exported.map(\.userId)), ["user-42"])
    }
}
