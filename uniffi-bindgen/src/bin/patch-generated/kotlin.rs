//! Fixes to the generated Kotlin (`bindings/kotlin/src/main/kotlin/dev/beckon/beckon.kt`).
//!
//! Each fix swaps a piece of uniffi's output for a call into hand-written Kotlin of
//! `bindings/kotlin/src/main/kotlin/dev/beckon/`, where the logic lives and is tested:
//!
//! - **Text that is not text, or too big** (`Text.kt`). `FfiConverterString.toUtf8`
//!   throws the internal `RefusedArgument` for a lone UTF-16 surrogate instead of
//!   java.nio's `MalformedInputException`, and for a text over 1 MiB; its
//!   `allocationSize` reserves no more than that, and `lowerIntoRustBuffer` refuses an
//!   argument sized over 16 MiB instead of failing to allocate it (past 2 GiB the sizes
//!   no longer fit uniffi's `Int` buffers). The writers of record fields, list items and map keys
//!   name what they were writing as it unwinds, the lowering of each argument of the
//!   `Beckon` class names the argument, and the call turns it into the typed
//!   `BeckonException` naming the field (`InvalidEvent`, `InvalidConfig`, `InvalidPush`
//!   or `InvalidArgument`). `callWithHandle` releases the handle it cloned, which the
//!   refused call never took.
//! - **Deep JSON** (`JsonWire.kt`). `FfiConverterTypeJsonValue` and
//!   `FfiConverterMapStringTypeJsonValue` size and write without recursion; their
//!   `read`, the reference for the encoding, is part of the anchor and kept as it is.
//! - **Unexpected failures.** A panic in the core, or an argument it could not read
//!   back (a collection whose size changed while it was written), comes back as
//!   `BeckonException.Internal` from every throwing call instead of uniffi's
//!   `InternalException`, so apps catch one type.
//! - **Closed instances.** `Beckon.close()` shuts the instance down before releasing
//!   the native object, and a call after it throws `BeckonException.ShutDown` instead
//!   of `IllegalStateException`.
//!
//! Patching is not idempotent on purpose: the input must be uniffi's output. Text that
//! already carries [`MARKER`] is refused with an error saying so, rather than patched
//! twice or passed through unchanged, so a pipeline that feeds the committed file back
//! in fails loudly.

use crate::anchor::replace_once;

/// The first line of patched output; its presence means the text was patched already.
pub const MARKER: &str =
    "// Patched after generation by uniffi-bindgen/src/bin/patch-generated (kotlin.rs): \
lone surrogates, sizes and deep JSON (Text.kt, JsonWire.kt), close() (Text.kt).\n";

// The anchors are uniffi 0.32's output, verbatim; the longer ones are kept in
// `uniffi-kotlin/`, each the exact text of the generated file.
const TO_UTF8: &str = include_str!("uniffi-kotlin/string_to_utf8.txt");
const TO_UTF8_BECKON: &str = "    fun toUtf8(value: String): ByteBuffer {
        // Beckon: a lone surrogate throws RefusedArgument, which the call turns into its
        // typed BeckonException naming the field (Text.kt).
        return utf8(value)
    }
";

const STRING_ALLOCATION: &str = "    override fun allocationSize(value: String): ULong {
        val sizeForLength = 4UL
        val sizeForString = value.length.toULong() * 3UL
        return sizeForLength + sizeForString
    }
";
const STRING_ALLOCATION_BECKON: &str =
    "    // Beckon: no more than a text may take; toUtf8 refuses a longer one (Text.kt).
    override fun allocationSize(value: String): ULong = textAllocation(value)
";

const ARGUMENT_ALLOCATION: &str = "        val rbuf = RustBuffer.alloc(allocationSize(value))\n";
const ARGUMENT_ALLOCATION_BECKON: &str =
    "        // Beckon: an argument too large to encode is refused, naming it (Text.kt).
        val rbuf = RustBuffer.alloc(checkedArgumentSize(allocationSize(value)))
";

