//! Fixes to the generated Swift (`bindings/swift/Sources/Beckon/Beckon.swift`).
//!
//! Deep values: uniffi writes a `JsonValue` by recursion (`FfiConverterTypeJsonValue.write`
//! calls the sequence and dictionary writers, which call it again for every item), one
//! set of stack frames per nesting level, so a value a few thousand levels deep overflows
//! a 512 KB thread (iOS's default for secondary threads) before the core can refuse it.
//! The body of that `write` is replaced by a call to the hand-written iterative writer,
//! `JsonValueWire.write` (`bindings/swift/Sources/Beckon/JsonValue+Wire.swift`), which
//! produces the same bytes.
//!
//! The hand-written writer repeats uniffi's encoding of a `JsonValue` (variant tags, and
//! how booleans, integers, doubles, strings, arrays and string-keyed dictionaries are
//! written), so the generated code that encoding comes from is checked to be exactly as
//! it was when the writer was written: a uniffi upgrade that changes any of it fails here
//! and the writer must be checked against the new output.
//!
//! Sizes: uniffi writes every length as an Int32 and cannot throw while lowering, so a
//! string of 2 GiB or more, or an argument whose strings add up to that, trapped. The
//! bodies of `FfiConverterString.lower` and `.write` are replaced by calls to
//! `WireText` (`bindings/swift/Sources/Beckon/Wire+Text.swift`), which cuts what it
//! writes at 1 MiB for the core to refuse; the string reader, the reference for the
//! encoding, is pinned.
//!
//! Unexpected failures: a panic in the core, or an argument it could not read back,
//! throws `BeckonError.Internal` from every throwing call (they all throw `BeckonError`)
//! instead of uniffi's `UniffiInternalError`, so apps catch one type.
//!
//! Blocking calls: the generated `flush(timeoutMs:)` and `sync(timeoutMs:)` wait on the
//! network on the caller's thread. They are marked `@available(*, noasync)`, like the
//! hand-written `flushBlocking(timeout:)` and `syncBlocking(timeout:)`, so async code
//! calling them is told to use `try await flush(timeout:)` (a warning in the Swift 5
//! language mode, an error in Swift 6) instead of silently blocking its thread.
//!
//! Applying the patch to a file already patched is refused: the generated body it
//! replaces is gone, and the error says the file was patched already. `scripts/bindings`
//! always patches uniffi's fresh output.

use crate::anchor::replace_once;

/// The text the fix puts in; its presence means the file was patched already.
const MARKER: &str = "JsonValueWire.write(value, into: &buf)";

pub fn patch(generated: &str) -> Result<String, String> {
    if generated.contains(MARKER) {
        return Err(format!(
            "already patched (the file calls {MARKER}); patch uniffi's fresh output"
        ));
    }
    for (what, lines) in PINNED {
        let text = lines.join("\n");
        replace_once(generated, &text, &text, what)?;
    }
    let mut text = replace_once(
        generated,
        &GENERATED_JSON_VALUE_WRITE.join("\n"),
        &JSON_VALUE_WRITE.join("\n"),
        "JsonValue writer (FfiConverterTypeJsonValue.write)",
    )?;
    for (what, generated_lines, ours) in [
        (
            "unexpected failures (uniffiCheckCallStatus)",
            GENERATED_PANIC,
            PANIC,
        ),
        (
            "string lowering (FfiConverterString.lower)",
            GENERATED_STRING_LOWER,
            STRING_LOWER,
        ),
        (
            "string writer (FfiConverterString.write)",
            GENERATED_STRING_WRITE,
            STRING_WRITE,
        ),
    ] {
        text = replace_once(&text, &generated_lines.join("\n"), &ours.join("\n"), what)?;
    }
    for (what, declaration, instead) in BLOCKING {
        let marked = format!(
            "@available(*, noasync, message: \"blocks the calling thread on the network; from async code use `{instead}`\")\n{declaration}"
        );
        text = replace_once(&text, declaration, &marked, what)?;
    }
    Ok(text)
}

