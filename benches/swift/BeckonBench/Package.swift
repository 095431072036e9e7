// swift-tools-version:5.9
// Benchmark harness for `track` called from Swift (see main.swift). It uses the Swift
// binding package by path, against libbeckon as the phones get it (the `mobile` profile;
// BECKON_LIB_DIR, set by run.sh to target/mobile). Run: benches/swift/run.sh (or
// `scripts/bench swift`).
import PackageDescription

let package = Package(
    name: "BeckonBench",
    dependencies: [.package(path: "../../../bindings/swift")],
    targets: [
        // Declares libbeckon's one-call C entry point, `beckon_track_serialized`, used as
        // the in-process Rust baseline (a header only: the library is linked by Beckon).
        .systemLibrary(name: "BeckonTrackSerialized", path: "Sources/BeckonTrackSerialized"),
        .executableTarget(
            name: "BeckonBench",
            dependencies: [.product(name: "Beckon", package: "swift"), "BeckonTrackSerialized"],
            path: "Sources/BeckonBench"),
    ]
)
