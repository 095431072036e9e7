//! Choosing which locale variant of a message a user sees.
//!
//! The rule, in order (tags compared case-insensitively, `_` read as `-`, and a POSIX
//! suffix such as `.UTF-8` or `@euro` ignored):
//!
//! 1. the user's tag exactly (`pt-BR`);
//! 2. the tag with its last subtag dropped, repeatedly (`zh-Hant-TW` → `zh-Hant` → `zh`);
//! 3. if exactly one available variant has the user's language, that one (a `pt` or
//!    `pt-BR` user gets `pt-PT` when it is the only Portuguese); with several (`pt-PT`
//!    and `pt-AO`) the choice is ambiguous, so add a plain `pt` variant to say which;
//! 4. the default.
//!
//! The old language codes Java still reports on some Android versions are read as
//! their current ones: `iw` → `he`, `in` → `id`, `ji` → `yi`.
//!
//! The result is spelled as in `available` (so it can index the variants), or is
//! `default` as given when nothing else matched.

/// Picks the variant for `user_locale` among `available`, falling back to `default`.
pub fn choose_locale(available: &[String], user_locale: &str, default: &str) -> String {
    let spelled = |tag: &str| available.iter().find(|a| normalize(a) == tag).cloned();
    let wanted = normalize(user_locale);
    if !wanted.is_empty() {
        let mut tag = wanted.as_str();
        loop {
            if let Some(hit) = spelled(tag) {
                return hit;
            }
            match tag.rfind('-') {
                Some(cut) => tag = &tag[..cut],
                None => break,
            }
        }
        let language = primary(&wanted);
        let mut same_language: Vec<String> = available
            .iter()
            .map(|a| normalize(a))
            .filter(|a| primary(a) == language)
            .collect();
        same_language.sort();
        same_language.dedup();
        if let [only] = same_language.as_slice() {
            return spelled(only).expect("taken from available");
        }
    }
    spelled(&normalize(default)).unwrap_or_else(|| default.to_owned())
}

/// Lower case, `-` separated, no POSIX encoding or modifier, legacy codes replaced.
/// `C` and `POSIX` (no locale) become empty.
pub fn normalize(tag: &str) -> String {
    let tag = tag.trim();
    let tag = tag.split(['.', '@']).next().unwrap_or_default();
    let mut subtags = tag
        .split(['-', '_'])
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase);
    let Some(language) = subtags.next() else {
        return String::new();
    };
    let language = match language.as_str() {
        "c" | "posix" => return String::new(),
        "iw" => "he".to_owned(),
        "in" => "id".to_owned(),
        "ji" => "yi".to_owned(),
        _ => language,
    };
    std::iter::once(language)
        .chain(subtags)
        .collect::<Vec<_>>()
        .join("-")
}

fn primary(normalized: &str) -> &str {
    normalized.split('-').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fallback_table() {
        let cases: &[(&[&str], &str, &str)] = &[
            // available, user, expected (default is always "en")
            (&["en", "pt-BR", "pt"], "pt-BR", "pt-BR"),
            (&["en", "pt-BR", "pt"], "pt_BR", "pt-BR"),
            (&["en", "pt-BR", "pt"], "PT-br", "pt-BR"),
            (&["en", "pt-BR", "pt"], "pt-PT", "pt"),
            (&["en", "pt"], "pt-BR", "pt"),
            (&["en", "pt-PT"], "pt", "pt-PT"),
            (&["en", "pt-PT"], "pt-BR", "pt-PT"),
            (&["en", "pt-PT", "pt-AO"], "pt-BR", "en"),
            (&["en", "pt-PT", "pt-AO", "pt"], "pt-BR", "pt"),
            (&["en", "pt-BR"], "es", "en"),
            (&["en", "zh-Hant", "zh-Hans"], "zh-Hant-TW", "zh-Hant"),
            (&["en", "de"], "de_DE.UTF-8", "de"),
            (&["en", "sr-Latn"], "sr_RS@latin", "sr-Latn"),
            (&["en", "he"], "iw_IL", "he"),
            (&["en", "id"], "in", "id"),
            (&["en", "fr"], "", "en"),
            (&["en", "fr"], "  ", "en"),
            (&["en", "fr"], "C", "en"),
            (&["en", "fr"], "POSIX", "en"),
            (&["en", "fr"], "-_-", "en"),
            (&["en-US", "fr"], "en", "en-US"),
            (&["EN", "fr"], "de", "EN"),
        ];
        for (available, user, expected) in cases {
            assert_eq!(
                choose_locale(&tags(available), user, "en"),
                *expected,
                "{user} in {available:?}"
            );
        }
    }

    #[test]
    fn returns_the_available_spelling() {
        assert_eq!(
            choose_locale(&tags(&["pt_BR", "en"]), "pt-br", "en"),
            "pt_BR"
        );
        assert_eq!(
            choose_locale(&tags(&["Pt-Br", "en"]), "pt-BR", "en"),
            "Pt-Br"
        );
    }

    #[test]
    fn the_default_is_returned_even_when_not_available() {
        assert_eq!(choose_locale(&[], "pt-BR", "en"), "en");
        assert_eq!(choose_locale(&tags(&["fr"]), "de", "en"), "en");
    }

    #[test]
    fn the_same_variant_spelled_twice_is_not_ambiguous() {
        assert_eq!(
            choose_locale(&tags(&["en", "pt-PT", "pt_pt"]), "pt", "en"),
            "pt-PT"
        );
    }

    #[test]
    fn normalizes_tags() {
        assert_eq!(normalize(" pt_BR.UTF-8 "), "pt-br");
        assert_eq!(normalize("zh-Hant-TW"), "zh-hant-tw");
        assert_eq!(normalize("iw"), "he");
        assert_eq!(normalize("ji-YI"), "yi-yi");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("en--US"), "en-us");
    }
}