/// The generated calls that block on the network, and what async code uses instead.
const BLOCKING: &[(&str, &str, &str)] = &[
    (
        "noasync flush(timeoutMs:)",
        "open func flush(timeoutMs: Int64)throws  -> FlushReport  {",
        "try await flush(timeout:)",
    ),
    (
        "noasync sync(timeoutMs:)",
        "open func sync(timeoutMs: Int64)throws  -> SyncReport  {",
        "try await sync(timeout:)",
    ),
];

/// uniffi 0.32's recursive writer of `JsonValue`, replaced whole. Lines holding only
/// spaces are uniffi's, kept as they are.
const GENERATED_JSON_VALUE_WRITE: &[&str] = &[
    "    public static func write(_ value: JsonValue, into buf: inout [UInt8]) {",
    "        switch value {",
    "        ",
    "        ",
    "        case .null:",
    "            writeInt(&buf, Int32(1))",
    "        ",
    "        ",
    "        case let .bool(value):",
    "            writeInt(&buf, Int32(2))",
    "            FfiConverterBool.write(value, into: &buf)",
    "            ",
    "        ",
    "        case let .integer(value):",
    "            writeInt(&buf, Int32(3))",
    "            FfiConverterInt64.write(value, into: &buf)",
    "            ",
    "        ",
    "        case let .number(value):",
    "            writeInt(&buf, Int32(4))",
    "            FfiConverterDouble.write(value, into: &buf)",
    "            ",
    "        ",
    "        case let .text(value):",
    "            writeInt(&buf, Int32(5))",
    "            FfiConverterString.write(value, into: &buf)",
    "            ",
    "        ",
    "        case let .array(values):",
    "            writeInt(&buf, Int32(6))",
    "            FfiConverterSequenceTypeJsonValue.write(values, into: &buf)",
    "            ",
    "        ",
    "        case let .object(fields):",
    "            writeInt(&buf, Int32(7))",
    "            FfiConverterDictionaryStringTypeJsonValue.write(fields, into: &buf)",
    "            ",
    "        }",
    "    }",
];

/// uniffi 0.32's handling of a panic in the core, replaced whole.
const GENERATED_PANIC: &[&str] = &[
    "        case CALL_UNEXPECTED_ERROR:",
    "            // When the rust code sees a panic, it tries to construct a RustBuffer",
    "            // with the message.  But if that code panics, then it just sends back",
    "            // an empty buffer.",
    "            if callStatus.errorBuf.len > 0 {",
    "                throw UniffiInternalError.rustPanic(try FfiConverterString.lift(callStatus.errorBuf))",
    "            } else {",
    "                callStatus.errorBuf.deallocate()",
    "                throw UniffiInternalError.rustPanic(\"Rust panic\")",
    "            }",
];

/// Beckon's: a throwing call (all of them throw `BeckonError`) throws
/// `BeckonError.Internal` for it, so apps catch one type.
const PANIC: &[&str] = &[
    "        case CALL_UNEXPECTED_ERROR:",
    "            // Beckon: every throwing call's error is BeckonError, so an unexpected",
    "            // failure (a panic in the core, an argument it could not read) is one too.",
    "            let message: String",
    "            if callStatus.errorBuf.len > 0 {",
    "                message = try FfiConverterString.lift(callStatus.errorBuf)",
    "            } else {",
    "                callStatus.errorBuf.deallocate()",
    "                message = \"Rust panic\"",
    "            }",
    "            if errorHandler != nil {",
    "                throw BeckonError.Internal(message: \"internal error: \\(message) (a bug in Beckon; please report it)\")",
    "            }",
    "            throw UniffiInternalError.rustPanic(message)",
];

