//! Fixes to the generated Swift (`bindings/swift/Sources/Beckon/Beckon.swift`).

pub fn patch(generated: &str) -> Result<String, String> {
    Ok(generated.to_owned())
}
