//! Fixes to the generated Kotlin (`bindings/kotlin/src/main/kotlin/dev/beckon/beckon.kt`).

pub fn patch(generated: &str) -> Result<String, String> {
    Ok(generated.to_owned())
}