/// uniffi 0.32's string lowering and writer, replaced whole.
const GENERATED_STRING_LOWER: &[&str] = &[
    "    public static func lower(_ value: String) -> RustBuffer {",
    "        return value.utf8CString.withUnsafeBufferPointer { ptr in",
    "            // The swift string gives us int8_t, we want uint8_t.",
    "            ptr.withMemoryRebound(to: UInt8.self) { ptr in",
    "                // The swift string gives us a trailing null byte, we don't want it.",
    "                let buf = UnsafeBufferPointer(rebasing: ptr.prefix(upTo: ptr.count - 1))",
    "                return RustBuffer.from(buf)",
    "            }",
    "        }",
    "    }",
];
const GENERATED_STRING_WRITE: &[&str] = &[
    "    public static func write(_ value: String, into buf: inout [UInt8]) {",
    "        let len = Int32(value.utf8.count)",
    "        writeInt(&buf, len)",
    "        writeBytes(&buf, value.utf8)",
    "    }",
];

/// Beckon's replacements: the same signatures, cutting at `WireText.maxBytes`.
const STRING_LOWER: &[&str] = &[
    "    public static func lower(_ value: String) -> RustBuffer {",
    "        // Beckon: cut at 1 MiB, where uniffi's Int32 lengths trapped past 2 GiB",
    "        // (see Wire+Text.swift; patched in by scripts/bindings).",
    "        return WireText.withUTF8(value, atMost: WireText.maxBytes) { RustBuffer.from($0) }",
    "    }",
];
const STRING_WRITE: &[&str] = &[
    "    public static func write(_ value: String, into buf: inout [UInt8]) {",
    "        // Beckon: cut once the buffer holds 1 MiB (see Wire+Text.swift).",
    "        WireText.write(value, into: &buf)",
    "    }",
];

/// Beckon's replacement: the same signature, the hand-written iterative writer.
const JSON_VALUE_WRITE: &[&str] = &[
    "    public static func write(_ value: JsonValue, into buf: inout [UInt8]) {",
    "        // Beckon: iterative and bounded, where uniffi's writer recursed once per",
    "        // nesting level (see JsonValue+Wire.swift; patched in by scripts/bindings).",
    "        JsonValueWire.write(value, into: &buf)",
    "    }",
];

