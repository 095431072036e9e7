// swift-tools-version:6.0
// The Swift binding of Beckon as a Swift package: module `Beckon` (uniffi.toml). Tools 6.0
// (Xcode 16 or later, Swift 6 toolchains), for per-target language modes.
//
//  - BeckonFFI: the C module uniffi generates (BeckonFFI.h + module.modulemap), over the
//    Rust library. Where its binary comes from depends on the platform the manifest is
//    evaluated on (SwiftPM evaluates it on the host, whatever it builds for):
//      * Apple (macOS with Xcode): a binary target, target/ios/BeckonFFI.xcframework, the
//        static library for iOS devices and simulators that scripts/build-ios makes (with
//        the same header and module map inside). Run scripts/build-ios first; without it
//        SwiftPM stops with "local binary target 'BeckonFFI' … does not contain a binary
//        artifact". This is what apps use; it needs no unsafe flags.
//        BECKON_HOST_LIB=1 selects the host-library branch below instead, for `swift test`
//        on a Mac against a host build (libbeckon.dylib from `cargo build -p beckon`).
//      * Linux (and BECKON_HOST_LIB=1): a system library target over the host build of
//        libbeckon (target/debug, or BECKON_LIB_DIR), linked with an rpath to it. This is
//        how scripts/swift-tests builds and tests the package on the CI machines. The
//        linker flags are unsafe flags, so this branch works for the package itself and
//        for packages that use it by local path, not as a versioned dependency.
//    The choice depends only on the host and the environment, never on which files exist,
//    because SwiftPM caches an evaluated manifest by its text and environment.
//  - Beckon: the generated Beckon.swift (written only by scripts/bindings, which patches
//    uniffi's output: see uniffi-bindgen/src/bin/patch-generated/) plus the hand-written
//    Swift beside it (Beckon+Swift.swift, Beckon+Http.swift with URLSessionHttpClient,
//    Beckon+Push.swift, BeckonError+Message.swift, JsonValue+Literals.swift,
//    JsonValue+Wire.swift). Swift 6 language mode (the default of tools 6.0), so its
//    Sendable and isolation claims are checked by the compiler.
//  - ReadmeExamples: the README's Swift snippets, also in the Swift 6 mode, as in an app;
//    only the tests use it (it is no product).
//  - BeckonTests: XCTest tests against the host library and a live beckon-server
//    (target/debug/beckon-server, or BECKON_SERVER_BINARY), and of URLSessionHttpClient
//    against a small HTTP/1.1 server of their own on loopback; run by scripts/swift-tests.
//    Swift 5 mode: XCTest's test discovery on Linux does not run Swift 6 test classes.
import Foundation
import PackageDescription

let environment = ProcessInfo.processInfo.environment
let packageDir = URL(fileURLWithPath: Context.packageDirectory)

#if canImport(Darwin)
let useXCFramework = environment["BECKON_HOST_LIB"] != "1"
#else
let useXCFramework = false
#endif

let libDir = environment["BECKON_LIB_DIR"]
    ?? packageDir.appendingPathComponent("../../target/debug").standardized.path

let ffi: Target = useXCFramework
    ? .binaryTarget(name: "BeckonFFI", path: "../../target/ios/BeckonFFI.xcframework")
    : .systemLibrary(name: "BeckonFFI", path: "Sources/BeckonFFI")
let linkerSettings: [LinkerSetting] = useXCFramework
    ? []
    : [.linkedLibrary("beckon"), .unsafeFlags(["-L", libDir, "-Xlinker", "-rpath", "-Xlinker", libDir])]

let package = Package(
    name: "Beckon",
    products: [.library(name: "Beckon", targets: ["Beckon"])],
    targets: [
        ffi,
        .target(name: "Beckon", dependencies: ["BeckonFFI"], path: "Sources/Beckon", linkerSettings: linkerSettings),
        .target(name: "ReadmeExamples", dependencies: ["Beckon"], path: "Tests/ReadmeExamples"),
        .testTarget(
            name: "BeckonTests", dependencies: ["Beckon", "ReadmeExamples"], path: "Tests/BeckonTests",
            swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
