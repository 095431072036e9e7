//! Checks on single values of a campaign definition.

use crate::text::quote;

/// Longest campaign or button id, in bytes.
pub const MAX_CAMPAIGN_ID_BYTES: usize = 64;
/// Longest segment id, in bytes.
pub const MAX_SEGMENT_ID_BYTES: usize = 128;
/// Longest campaign name, in characters.
pub const MAX_CAMPAIGN_NAME_CHARS: usize = 200;

/// Campaign and button ids: 1 to 64 ASCII letters, digits, `_` and `-`, starting with
/// a letter or digit (`spring-sale_2025`). They travel in events and URLs as they are.
pub(super) fn check_slug(id: &str) -> Result<(), String> {
    check_id_chars(id, MAX_CAMPAIGN_ID_BYTES, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
    })
    .map_err(|problem| {
        format!("{problem}; use letters, digits, _ and -, starting with a letter or digit")
    })
}

/// Segment ids: as campaign ids, but up to 128 bytes and also allowing `.` and `:`.
pub(super) fn check_segment_id(id: &str) -> Result<(), String> {
    check_id_chars(id, MAX_SEGMENT_ID_BYTES, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
    })
    .map_err(|problem| {
        format!("{problem}; use letters, digits, _, -, . and :, starting with a letter or digit")
    })
}

fn check_id_chars(id: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<(), String> {
    if id.is_empty() {
        return Err("must not be empty".into());
    }
    if id.len() > max {
        return Err(format!("is {} bytes, over the {max}-byte limit", id.len()));
    }
    let starts_well = id.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !starts_well || !id.chars().all(allowed) {
        return Err(format!("{} is not a valid id", quote(id)));
    }
    Ok(())
}

/// A campaign's display name: not blank, bounded, no control characters.
pub(super) fn check_display_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let chars = name.chars().count();
    if chars > MAX_CAMPAIGN_NAME_CHARS {
        return Err(format!(
            "is {chars} characters, over the {MAX_CAMPAIGN_NAME_CHARS}-character limit"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// A BCP 47 style language tag: a 2–3 letter language, then subtags
/// of 1–8 letters or digits, separated by `-` (or `_`): `en`, `pt-BR`, `zh-Hant-TW`.
pub fn check_locale_tag(tag: &str) -> Result<(), String> {
    let mut subtags = tag.split(['-', '_']);
    let language = subtags.next().unwrap_or_default();
    let language_ok =
        matches!(language.len(), 2..=3) && language.chars().all(|c| c.is_ascii_alphabetic());
    let rest_ok =
        subtags.all(|s| (1..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()));
    if language_ok && rest_ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a language tag such as en, pt or pt-BR",
            quote(tag)
        ))
    }
}

/// A currency code as written in campaigns: three upper-case letters.
pub fn check_currency(code: &str) -> Result<(), String> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a three-letter ISO 4217 code such as EUR",
            quote(code)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaign_ids_are_slugs() {
        for ok in [
            "a",
            "spring-sale_2025",
            "A1",
            &"x".repeat(MAX_CAMPAIGN_ID_BYTES),
        ] {
            assert_eq!(check_slug(ok), Ok(()), "{ok}");
        }
        for bad in ["", "-a", "_a", "a b", "a.b", "a/b", "é", "a\n"] {
            assert!(check_slug(bad).is_err(), "{bad}");
        }
        assert!(check_slug(&"x".repeat(MAX_CAMPAIGN_ID_BYTES + 1))
            .unwrap_err()
            .contains("64-byte limit"));
        assert_eq!(
            check_slug("a b").unwrap_err(),
            "\"a b\" is not a valid id; use letters, digits, _ and -, starting with a letter or digit"
        );
    }

    #[test]
    fn segment_ids_also_allow_dots_and_colons() {
        for ok in ["cart_abandoner", "rfm:champions", "v2.high-value"] {
            assert_eq!(check_segment_id(ok), Ok(()), "{ok}");
        }
        for bad in ["", ":x", "a b", "a/b"] {
            assert!(check_segment_id(bad).is_err(), "{bad}");
        }
        assert!(check_segment_id(&"s".repeat(MAX_SEGMENT_ID_BYTES + 1)).is_err());
    }

    #[test]
    fn names_are_bounded_text() {
        assert_eq!(check_display_name("Free shipping nudge 🚚"), Ok(()));
        assert_eq!(check_display_name(" ").unwrap_err(), "must not be empty");
        assert!(check_display_name("a\tb").is_err());
        assert!(check_display_name(&"n".repeat(MAX_CAMPAIGN_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn locale_tags() {
        for ok in [
            "en",
            "pt-BR",
            "pt_BR",
            "zh-Hant-TW",
            "es-419",
            "fil",
            "de-CH-1996",
        ] {
            assert_eq!(check_locale_tag(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "e",
            "english1",
            "pt-",
            "pt--BR",
            "pt-BR!",
            "1en",
            "pt-verylongsubtag",
            "engl",
        ] {
            assert!(check_locale_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn currency_codes() {
        assert_eq!(check_currency("EUR"), Ok(()));
        for bad in ["eur", "EURO", "E1R", ""] {
            assert!(check_currency(bad).is_err(), "{bad}");
        }
    }
}
