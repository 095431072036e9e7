// Hand-written: how a `JsonValue` is written into the buffer that carries it to Rust, in
// place of uniffi's generated writer.
//
// uniffi's `FfiConverterTypeJsonValue.write` recursed once per nesting level (through the
// sequence and dictionary writers), so a value nested a few thousand levels deep overflowed
// the calling thread's stack (512 KB on iOS's secondary threads) before the core could
// refuse it. scripts/bindings replaces the generated body with a call to
// `JsonValueWire.write` (uniffi-bindgen/src/bin/patch-generated/swift.rs, which also checks
// that the generated encoding repeated here has not changed). This writer produces the same
// bytes with an explicit stack: nothing here recurses over the app's values.
//
// The core decides what is valid (at most 8 levels, finite numbers, its key rules, 32 KB
// for an event) and refuses the rest with a `BeckonError` naming the field; this writer
// never judges a value. It only keeps what crosses safe to read:
//
//  - Depth. Rust lifts a `JsonValue` by recursion too, on the caller's thread, so nothing
//    deeper than `maxDepth` (64) levels is written: an array or object at level 64 is
//    written as null instead of its contents. 64 levels lift well within a 256 KB thread's
//    stack, and a value that deep is still far beyond the core's 8 levels, so the core
//    refuses it with its own message naming the path (`properties.d.k.k…: nests deeper
//    than 8 levels`) and stores nothing. Values within 64 levels are written exactly.
//  - Size. Once the buffer holds more than `maxBytes` (1 MiB), strings are cut (at a
//    character boundary, to their first 256 bytes: Wire+Text.swift) and arrays and
//    objects are written as null, so a value repeating
//    one big string or array many times cannot grow the buffer to gigabytes (past 2 GiB,
//    uniffi's Int32 lengths trap). Anything the core accepts is far smaller: this encoding
//    takes at most 6 bytes per byte of the event's JSON (an integer 0 takes 12 bytes here,
//    2 in JSON with its comma), so an event within the core's 32 KB limit takes under
//    200 KB here and is always written exactly; a buffer past 1 MiB holds an event the
//    core refuses as too large, whatever the cut left out.
enum JsonValueWire {
    /// The deepest level written; an array or object at this level is written as null.
    static let maxDepth = 64
    /// Past this many bytes in the buffer, strings are cut and containers written as null.
    static let maxBytes = WireText.maxBytes

    /// An array or object being written: its items left to write, and their level.
    private enum Frame {
        case array([JsonValue], next: Int, depth: Int)
        case object([String: JsonValue], next: Dictionary<String, JsonValue>.Index, depth: Int)
    }

    /// Writes `value` as uniffi's `FfiConverterTypeJsonValue` does: an Int32 variant tag
    /// (1 null, 2 bool, 3 integer, 4 number, 5 text, 6 array, 7 object), big-endian like
    /// every number, then the payload: a bool as one byte (1 or 0), an Int64, a Double's
    /// bit pattern, a string as an Int32 byte count and its UTF-8, an array as an Int32
    /// count and its items, an object as an Int32 count and its key/value pairs.
    static func write(_ value: JsonValue, into buf: inout [UInt8]) {
        guard let first = writeValue(value, depth: 1, into: &buf) else { return }
        var stack = [first]
        while let frame = stack.popLast() {
            let item: JsonValue
            let depth: Int
            switch frame {
            case let .array(values, next, itemDepth):
                if next + 1 < values.count {
                    stack.append(.array(values, next: next + 1, depth: itemDepth))
                }
                item = values[next]
                depth = itemDepth
            case let .object(fields, next, itemDepth):
                let after = fields.index(after: next)
                if after != fields.endIndex {
                    stack.append(.object(fields, next: after, depth: itemDepth))
                }
                let (key, value) = fields[next]
                writeString(key, into: &buf)
                item = value
                depth = itemDepth
            }
            if let opened = writeValue(item, depth: depth, into: &buf) {
                stack.append(opened)
            }
        }
    }

    /// Writes a scalar whole, or an array's or object's tag and count; returns the frame
    /// of a container whose items are still to be written.
    private static func writeValue(_ value: JsonValue, depth: Int, into buf: inout [UInt8]) -> Frame? {
        switch value {
        case .null:
            writeInt(Int32(1), into: &buf)
        case let .bool(value):
            writeInt(Int32(2), into: &buf)
            buf.append(value ? 1 : 0)
        case let .integer(value):
            writeInt(Int32(3), into: &buf)
            writeInt(value, into: &buf)
        case let .number(value):
            writeInt(Int32(4), into: &buf)
            writeInt(value.bitPattern, into: &buf)
        case let .text(value):
            writeInt(Int32(5), into: &buf)
            writeString(value, into: &buf)
        case let .array(values):
            guard depth < maxDepth, buf.count <= maxBytes else {
                writeInt(Int32(1), into: &buf)
                return nil
            }
            writeInt(Int32(6), into: &buf)
            writeInt(Int32(values.count), into: &buf)
            if !values.isEmpty { return .array(values, next: 0, depth: depth + 1) }
        case let .object(fields):
            guard depth < maxDepth, buf.count <= maxBytes else {
                writeInt(Int32(1), into: &buf)
                return nil
            }
            writeInt(Int32(7), into: &buf)
            writeInt(Int32(fields.count), into: &buf)
            if !fields.isEmpty { return .object(fields, next: fields.startIndex, depth: depth + 1) }
        }
        return nil
    }

    /// An Int32 byte count and the UTF-8 bytes, cut at a character boundary where the
    /// whole string would take the buffer past `maxBytes` (Wire+Text.swift).
    private static func writeString(_ value: String, into buf: inout [UInt8]) {
        WireText.write(value, into: &buf)
    }

    @inline(__always)
    private static func writeInt<T: FixedWidthInteger>(_ value: T, into buf: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { buf.append(contentsOf: $0) }
    }
}
