//! Applies Beckon's fixes to the code uniffi generates, after `uniffi-bindgen generate`
//! and before the files are installed (see `scripts/bindings`).
//!
//! uniffi's converters are written for well-behaved values: the Kotlin one throws
//! java.nio's `MalformedInputException` for a string holding a lone UTF-16 surrogate, and
//! both languages convert a `JsonValue` by recursion, so a deeply nested value overflows
//! the caller's stack before the core can refuse it. Apps pass such values (text cut in
//! the middle of an emoji, a JSON tree from a server), so each fix replaces one piece of
//! generated code with a hand-written one. Every anchor must occur exactly as expected:
//! when a uniffi upgrade changes the generated text, this fails instead of shipping
//! bindings without the fix.
//!
//! Usage: `patch-generated kotlin|swift FILE` (rewrites FILE in place).

mod anchor;
mod kotlin;
mod swift;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [language, path] = args.as_slice() else {
        eprintln!("usage: patch-generated kotlin|swift FILE");
        return ExitCode::from(2);
    };
    let patch: fn(&str) -> Result<String, String> = match language.as_str() {
        "kotlin" => kotlin::patch,
        "swift" => swift::patch,
        other => {
            eprintln!("patch-generated: unknown language {other:?}");
            return ExitCode::from(2);
        }
    };
    let result = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {path}: {e}"))
        .and_then(|text| patch(&text))
        .and_then(|patched| {
            std::fs::write(path, patched).map_err(|e| format!("cannot write {path}: {e}"))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("patch-generated: {path}: {problem}");
            ExitCode::FAILURE
        }
    }
}
