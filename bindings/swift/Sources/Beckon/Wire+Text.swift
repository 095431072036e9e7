// Hand-written: how a string is written into what carries an argument to Rust, in place
// of the bodies of uniffi's generated `FfiConverterString.lower` and `.write`
// (uniffi-bindgen/src/bin/patch-generated/swift.rs swaps them in; JsonValueWire writes
// its strings here too).
//
// uniffi's lowering cannot throw, and it writes lengths as Int32: a string of 2 GiB or
// more, or an argument whose strings add up to that (a cart whose products share one
// long name), trapped in `Int32(_:)` and took the app down before the core could refuse
// it. So what is written is bounded, as JsonValueWire bounds nesting:
//
//  - A string passed alone is cut to at most `maxBytes` (1 MiB) of UTF-8.
//  - Inside an argument (a record, list or map), once the buffer holds `maxBytes`, every
//    later string is cut to the room left, but never below its first `keptBytes` (256):
//    the buffer grows by at most that much per string past the limit.
//
// Cuts fall on character boundaries, so what crosses is always text. The core decides
// what is valid and nothing it accepts comes near 1 MiB (an event takes at most 32 KB,
// an id 256 bytes, the deep-link routes of an app a few hundred KB), so an argument that
// was cut is one the core refuses with its own error naming the field, and nothing is
// stored: src/ffi/argument_sizes.rs checks that for every call. Keeping 256 bytes of
// every string keeps that error about the app's values rather than the cut: an id (256
// bytes at most) crosses whole, an overlong key or name is still overlong, and an
// empty string stays the only empty one, so the core refuses the argument for what is
// wrong with it (most often its size). Below the limit, strings are written exactly.
enum WireText {
    /// The most bytes of one string, and of an argument's buffer before strings are cut.
    static let maxBytes = 1 << 20
    /// What a string keeps at least when cut inside an argument: the longest id.
    static let keptBytes = 256

    /// Calls `body` with the UTF-8 of `value`, cut at a character boundary to at most
    /// `limit` bytes. A native string's own storage, so nothing is copied.
    static func withUTF8<R>(
        _ value: String, atMost limit: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R
    ) -> R {
        var value = value
        return value.withUTF8 { bytes in
            body(UnsafeBufferPointer(rebasing: bytes[..<cut(bytes, atMost: limit)]))
        }
    }

    /// Writes `value` as uniffi's `FfiConverterString.write` did (a big-endian Int32 byte
    /// count, then the UTF-8), cut to the room left in `buf` under `maxBytes`, keeping
    /// at least `keptBytes`.
    static func write(_ value: String, into buf: inout [UInt8]) {
        withUTF8(value, atMost: max(keptBytes, maxBytes - buf.count)) { bytes in
            var count = Int32(bytes.count).bigEndian
            withUnsafeBytes(of: &count) { buf.append(contentsOf: $0) }
            buf.append(contentsOf: bytes)
        }
    }

    /// The length of the longest prefix of `bytes` that is at most `limit` bytes and ends
    /// on a character boundary (never inside a UTF-8 sequence).
    static func cut(_ bytes: UnsafeBufferPointer<UInt8>, atMost limit: Int) -> Int {
        guard bytes.count > limit else { return bytes.count }
        var end = limit
        while end > 0 && bytes[end] & 0xC0 == 0x80 {
            end -= 1
        }
        return end
    }
}
