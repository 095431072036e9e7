//! Making inserted values safe: no control characters, bounded length, HTML
//! escaping when the output is HTML and percent-encoding when it is a URL.

/// Longest value a field inserts, in characters; longer values are cut and end in `…`.
pub const MAX_VALUE_CHARS: usize = 256;

/// Cleans a value taken from user data before it is inserted: line breaks and tabs
/// become spaces, other control characters and bidirectional-override characters
/// (which can make text display reversed) are removed, the ends are trimmed, and the
/// result is cut to `max_chars`.
pub(crate) fn clean_value(raw: &str, max_chars: usize) -> String {
    let mut cleaned = String::with_capacity(raw.len().min(max_chars * 4));
    for c in raw.chars() {
        if matches!(c, '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}') {
            cleaned.push(' ');
        } else if !(c.is_control() || is_bidi_control(c)) {
            cleaned.push(c);
        }
    }
    let trimmed = cleaned.trim();
    if trimmed.chars().count() <= max_chars {
        return trimmed.to_owned();
    }
    let mut cut: String = trimmed.chars().take(max_chars.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Appends `text` with the five HTML-significant characters escaped, safe in element
/// content and in quoted attribute values.
pub(crate) fn push_html_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// Appends `text` percent-encoded as one URL component: every UTF-8 byte except the
/// RFC 3986 unreserved characters (`A–Z a–z 0–9 - . _ ~`) becomes `%XX`, so a value
/// can never add a path segment, a query parameter or a fragment.
pub(crate) fn push_percent_encoded(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_control_and_bidi_characters() {
        assert_eq!(clean_value("Ann\u{0}a\u{7}", 50), "Anna");
        assert_eq!(clean_value("Anna\nSmith\tJr\r", 50), "Anna Smith Jr");
        assert_eq!(clean_value("  Anna  ", 50), "Anna");
        assert_eq!(clean_value("\u{202E}annA\u{202C}", 50), "annA");
        assert_eq!(clean_value("a\u{1b}[31mred", 50), "a[31mred");
        assert_eq!(clean_value("\u{85}\u{9f}", 50), "");
        assert_eq!(clean_value("Zoë 😀", 50), "Zoë 😀");
    }

    #[test]
    fn caps_length_in_characters() {
        assert_eq!(clean_value("abcdef", 4), "abc…");
        assert_eq!(clean_value("abcd", 4), "abcd");
        assert_eq!(clean_value("ab  cdef", 4), "ab…");
        assert_eq!(clean_value("ééééé", 3), "éé…");
        assert_eq!(
            clean_value(&"x".repeat(10_000), MAX_VALUE_CHARS)
                .chars()
                .count(),
            MAX_VALUE_CHARS
        );
    }

    #[test]
    fn escapes_html() {
        let mut out = String::new();
        push_html_escaped(&mut out, r#"<script>alert("x" & 'y')</script>"#);
        assert_eq!(
            out,
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
    }

    #[test]
    fn percent_encodes_everything_but_unreserved_characters() {
        let mut out = String::new();
        push_percent_encoded(&mut out, "São Paulo/a?b=c&d#e~f-g.h_i");
        assert_eq!(out, "S%C3%A3o%20Paulo%2Fa%3Fb%3Dc%26d%23e~f-g.h_i");
        let mut out = String::new();
        push_percent_encoded(&mut out, "100%+😀");
        assert_eq!(out, "100%25%2B%F0%9F%98%80");
    }
}
