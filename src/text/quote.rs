//! Showing outside input in error messages. An error names what was wrong with a
//! value, and showing the value helps, but only so much of it: a 1 MB route pattern
//! or a push field full of padding must not become a 1 MB error message in the app's
//! logs and crash reports. Every error that echoes input goes through here.

use std::borrow::Cow;

/// Most characters of an outside value an error message shows.
pub const MAX_QUOTED_CHARS: usize = 80;

/// `text` as an error message shows it: in double quotes, cut after
/// [`MAX_QUOTED_CHARS`] characters with an ellipsis, with quotes, backslashes and
/// control characters escaped so the message stays on one line and reads unambiguously.
pub fn quote(text: &str) -> String {
    format!("{:?}", clip(text))
}

/// `text` cut after [`MAX_QUOTED_CHARS`] characters with an ellipsis, unquoted: for a
/// key inside a field's path (`traits.<key>`) or a token such as a scheme.
pub fn clip(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
    }
}

/// The longest run of a parser's own words between two quoted spans (`, expected u64
/// at line 1 column 9`); a longer one is input that a quote inside it split off.
const MAX_UNQUOTED_CHARS: usize = 2 * MAX_QUOTED_CHARS;
/// The longest message [`clip_quoted_spans`] gives: input full of quotes is cut into
/// as many short spans, which together would be as long as it.
const MAX_CLIPPED_CHARS: usize = 6 * MAX_QUOTED_CHARS;

/// A message from a parser (serde's `invalid type: string "…"`, `unknown field
/// `…``) with every quoted span in it cut as [`clip`] cuts: those spans are the
/// input, and the parser quotes it whole.
pub fn clip_quoted_spans(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4 * MAX_QUOTED_CHARS));
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let delimiter = rest[open..].chars().next().unwrap_or('"');
        out.push_str(&clip_to(&rest[..open], MAX_UNQUOTED_CHARS));
        out.push(delimiter);
        let inside = &rest[open + 1..];
        let Some(close) = closing(inside, delimiter) else {
            // An unclosed quote runs to the end: cut it all the same.
            out.push_str(&clip(inside));
            return clip_to(&out, MAX_CLIPPED_CHARS).into_owned();
        };
        out.push_str(&clip(&inside[..close]));
        out.push(delimiter);
        rest = &inside[close + 1..];
        if out.chars().count() > MAX_CLIPPED_CHARS {
            break;
        }
    }
    out.push_str(&clip_to(rest, MAX_UNQUOTED_CHARS));
    clip_to(&out, MAX_CLIPPED_CHARS).into_owned()
}

/// Where a span opened with `delimiter` closes in `inside`. A `"` span is written the
/// way `{:?}` writes a string (serde's `string "…"`): a backslash escapes the next
/// character, so `\"` is inside it. A `` ` `` span is the input as it is: a backtick
/// in it closes it early, and what follows is cut as a parser's own words would be.
fn closing(inside: &str, delimiter: char) -> Option<usize> {
    let mut escaped = false;
    for (at, c) in inside.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if delimiter == '"' => escaped = true,
            c if c == delimiter => return Some(at),
            _ => {}
        }
    }
    None
}

fn clip_to(text: &str, max_chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_quoted_whole() {
        assert_eq!(quote("shop://cart"), "\"shop://cart\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("café"), "\"café\"");
        let exact = "x".repeat(MAX_QUOTED_CHARS);
        assert_eq!(quote(&exact), format!("\"{exact}\""));
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let long = "é".repeat(1_000_000);
        let quoted = quote(&long);
        assert_eq!(quoted.chars().count(), MAX_QUOTED_CHARS + 3);
        assert!(quoted.ends_with("…\""), "{quoted}");
        assert_eq!(
            clip(&long).chars().count(),
            MAX_QUOTED_CHARS + 1,
            "cut on a character, never inside one"
        );
        assert!(matches!(clip("short"), Cow::Borrowed("short")));
    }

    #[test]
    fn quotes_and_control_characters_cannot_break_the_message() {
        assert_eq!(quote("a\"b"), r#""a\"b""#);
        assert_eq!(quote("line\nbreak"), r#""line\nbreak""#);
        assert_eq!(quote("back\\slash"), r#""back\\slash""#);
    }

    #[test]
    fn a_parsers_quoted_spans_are_cut_and_the_rest_kept() {
        let long = "y".repeat(5_000);
        let message = format!("invalid type: string \"{long}\", expected u32 at line 1 column 9");
        let cut = clip_quoted_spans(&message);
        assert!(cut.starts_with("invalid type: string \"yyy"), "{cut}");
        assert!(
            cut.ends_with("…\", expected u32 at line 1 column 9"),
            "{cut}"
        );
        assert!(cut.len() < 200, "{cut}");
        let field = format!("unknown field `{long}`, expected `v` or `message_id`");
        let cut = clip_quoted_spans(&field);
        assert!(cut.ends_with("…`, expected `v` or `message_id`"), "{cut}");
        assert_eq!(clip_quoted_spans("no quotes"), "no quotes");
        assert_eq!(
            clip_quoted_spans("missing field `id`"),
            "missing field `id`"
        );
        let escaped = format!(r#"invalid type: string "{long}\",{long}\"{long}", expected u64"#);
        let cut = clip_quoted_spans(&escaped);
        assert!(cut.ends_with("…\", expected u64"), "{cut}");
        assert!(cut.len() < 200, "an escaped quote ends no span: {cut}");
        let split = format!("unknown field `x`{long}`y`, expected `state` or `source`");
        let cut = clip_quoted_spans(&split);
        assert!(cut.starts_with("unknown field `x`yyy"), "{cut}");
        assert!(cut.ends_with("`y`, expected `state` or `source`"), "{cut}");
        assert!(
            cut.len() < 400,
            "a backtick in the input splits no run off: {cut}"
        );
        let many = format!("unknown field `{}`, expected `state`", "k`".repeat(5_000));
        let cut = clip_quoted_spans(&many);
        assert!(cut.starts_with("unknown field `k`k`"), "{cut}");
        assert!(
            cut.chars().count() <= MAX_CLIPPED_CHARS + 1,
            "many quotes: {cut}"
        );
        let unclosed = clip_quoted_spans(&format!("oops \"{long}"));
        assert!(
            unclosed.ends_with('…') && unclosed.len() < 200,
            "{unclosed}"
        );
    }
}
