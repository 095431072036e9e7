//! Link arguments for the SDK's shared library (`libbeckon.so`), nothing else: the
//! relative relocations (one per pointer in the library's data: vtables, string
//! tables, the root certificates) are packed, which takes them from 24 bytes each to
//! about one bit. That is 0.3 MB of the library (BENCHMARKS.md, "Library size").
//!
//! - Linux (glibc): `-z pack-relative-relocs` (DT_RELR; GNU ld 2.38 and glibc 2.36 or
//!   later, lld 15 or later; an older ld ignores the option with a warning).
//! - Android: `--pack-dyn-relocs=android`, the packing every Android version the SDK
//!   supports (API 23 and later) loads; the NDK's lld has it.
//! - iOS needs nothing: Apple's linker stores fixups in the pointers themselves.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    match (os.as_str(), env.as_str()) {
        ("linux", "gnu") => println!("cargo:rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs"),
        ("android", _) => println!("cargo:rustc-cdylib-link-arg=-Wl,--pack-dyn-relocs=android"),
        _ => {}
    }
    println!("cargo:rerun-if-changed=build.rs");
}
