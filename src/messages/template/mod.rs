//! Message templates: `Hi {{first_name | there}}, add {{free_shipping_remaining}} more
//! for free shipping`.
//!
//! Shared by the device and the server (in-app messages now, server-sent pushes
//! later), so both render the same text from the same data.
//!
//! * `{{ field }}` inserts a field; whitespace inside the braces is ignored.
//! * `{{ field | fallback }}` gives a literal fallback for when the value is missing.
//!   The fallback is trimmed; wrap it in double quotes to keep spaces or to give an
//!   empty fallback (`{{first_name | ""}}`). It is template text, trusted like the
//!   rest of the template (not escaped in HTML output).
//! * `{{{{` is a literal `{{`, `}}}}` a literal `}}`. A lone `{` or `}` is text.
//! * Fields are the closed set in [`Field`]; custom traits are `trait.<key>`.
//!
//! Values are inserted as text and never parsed again, so user data cannot add fields,
//! (in [`OutputMode::Html`]) markup or (in [`OutputMode::Url`]) parts of a link.

mod escape;
mod field;
mod parse;
mod render;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use escape::MAX_VALUE_CHARS;
pub use field::{Field, FieldType, TRAIT_PREFIX};
pub use render::{OutputMode, RenderContext, Rendered};

/// Longest template source, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 4096;

/// A parsed template. It keeps its source text, which is what it serializes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Literal(String),
    Field {
        field: Field,
        fallback: Option<String>,
    },
}

impl Template {
    /// Parses template text, rejecting unknown fields, unclosed or stray braces and
    /// empty field names, with the line and column of the problem.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        Ok(Template {
            source: text.to_owned(),
            parts: parse::parse(text)?,
        })
    }

    /// The text the template was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The fields the template uses, in order of appearance (repeats included).
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field { field, .. } => Some(field),
            Part::Literal(_) => None,
        })
    }

    /// Whether the template has no literal text and no fields (or only whitespace).
    pub fn is_blank(&self) -> bool {
        self.source.trim().is_empty()
    }
}

impl FromStr for Template {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Template::parse(s)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Template::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Why template text was rejected, and where (1-based line and column, counted in
/// characters, of the `{{` that opens the faulty field or of the faulty character).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct TemplateError {
    pub line: usize,
    pub column: usize,
    pub kind: TemplateErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateErrorKind {
    /// The field name is not in the closed set.
    UnknownField {
        snippet: String,
        name: String,
        suggestion: Option<String>,
    },
    /// `{{ }}` or `{{ | fallback }}`.
    EmptyField {
        snippet: String,
    },
    /// `trait.` with no key, or a key with characters outside `[A-Za-z0-9_.-]`.
    BadTraitKey {
        snippet: String,
        reason: &'static str,
    },
    /// A `{` or `}` inside a field name, as in `{{{first_name}}}`.
    Brace {
        snippet: String,
    },
    /// A `{{` without its `}}`.
    Unclosed(Unclosed),
    /// A `}}` that closes no field.
    StrayClose,
    /// A control character other than a line break or tab.
    ControlCharacter(char),
    TooLong {
        chars: usize,
        max: usize,
    },
}

/// What came before the `}}` an open field needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unclosed {
    BeforeEndOfText,
    BeforeEndOfLine,
    BeforeNextField { line: usize, column: usize },
}

impl TemplateError {
    fn message(&self) -> String {
        let at = at(self.line, self.column);
        match &self.kind {
            TemplateErrorKind::UnknownField {
                snippet,
                suggestion,
                ..
            } => match suggestion {
                Some(s) => format!("\"{snippet}\" {at} is not a known field; did you mean {s}?"),
                None => format!(
                    "\"{snippet}\" {at} is not a known field; known fields are {} and {TRAIT_PREFIX}<key>",
                    Field::NAMED.map(|f| f.name()).join(", ")
                ),
            },
            TemplateErrorKind::EmptyField { snippet } => {
                format!("\"{snippet}\" {at} has no field name")
            }
            TemplateErrorKind::BadTraitKey { snippet, reason } => {
                format!("\"{snippet}\" {at} {reason}")
            }
            TemplateErrorKind::Brace { snippet } => format!(
                "\"{snippet}\" {at} has a brace inside the field name; write {{{{{{{{ for a literal {{{{"
            ),
            TemplateErrorKind::Unclosed(until) => {
                let until = match until {
                    Unclosed::BeforeEndOfText => "the end of the text".to_owned(),
                    Unclosed::BeforeEndOfLine => "the end of its line".to_owned(),
                    Unclosed::BeforeNextField { line, column } => {
                        format!("the next \"{{{{\" {}", self::at(*line, *column))
                    }
                };
                format!("\"{{{{\" {at} is not closed with \"}}}}\" before {until}")
            }
            TemplateErrorKind::StrayClose => format!(
                "\"}}}}\" {at} closes no field; write }}}}}}}} for a literal }}}}"
            ),
            TemplateErrorKind::ControlCharacter(c) => format!(
                "control character U+{:04X} {at} is not allowed",
                u32::from(*c)
            ),
            TemplateErrorKind::TooLong { chars, max } => {
                format!("template is {chars} characters, over the {max}-character limit")
            }
        }
    }
}

fn at(line: usize, column: usize) -> String {
    if line == 1 {
        format!("at column {column}")
    } else {
        format!("at line {line}, column {column}")
    }
}

#[cfg(test)]
mod tests;