const PANIC: &str = "        if (status.error_buf.len > 0) {
            throw InternalException(FfiConverterString.lift(status.error_buf))
        } else {
            throw InternalException(\"Rust panic\")
        }
";
const PANIC_BECKON: &str = "        // Beckon: every throwing call's error is BeckonException, so an unexpected
        // failure (a panic in the core, an argument it could not read) is one too.
        val message = if (status.error_buf.len > 0) FfiConverterString.lift(status.error_buf) else \"Rust panic\"
        if (errorHandler === BeckonException.ErrorHandler) throw unexpectedFailure(message)
        throw InternalException(message)
";

const JSON_VALUE: &str = include_str!("uniffi-kotlin/json_value_converter.txt");
const JSON_VALUE_BECKON: &str =
    "    // Beckon: sized and written without recursion, with uniffi's encoding (JsonWire.kt).
    override fun allocationSize(value: JsonValue): ULong = JsonWire.size(value)

    override fun write(value: JsonValue, buf: ByteBuffer) = JsonWire.write(value, buf)
";

const JSON_MAP: &str = include_str!("uniffi-kotlin/json_map_converter.txt");
const JSON_MAP_BECKON: &str =
    "    // Beckon: sized and written without recursion, with uniffi's encoding (JsonWire.kt).
    override fun allocationSize(value: Map<kotlin.String, JsonValue>): ULong = JsonWire.sizeFields(value)

    override fun write(value: Map<kotlin.String, JsonValue>, buf: ByteBuffer) = JsonWire.writeFields(value, buf)
";

const STRING_MAP_ENTRY: &str = "            FfiConverterString.write(k, buf)
            FfiConverterString.write(v, buf)
";
const STRING_MAP_ENTRY_BECKON: &str = "            textKey { FfiConverterString.write(k, buf) }
            textField(k) { FfiConverterString.write(v, buf) }
";

const CLASS_START: &str = "open class Beckon: Disposable, AutoCloseable, BeckonInterface\n";
const CLASS_END: &str = "public object FfiConverterTypeBeckon:";

const DESTROYED: &str = "throw IllegalStateException(\"${this.javaClass.simpleName} object has already been destroyed\")";
const DESTROYED_BECKON: &str = "throw closedInstance() // Beckon: as after shutdown()";

const CALL: &str = "            return block(this.uniffiCloneHandle())\n";
const CALL_BECKON: &str = "            val handle = this.uniffiCloneHandle()
            try {
                return block(handle)
            } catch (refused: RefusedArgument) {
                // Beckon: an argument was refused while lowered, before the call took the
                // cloned handle: release it, and throw the typed exception (Text.kt).
                uniffiRustCall { status -> UniffiLib.uniffi_beckon_fn_free_beckon(handle, status) }
                throw refused.toBeckonException()
            }
";

const CLOSE: &str = "    @Synchronized
    override fun close() {
        this.destroy()
    }
";
const CLOSE_BECKON: &str = "    @Synchronized
    override fun close() {
        // Beckon: shut down first, so the data directory is released when close() returns,
        // even while another thread's call still holds the native object.
        if (!this.uniffiIsDestroyed) shutDownForClose(this)
        this.destroy()
    }
";

/// Arguments the core names otherwise than the parameter: (call, parameter, name).
const RENAMED: &[(&str, &str, &str)] = &[
    // The core calls a user's token `identity_token` wherever it is checked.
    (
        "method_beckon_set_identity_token",
        "token",
        "identity_token",
    ),
];

/// Converters whose values hold no text: their writes and lowerings are left alone.
const TEXTLESS: &[&str] = &[
    "Boolean",
    "Byte",
    "Short",
    "Int",
    "Long",
    "UByte",
    "UShort",
    "UInt",
    "ULong",
    "Float",
    "Double",
    // The app's HTTP client crosses as a handle.
    "TypeHttpClient",
];

pub fn patch(generated: &str) -> Result<String, String> {
    if generated.contains(MARKER.trim_end()) {
        return Err("already patched: give the patch uniffi's output, not a patched file".into());
    }
    let mut text = replace_once(
        generated,
        TO_UTF8,
        TO_UTF8_BECKON,
        "lone surrogates (FfiConverterString.toUtf8)",
    )?;
    text = replace_once(
        &text,
        STRING_ALLOCATION,
        STRING_ALLOCATION_BECKON,
        "text sizes (FfiConverterString.allocationSize)",
    )?;
    text = replace_once(
        &text,
        ARGUMENT_ALLOCATION,
        ARGUMENT_ALLOCATION_BECKON,
        "argument sizes (FfiConverter.lowerIntoRustBuffer)",
    )?;
    text = replace_once(
        &text,
        PANIC,
        PANIC_BECKON,
        "unexpected failures (uniffiCheckCallStatus)",
    )?;
    text = replace_keeping_read(
        &text,
        JSON_VALUE,
        JSON_VALUE_BECKON,
        "deep JSON (FfiConverterTypeJsonValue)",
    )?;
    text = replace_keeping_read(
        &text,
        JSON_MAP,
        JSON_MAP_BECKON,
        "deep JSON (FfiConverterMapStringTypeJsonValue)",
    )?;
    text = replace_once(
        &text,
        STRING_MAP_ENTRY,
        STRING_MAP_ENTRY_BECKON,
        "lone surrogates (FfiConverterMapStringString.write)",
    )?;
    let enums = plain_enums(generated);
    text = name_list_items(&text, &enums)?;
    text = name_record_fields(&text, &enums)?;
    text = patch_class(&text, &enums)?;
    Ok(format!("{MARKER}{text}"))
}

/// Replaces `anchor` (a converter's `read`, then its `allocationSize` and `write`) with
/// the same `read` followed by `replacement`: the `read` must still be uniffi's, as
/// the hand-written writer follows its encoding.
fn replace_keeping_read(
    text: &str,
    anchor: &str,
    replacement: &str,
    what: &str,
) -> Result<String, String> {
    let at = anchor
        .find("    override fun allocationSize")
        .ok_or_else(|| format!("{what}: the anchor has no allocationSize"))?;
    let read = &anchor[..at];
    replace_once(text, anchor, &format!("{read}{replacement}"), what)
}

/// Whether a converter's values can hold no text: numbers, booleans and the enums
/// without data (`enum class` in Kotlin), optional or not.
fn textless(converter: &str, enums: &[&str]) -> bool {
    let name = converter.trim_start_matches("FfiConverter");
    let name = name.strip_prefix("Optional").unwrap_or(name);
    TEXTLESS.contains(&name)
        || name
            .strip_prefix("Type")
            .is_some_and(|t| enums.contains(&t))
}

/// The Kotlin enums without data: `enum class Channel {`.
fn plain_enums(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|line| line.strip_prefix("enum class "))
        .filter_map(|rest| {
            rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// `FfiConverterX.write(value.`field`, buf)` in the records' and enums' writers becomes
/// `textField("field") { … }`, naming the field (in the core's snake_case) when the
/// write refuses a text.
fn name_record_fields(text: &str, enums: &[&str]) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut named = 0;
    for line in text.split_inclusive('\n') {
        match field_write(line) {
            Some((indent, converter, field)) if !textless(converter, enums) => {
                let snake = snake_case(field);
                out.push_str(&format!(
                    "{indent}textField(\"{snake}\") {{ {converter}.write(value.`{field}`, buf) }}\n"
                ));
                named += 1;
            }
            _ => out.push_str(line),
        }
    }
    if named == 0 {
        return Err("lone surrogates (record fields): no `FfiConverterX.write(value.`field`, buf)` line found; check the fix against the new uniffi output".into());
    }
    Ok(out)
}

/// Splits `    FfiConverterX.write(value.`field`, buf)\n` into its indent, converter and field.
fn field_write(line: &str) -> Option<(&str, &str, &str)> {
    let body = line.strip_suffix('\n')?;
    let code = body.trim_start();
    let indent = &body[..body.len() - code.len()];
    let (converter, rest) = code.split_once(".write(value.`")?;
    let field = rest.strip_suffix("`, buf)")?;
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (converter.starts_with("FfiConverter") && plain(converter) && plain(field))
        .then_some((indent, converter, field))
}

/// The sequences' writers name the index of the item that refused a text.
fn name_list_items(text: &str, enums: &[&str]) -> Result<String, String> {
    const HEAD: &str = "        value.iterator().forEach {\n";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut named = 0;
    while let Some(at) = rest.find(HEAD) {
        let after = &rest[at + HEAD.len()..];
        let (item, tail) = after
            .split_once('\n')
            .ok_or("lone surrogates (list items): a sequence writer ends early")?;
        let converter = item
            .trim_start()
            .strip_suffix(".write(it, buf)")
            .filter(|c| c.starts_with("FfiConverter"))
            .ok_or_else(|| {
                format!("lone surrogates (list items): unexpected sequence item writer {item:?}")
            })?;
        let tail = tail
            .strip_prefix("        }\n")
            .ok_or("lone surrogates (list items): unexpected end of a sequence writer")?;
        out.push_str(&rest[..at]);
        if textless(converter, enums) {
            out.push_str(&rest[at..rest.len() - tail.len()]);
        } else {
            out.push_str(&format!(
                "        value.forEachIndexed {{ index, item ->\n            textItem(index) {{ {converter}.write(item, buf) }}\n        }}\n"
            ));
            named += 1;
        }
        rest = tail;
    }
    out.push_str(rest);
    if named == 0 {
        return Err("lone surrogates (list items): no sequence writer found; check the fix against the new uniffi output".into());
    }
    Ok(out)
}

/// The fixes inside the `Beckon` class: closed instances, and the arguments' names.
fn patch_class(text: &str, enums: &[&str]) -> Result<String, String> {
    let start = single(text, CLASS_START, "the Beckon class")?;
    let end = start
        + text[start..]
            .find(CLASS_END)
            .ok_or("the Beckon class: its end (FfiConverterTypeBeckon) is not found")?;
    let class = &text[start..end];
    let mut patched = replace_once(
        class,
        DESTROYED,
        DESTROYED_BECKON,
        "close (callWithHandle on a destroyed Beckon)",
    )?;
    patched = replace_once(
        &patched,
        CALL,
        CALL_BECKON,
        "lone surrogates (callWithHandle)",
    )?;
    patched = replace_once(&patched, CLOSE, CLOSE_BECKON, "close (Beckon.close)")?;
    patched = name_arguments(&patched, enums)?;
    Ok(format!("{}{}{}", &text[..start], patched, &text[end..]))
}

fn single(text: &str, anchor: &str, what: &str) -> Result<usize, String> {
    match text.matches(anchor).count() {
        1 => Ok(text.find(anchor).unwrap_or_default()),
        0 => Err(format!(
            "{what}: not found; check the fix against the new uniffi output"
        )),
        n => Err(format!("{what}: found {n} times, not once")),
    }
}

/// Each `FfiConverterX.lower(`arg`)` in the class is wrapped so that a refused text
/// names `arg`: `loweringArg` in the methods (their `callWithHandle` throws), and
/// `checkedArg` in the constructor, which throws itself. The kind of argument picks the
/// exception: an event, the configuration, a push, or any other argument.
fn name_arguments(class: &str, enums: &[&str]) -> Result<String, String> {
    const LOWER: &str = ".lower(`";
    let mut out = String::with_capacity(class.len() + class.len() / 8);
    let mut function = "";
    let mut constructors = 0;
    let mut named = 0;
    let mut renamed = 0;
    for line in class.split_inclusive('\n') {
        if let Some(at) = line.find("UniffiLib.uniffi_beckon_fn_") {
            let call = &line[at + "UniffiLib.uniffi_beckon_fn_".len()..];
            function = call.split('(').next().unwrap_or_default();
        }
        let Some(at) = line.find(LOWER) else {
            out.push_str(line);
            continue;
        };
        let begin = line[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let converter = &line[begin..at];
        let after = &line[at + LOWER.len()..];
        let (argument, tail) = after
            .split_once("`)")
            .ok_or_else(|| format!("argument names: unexpected lowering {line:?}"))?;
        if !converter.starts_with("FfiConverter") || tail.contains(LOWER) {
            return Err(format!("argument names: unexpected lowering {line:?}"));
        }
        if textless(converter, enums) {
            out.push_str(line);
            continue;
        }
        // An event or a configuration passed whole has no name of its own: the core names
        // the fields in it. `screen` takes the fields of a Screen event one by one.
        let (kind, whole) = match converter {
            "FfiConverterTypeEvent" => ("EVENT", true),
            "FfiConverterTypeBeckonConfig" => ("CONFIG", true),
            _ if function == "method_beckon_screen" => ("EVENT", false),
            _ if function.starts_with("method_beckon_handle_push") => ("PUSH", false),
            _ => ("ARGUMENT", false),
        };
        let wrapper = if function.starts_with("constructor_") {
            constructors += 1;
            "checkedArg"
        } else if function.starts_with("method_beckon_") {
            "loweringArg"
        } else {
            return Err(format!(
                "argument names: a lowering outside a known call: {line:?}"
            ));
        };
        let renaming = RENAMED
            .iter()
            .find(|(f, a, _)| *f == function && *a == argument);
        let snake = match renaming {
            _ if whole => String::new(),
            Some((_, _, name)) => {
                renamed += 1;
                (*name).to_owned()
            }
            None => snake_case(argument),
        };
        out.push_str(&format!(
            "{}{wrapper}(\"{snake}\", TextArg.{kind}) {{ {converter}.lower(`{argument}`) }}{tail}",
            &line[..begin]
        ));
        named += 1;
    }
    if renamed != RENAMED.len() {
        return Err(format!(
            "argument names: {renamed} of the {} renamed arguments found; check RENAMED against the new uniffi output",
            RENAMED.len()
        ));
    }
    if constructors != 1 || named < 2 {
        return Err(format!(
            "argument names: found {named} arguments, {constructors} in the constructor; check the fix against the new uniffi output"
        ));
    }
    Ok(out)
}

/// `productId` → `product_id`: the core's name for a field uniffi wrote in camelCase.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small file with every anchor, shaped as uniffi 0.32 writes them.
    fn synthetic() -> String {
        let class = format!(
            "{CLASS_START}{{
    constructor(`config`: BeckonConfig) :
        this(UniffiWithHandle,
    uniffiRustCallWithError(BeckonException) {{ _status ->
    UniffiLib.uniffi_beckon_fn_constructor_beckon_new(
        FfiConverterTypeBeckonConfig.lower(`config`),_status)
}}
    )
{CLOSE}
    internal inline fun <R> callWithHandle(block: (handle: Long) -> R): R {{
            if (c == 0L) {{
                {DESTROYED}
            }}
        try {{
{CALL}        }} finally {{
        }}
    }}
    override fun `identifyChecked`(`userId`: kotlin.String, `traits`: Map<kotlin.String, JsonValue>)
        =
    callWithHandle {{
    uniffiRustCallWithError(BeckonException) {{ _status ->
    UniffiLib.uniffi_beckon_fn_method_beckon_identify(
        it,
        FfiConverterString.lower(`userId`),
        FfiConverterMapStringTypeJsonValue.lower(`traits`),_status)
}}
    }}
    override fun `flush`(`timeoutMs`: kotlin.Long): FlushReport {{
    UniffiLib.uniffi_beckon_fn_method_beckon_flush(
        it,
        FfiConverterLong.lower(`timeoutMs`),_status)
    }}
    override fun `handlePushData`(`data`: Map<kotlin.String, kotlin.String>): PushAction {{
    UniffiLib.uniffi_beckon_fn_method_beckon_handle_push_data(
        it,
        FfiConverterMapStringString.lower(`data`),_status)
    }}
    override fun `setIdentityTokenChecked`(`userId`: kotlin.String, `token`: kotlin.String) {{
    UniffiLib.uniffi_beckon_fn_method_beckon_set_identity_token(
        it,
        FfiConverterString.lower(`userId`),
        FfiConverterString.lower(`token`),_status)
    }}
    override fun `setPermission`(`channel`: Channel, `source`: kotlin.String) {{
    UniffiLib.uniffi_beckon_fn_method_beckon_set_permission(
        it,
        FfiConverterTypeChannel.lower(`channel`),
        FfiConverterString.lower(`source`),_status)
    }}
    override fun `screen`(`name`: kotlin.String) {{
    UniffiLib.uniffi_beckon_fn_method_beckon_screen(
        it,
        FfiConverterString.lower(`name`),_status)
    }}
    override fun `trackChecked`(`event`: Event) {{
    UniffiLib.uniffi_beckon_fn_method_beckon_track(
        it,
        FfiConverterTypeEvent.lower(`event`),_status)
    }}
}}
"
        );
        format!(
            "// generated\nprivate fun<E: kotlin.Exception> uniffiCheckCallStatus(errorHandler: UniffiRustCallStatusErrorHandler<E>, status: UniffiRustCallStatus) {{
    }} else if (status.isPanic()) {{
{PANIC}    }}
}}
interface FfiConverter {{
    fun lowerIntoRustBuffer(value: KotlinType): RustBuffer.ByValue {{
{ARGUMENT_ALLOCATION}    }}
}}
public object FfiConverterString {{
{TO_UTF8}{STRING_ALLOCATION}}}
{class}{CLASS_END} FfiConverter<Beckon, Long> {{}}
enum class Channel {{
    PUSH;
}}
public object FfiConverterTypeChannelPermission {{
    override fun write(value: ChannelPermission, buf: ByteBuffer) {{
            FfiConverterTypeChannel.write(value.`channel`, buf)
            FfiConverterString.write(value.`source`, buf)
    }}
}}
public object FfiConverterTypeProduct {{
    override fun write(value: Product, buf: ByteBuffer) {{
            FfiConverterString.write(value.`productId`, buf)
            FfiConverterOptionalDouble.write(value.`price`, buf)
            FfiConverterOptionalString.write(value.`imageUrl`, buf)
    }}
}}
public object FfiConverterSequenceTypeProduct {{
    override fun write(value: List<Product>, buf: ByteBuffer) {{
        buf.putInt(value.size)
        value.iterator().forEach {{
            FfiConverterTypeProduct.write(it, buf)
        }}
    }}
}}
public object FfiConverterMapStringString {{
        value.forEach {{ (k, v) ->
{STRING_MAP_ENTRY}        }}
}}
public object FfiConverterTypeJsonValue {{
{JSON_VALUE}}}
public object FfiConverterMapStringTypeJsonValue {{
{JSON_MAP}}}
"
        )
    }

    #[test]
    fn patches_every_anchor_of_a_synthetic_file() {
        let patched = patch(&synthetic()).unwrap();
        assert!(patched.starts_with(MARKER));
        assert!(patched.contains("return utf8(value)"));
        assert!(!patched.contains("CodingErrorAction.REPORT"));
        assert!(patched.contains("ULong = textAllocation(value)"));
        assert!(patched.contains("throw unexpectedFailure(message)"));
        assert!(!patched.contains("value.length.toULong() * 3UL"));
        assert!(patched.contains("RustBuffer.alloc(checkedArgumentSize(allocationSize(value)))"));
        assert!(patched.contains("= JsonWire.size(value)"));
        assert!(patched.contains("= JsonWire.writeFields(value, buf)"));
        // The readers stay uniffi's.
        assert!(patched.contains("            1 -> JsonValue.Null\n"));
        assert!(patched.contains("val v = FfiConverterTypeJsonValue.read(buf)"));
        assert!(!patched.contains("FfiConverterTypeJsonValue.write(v, buf)"));
        assert!(patched.contains(
            "            textField(\"product_id\") { FfiConverterString.write(value.`productId`, buf) }\n"
        ));
        assert!(patched.contains(
            "            textField(\"image_url\") { FfiConverterOptionalString.write(value.`imageUrl`, buf) }\n"
        ));
        assert!(
            patched.contains("            FfiConverterOptionalDouble.write(value.`price`, buf)\n")
        );
        assert!(patched.contains(
            "        value.forEachIndexed { index, item ->\n            textItem(index) { FfiConverterTypeProduct.write(item, buf) }\n        }\n"
        ));
        assert!(patched.contains("textKey { FfiConverterString.write(k, buf) }"));
        assert!(patched.contains(
            "checkedArg(\"\", TextArg.CONFIG) { FfiConverterTypeBeckonConfig.lower(`config`) },_status)"
        ));
        assert!(patched.contains(
            "loweringArg(\"user_id\", TextArg.ARGUMENT) { FfiConverterString.lower(`userId`) },\n"
        ));
        assert!(patched.contains("loweringArg(\"traits\", TextArg.ARGUMENT)"));
        assert!(patched.contains("loweringArg(\"data\", TextArg.PUSH)"));
        assert!(patched
            .contains("loweringArg(\"\", TextArg.EVENT) { FfiConverterTypeEvent.lower(`event`) }"));
        assert!(patched.contains("        FfiConverterLong.lower(`timeoutMs`),_status)"));
        assert!(patched.contains(
            "loweringArg(\"identity_token\", TextArg.ARGUMENT) { FfiConverterString.lower(`token`) },_status)"
        ));
        assert!(patched.contains(
            "loweringArg(\"name\", TextArg.EVENT) { FfiConverterString.lower(`name`) },_status)"
        ));
        // Enums without data hold no text.
        assert!(patched.contains("        FfiConverterTypeChannel.lower(`channel`),\n"));
        assert!(
            patched.contains("            FfiConverterTypeChannel.write(value.`channel`, buf)\n")
        );
        assert!(patched
            .contains("textField(\"source\") { FfiConverterString.write(value.`source`, buf) }"));
        assert!(patched.contains("throw closedInstance()"));
        assert!(patched.contains("shutDownForClose(this)"));
        assert!(patched.contains("throw refused.toBeckonException()"));
    }

    #[test]
    fn refuses_to_patch_twice() {
        let once = patch(&synthetic()).unwrap();
        let twice = patch(&once).unwrap_err();
        assert!(twice.contains("already patched"), "{twice}");
    }

    #[test]
    fn fails_when_an_anchor_changed() {
        let changed = synthetic().replace(
            "onMalformedInput(CodingErrorAction.REPORT)",
            "onMalformedInput(CodingErrorAction.REPLACE)",
        );
        assert!(patch(&changed).unwrap_err().contains("toUtf8"));
        // A change of the encoding read back is a change of the anchor too.
        let changed = synthetic().replace("7 -> JsonValue.Object(", "8 -> JsonValue.Object(");
        assert!(patch(&changed)
            .unwrap_err()
            .contains("FfiConverterTypeJsonValue"));
        let changed = synthetic().replace(
            "value.length.toULong() * 3UL",
            "value.length.toULong() * 4UL",
        );
        assert!(patch(&changed)
            .unwrap_err()
            .contains("FfiConverterString.allocationSize"));
        let changed = synthetic().replace(
            "RustBuffer.alloc(allocationSize(value))",
            "RustBuffer.alloc(allocationSize(value) + 1UL)",
        );
        assert!(patch(&changed).unwrap_err().contains("lowerIntoRustBuffer"));
        let changed = synthetic().replace(".lower(`", ".lower(");
        assert!(patch(&changed).unwrap_err().contains("argument names"));
        let no_close = synthetic().replace("        this.destroy()\n", "        destroy()\n");
        assert!(patch(&no_close).unwrap_err().contains("Beckon.close"));
    }

    #[test]
    fn names_fields_as_the_core_does() {
        assert_eq!(snake_case("productId"), "product_id");
        assert_eq!(snake_case("utmSource"), "utm_source");
        assert_eq!(snake_case("expiresAtMs"), "expires_at_ms");
        assert_eq!(snake_case("url"), "url");
    }

    #[test]
    fn leaves_textless_converters_alone() {
        let enums = plain_enums("enum class Channel {\n    PUSH,\n}\nsealed class Event {\n");
        assert_eq!(enums, ["Channel"]);
        assert!(textless("FfiConverterLong", &enums));
        assert!(textless("FfiConverterOptionalDouble", &enums));
        assert!(textless("FfiConverterTypeChannel", &enums));
        assert!(textless("FfiConverterOptionalTypeChannel", &enums));
        assert!(!textless("FfiConverterTypeEvent", &enums));
        assert!(!textless("FfiConverterString", &enums));
        assert!(!textless("FfiConverterOptionalString", &enums));
        assert!(!textless("FfiConverterSequenceTypeProduct", &enums));
    }
}
