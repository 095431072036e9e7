//! Parsing template text into literal parts and fields.
//!
//! `{{ name }}` or `{{ name | fallback }}` inserts a field; `{{{{` and `}}}}` are a
//! literal `{{` and `}}`. A single `{` or `}` is ordinary text; a `}}` that closes no
//! field is an error, since it is almost always a mistyped field.

use super::field::{Field, NameProblem};
use super::{Part, TemplateError, TemplateErrorKind, Unclosed, MAX_TEMPLATE_CHARS};
use crate::text::clip;

pub(super) fn parse(text: &str) -> Result<Vec<Part>, TemplateError> {
    let chars = text.chars().count();
    if chars > MAX_TEMPLATE_CHARS {
        return Err(error(
            text,
            0,
            TemplateErrorKind::TooLong {
                chars,
                max: MAX_TEMPLATE_CHARS,
            },
        ));
    }
    if let Some((at, c)) = text
        .char_indices()
        .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(error(text, at, TemplateErrorKind::ControlCharacter(c)));
    }

    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with("{{{{") {
            literal.push_str("{{");
            i += 4;
        } else if rest.starts_with("}}}}") {
            literal.push_str("}}");
            i += 4;
        } else if rest.starts_with("}}") {
            return Err(error(text, i, TemplateErrorKind::StrayClose));
        } else if rest.starts_with("{{") {
            let close = find_close(text, i)?;
            let field = parse_field(text, i, close)?;
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(field);
            i = close + 2;
        } else {
            let c = rest.chars().next().expect("i is inside the text");
            literal.push(c);
            i += c.len_utf8();
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(parts)
}

/// Byte index of the `}}` closing the field opened at `open`. A field must close on
/// its own line and before the next `{{`.
fn find_close(text: &str, open: usize) -> Result<usize, TemplateError> {
    let mut j = open + 2;
    while j < text.len() {
        let rest = &text[j..];
        if rest.starts_with("}}") {
            return Ok(j);
        }
        if rest.starts_with("{{") {
            let (line, column) = position(text, j);
            return Err(error(
                text,
                open,
                TemplateErrorKind::Unclosed(Unclosed::BeforeNextField { line, column }),
            ));
        }
        let c = rest.chars().next().expect("j is inside the text");
        if c == '\n' {
            return Err(error(
                text,
                open,
                TemplateErrorKind::Unclosed(Unclosed::BeforeEndOfLine),
            ));
        }
        j += c.len_utf8();
    }
    Err(error(
        text,
        open,
        TemplateErrorKind::Unclosed(Unclosed::BeforeEndOfText),
    ))
}

/// The field between `{{` at `open` and `}}` at `close`.
fn parse_field(text: &str, open: usize, close: usize) -> Result<Part, TemplateError> {
    let body = &text[open + 2..close];
    let (name, fallback) = match body.split_once('|') {
        Some((name, fallback)) => (name.trim(), Some(unquote(fallback.trim()))),
        None => (body.trim(), None),
    };
    let snippet = snippet(&text[open..close + 2]);
    let fail = |kind| Err(error(text, open, kind));
    if name.contains(['{', '}']) {
        return fail(TemplateErrorKind::Brace { snippet });
    }
    match Field::parse_name(name) {
        Ok(field) => Ok(Part::Field {
            field,
            fallback: fallback.map(str::to_owned),
        }),
        Err(NameProblem::Empty) => fail(TemplateErrorKind::EmptyField { snippet }),
        Err(NameProblem::Unknown { suggestion }) => fail(TemplateErrorKind::UnknownField {
            snippet,
            name: name.to_owned(),
            suggestion,
        }),
        Err(NameProblem::BadTraitKey(reason)) => {
            fail(TemplateErrorKind::BadTraitKey { snippet, reason })
        }
    }
}

/// A fallback in double quotes keeps its inner text exactly, spaces included:
/// `{{first_name | " "}}`.
fn unquote(fallback: &str) -> &str {
    fallback
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or(fallback)
}

/// The source of a field as shown in errors, shortened if very long.
fn snippet(source: &str) -> String {
    clip(source).into_owned()
}

/// 1-based line and column (in characters) of byte index `at`.
fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn error(text: &str, at: usize, kind: TemplateErrorKind) -> TemplateError {
    let (line, column) = position(text, at);
    TemplateError { line, column, kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_positions_in_characters_and_lines() {
        assert_eq!(position("abc", 0), (1, 1));
        assert_eq!(position("abc", 2), (1, 3));
        assert_eq!(position("ab\ncd", 3), (2, 1));
        assert_eq!(position("ab\ncd", 4), (2, 2));
        assert_eq!(position("é{{", 2), (1, 2));
    }

    #[test]
    fn unquotes_fallbacks() {
        assert_eq!(unquote("\" \""), " ");
        assert_eq!(unquote("\"\""), "");
        assert_eq!(unquote("\"half"), "\"half");
        assert_eq!(unquote("friend"), "friend");
        assert_eq!(unquote("\""), "\"");
    }

    #[test]
    fn shortens_long_snippets() {
        let long = format!("{{{{{}}}}}", "x".repeat(1000));
        let s = snippet(&long);
        assert_eq!(s.chars().count(), crate::text::quote::MAX_QUOTED_CHARS + 1);
        assert!(s.ends_with('…'));
    }
}