/// Generated code whose encoding `JsonValueWire` repeats: checked, left unchanged.
const PINNED: &[(&str, &[&str])] = &[
    (
        "JsonValue writer: big-endian integers (writeInt)",
        &[
            "fileprivate func writeInt<T: FixedWidthInteger>(_ writer: inout [UInt8], _ value: T) {",
            "    var value = value.bigEndian",
            "    withUnsafeBytes(of: &value) { writer.append(contentsOf: $0) }",
            "}",
        ],
    ),
    (
        "JsonValue writer: doubles (writeDouble)",
        &[
            "fileprivate func writeDouble(_ writer: inout [UInt8], _ value: Double) {",
            "    writeInt(&writer, value.bitPattern)",
            "}",
        ],
    ),
    (
        "JsonValue writer: Int64 (FfiConverterInt64)",
        &[
            "fileprivate struct FfiConverterInt64: FfiConverterPrimitive {",
            "    typealias FfiType = Int64",
            "    typealias SwiftType = Int64",
            "",
            "    public static func read(from buf: inout (data: Data, offset: Data.Index)) throws -> Int64 {",
            "        return try lift(readInt(&buf))",
            "    }",
            "",
            "    public static func write(_ value: Int64, into buf: inout [UInt8]) {",
            "        writeInt(&buf, lower(value))",
            "    }",
            "}",
        ],
    ),
    (
        "JsonValue writer: Double (FfiConverterDouble)",
        &[
            "fileprivate struct FfiConverterDouble: FfiConverterPrimitive {",
            "    typealias FfiType = Double",
            "    typealias SwiftType = Double",
            "",
            "    public static func read(from buf: inout (data: Data, offset: Data.Index)) throws -> Double {",
            "        return try lift(readDouble(&buf))",
            "    }",
            "",
            "    public static func write(_ value: Double, into buf: inout [UInt8]) {",
            "        writeDouble(&buf, lower(value))",
            "    }",
            "}",
        ],
    ),
    (
        "JsonValue writer: Bool as Int8 (FfiConverterBool)",
        &[
            "    public static func lower(_ value: Bool) -> Int8 {",
            "        return value ? 1 : 0",
            "    }",
            "",
            "    public static func read(from buf: inout (data: Data, offset: Data.Index)) throws -> Bool {",
            "        return try lift(readInt(&buf))",
            "    }",
            "",
            "    public static func write(_ value: Bool, into buf: inout [UInt8]) {",
            "        writeInt(&buf, lower(value))",
            "    }",
        ],
    ),
    (
        "string writer: the encoding read back (FfiConverterString.read)",
        &[
            "    public static func read(from buf: inout (data: Data, offset: Data.Index)) throws -> String {",
            "        let len: Int32 = try readInt(&buf)",
        ],
    ),
    (
        "JsonValue writer: arrays (FfiConverterSequenceTypeJsonValue.write)",
        &[
            "    public static func write(_ value: [JsonValue], into buf: inout [UInt8]) {",
            "        let len = Int32(value.count)",
            "        writeInt(&buf, len)",
            "        for item in value {",
            "            FfiConverterTypeJsonValue.write(item, into: &buf)",
            "        }",
            "    }",
        ],
    ),
    (
        "JsonValue writer: objects (FfiConverterDictionaryStringTypeJsonValue.write)",
        &[
            "    public static func write(_ value: [String: JsonValue], into buf: inout [UInt8]) {",
            "        let len = Int32(value.count)",
            "        writeInt(&buf, len)",
            "        for (key, value) in value {",
            "            FfiConverterString.write(key, into: &buf)",
            "            FfiConverterTypeJsonValue.write(value, into: &buf)",
            "        }",
            "    }",
        ],
    ),
    (
        "JsonValue writer: variant tags (FfiConverterTypeJsonValue.read)",
        &[
            "        case 1: return .null",
            "        ",
            "        case 2: return .bool(value: try FfiConverterBool.read(from: &buf)",
            "        )",
            "        ",
            "        case 3: return .integer(value: try FfiConverterInt64.read(from: &buf)",
            "        )",
            "        ",
            "        case 4: return .number(value: try FfiConverterDouble.read(from: &buf)",
            "        )",
            "        ",
            "        case 5: return .text(value: try FfiConverterString.read(from: &buf)",
            "        )",
            "        ",
            "        case 6: return .array(values: try FfiConverterSequenceTypeJsonValue.read(from: &buf)",
            "        )",
            "        ",
            "        case 7: return .object(fields: try FfiConverterDictionaryStringTypeJsonValue.read(from: &buf)",
            "        )",
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for uniffi's output: the pinned pieces and the writer to replace, with
    /// unrelated code around them.
    fn synthetic() -> String {
        let mut parts = vec!["// generated".to_owned(), "import Foundation".to_owned()];
        for (_, lines) in PINNED {
            parts.push(lines.join("\n"));
            parts.push("// something else".to_owned());
        }
        for (_, declaration, _) in BLOCKING {
            parts.push(format!(
                "    /** Blocks. */\n{declaration}\n    return 1\n}}"
            ));
        }
        parts.push("    switch callStatus.code {".to_owned());
        parts.push(GENERATED_PANIC.join("\n"));
        parts.push("    }".to_owned());
        parts.push("fileprivate struct FfiConverterString: FfiConverter {".to_owned());
        parts.push(GENERATED_STRING_LOWER.join("\n"));
        parts.push(GENERATED_STRING_WRITE.join("\n"));
        parts.push("}".to_owned());
        parts.push("public struct FfiConverterTypeJsonValue: FfiConverterRustBuffer {".to_owned());
        parts.push(GENERATED_JSON_VALUE_WRITE.join("\n"));
        parts.push("}".to_owned());
        parts.join("\n")
    }

    #[test]
    fn replaces_the_recursive_writer_and_keeps_everything_else() {
        let generated = synthetic();
        let patched = patch(&generated).unwrap();
        assert!(patched.contains(MARKER));
        assert!(!patched.contains("FfiConverterSequenceTypeJsonValue.write(values, into: &buf)"));
        assert_eq!(patched.matches(MARKER).count(), 1);
        for (_, lines) in PINNED {
            assert!(
                patched.contains(&lines.join("\n")),
                "a pinned piece was changed"
            );
        }
        for (_, declaration, instead) in BLOCKING {
            let at = patched.find(declaration).unwrap();
            let before = patched[..at].lines().last().unwrap();
            assert!(
                before.starts_with("@available(*, noasync, message: "),
                "{before}"
            );
            assert!(before.contains(instead), "{before}");
        }
        assert!(patched.contains("WireText.withUTF8(value, atMost: WireText.maxBytes)"));
        assert!(patched.contains("        WireText.write(value, into: &buf)"));
        assert!(!patched.contains("value.utf8CString"));
        assert!(patched.contains("throw BeckonError.Internal(message: "));
        // Nothing else changed.
        let mut unpatched = patched
            .replace(
                &JSON_VALUE_WRITE.join("\n"),
                &GENERATED_JSON_VALUE_WRITE.join("\n"),
            )
            .replace(&STRING_LOWER.join("\n"), &GENERATED_STRING_LOWER.join("\n"))
            .replace(&STRING_WRITE.join("\n"), &GENERATED_STRING_WRITE.join("\n"))
            .replace(&PANIC.join("\n"), &GENERATED_PANIC.join("\n"));
        for (_, declaration, _) in BLOCKING {
            let at = unpatched.find(declaration).unwrap();
            let line_start = unpatched[..at - 1].rfind('\n').unwrap() + 1;
            unpatched.replace_range(line_start..at, "");
        }
        assert_eq!(unpatched, generated);
    }

    #[test]
    fn refuses_to_patch_twice() {
        let once = patch(&synthetic()).unwrap();
        let error = patch(&once).unwrap_err();
        assert!(error.contains("already patched"), "{error}");
    }

    #[test]
    fn fails_when_the_writer_changed() {
        let changed = synthetic().replace("writeInt(&buf, Int32(7))", "writeInt(&buf, Int32(8))");
        let error = patch(&changed).unwrap_err();
        assert!(error.contains("FfiConverterTypeJsonValue.write"), "{error}");
        assert!(error.contains("no longer holds"), "{error}");
    }

    #[test]
    fn fails_when_an_encoding_the_writer_repeats_changed() {
        let changed = synthetic().replace(
            "        let len: Int32 = try readInt(&buf)",
            "        let len: UInt32 = try readInt(&buf)",
        );
        let error = patch(&changed).unwrap_err();
        assert!(error.contains("FfiConverterString.read"), "{error}");
        let changed = synthetic().replace(
            "        let len = Int32(value.utf8.count)",
            "        let len = UInt32(value.utf8.count)",
        );
        let error = patch(&changed).unwrap_err();
        assert!(error.contains("FfiConverterString.write"), "{error}");
    }

    #[test]
    fn fails_when_a_blocking_call_changed() {
        let changed = synthetic().replace(
            "open func sync(timeoutMs: Int64)throws",
            "open func sync(timeoutMs: Int32)throws",
        );
        let error = patch(&changed).unwrap_err();
        assert!(error.contains("noasync sync(timeoutMs:)"), "{error}");
    }

    #[test]
    fn fails_when_the_writer_is_there_twice() {
        let twice = format!("{}\n{}", synthetic(), GENERATED_JSON_VALUE_WRITE.join("\n"));
        let error = patch(&twice).unwrap_err();
        assert!(error.contains("2 times"), "{error}");
    }
}
