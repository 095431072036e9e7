// swift-tools-version:5.9
// The Swift binding as a package. The C part (BeckonFFI) comes from one of two places:
//
//  - target/ios/BeckonFFI.xcframework, when scripts/build-ios has made it (macOS with
//    Xcode): the static library for iOS devices and simulators, for apps;
//  - otherwise a host build of libbeckon (`cargo build -p beckon`), linked from
//    BECKON_LIB_DIR or ../../target/debug, with the generated header and module map in
//    Sources/BeckonFFI: this is how scripts/swift-tests builds and tests it on Linux.
//
// Set BECKON_HOST_LIB=1 to use the host library even when the xcframework exists (for
// `swift test` on a Mac).
import Foundation
import PackageDescription

let environment = ProcessInfo.processInfo.environment
let packageDir = URL(fileURLWithPath: Context.packageDirectory)
let xcframework = "../../target/ios/BeckonFFI.xcframework"
let useXCFramework = environment["BECKON_HOST_LIB"] != "1"
    && FileManager.default.fileExists(atPath: packageDir.appendingPathComponent(xcframework).path)
let libDir = environment["BECKON_LIB_DIR"]
    ?? packageDir.appendingPathComponent("../../target/debug").standardized.path

let ffi: Target = useXCFramework
    ? .binaryTarget(name: "BeckonFFI", path: xcframework)
    : .systemLibrary(name: "BeckonFFI", path: "Sources/BeckonFFI")
let linkerSettings: [LinkerSetting] = useXCFramework
    ? []
    : [.linkedLibrary("beckon"), .unsafeFlags(["-L", libDir, "-Xlinker", "-rpath", "-Xlinker", libDir])]

let package = Package(
    name: "Beckon",
    products: [.library(name: "Beckon", targets: ["Beckon"])],
    targets: [
        ffi,
        // The generated Swift API.
        .target(name: "Beckon", dependencies: ["BeckonFFI"], path: "Sources/Beckon", linkerSettings: linkerSettings),
        .testTarget(name: "BeckonTests", dependencies: ["Beckon"], path: "Tests/BeckonTests"),
    ]
)
