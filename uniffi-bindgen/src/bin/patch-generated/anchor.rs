//! Replacing generated text at anchors that must be there exactly as expected.

/// Replaces the one occurrence of `anchor` in `text` with `replacement`; `what` names the
/// fix in the error when the anchor is missing or ambiguous.
pub fn replace_once(
    text: &str,
    anchor: &str,
    replacement: &str,
    what: &str,
) -> Result<String, String> {
    match text.matches(anchor).count() {
        1 => Ok(text.replacen(anchor, replacement, 1)),
        0 => Err(format!("{what}: the generated code no longer holds the expected text; check the fix against the new uniffi output")),
        n => Err(format!("{what}: the expected text occurs {n} times, not once")),
    }
}

#[cfg(test)]
mod tests {
    use super::replace_once;

    #[test]
    fn replaces_a_single_occurrence() {
        assert_eq!(replace_once("a b c", "b", "B", "fix").unwrap(), "a B c");
    }

    #[test]
    fn refuses_a_missing_or_repeated_anchor() {
        assert!(replace_once("a c", "b", "B", "fix")
            .unwrap_err()
            .contains("no longer holds"));
        assert!(replace_once("b b", "b", "B", "fix")
            .unwrap_err()
            .contains("2 times"));
    }
}
