use std::fmt;

use crate::common::FieldError;
use crate::text::{clip, quote};

/// Why a segment definition is refused: WHERE (a path such as `rule.all[1].count.within`,
/// empty for the document itself) and WHY, in words a backend engineer can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    /// The definition's id, when it is known and well-formed.
    pub segment: Option<String>,
    pub path: String,
    pub problem: String,
}

impl DefinitionError {
    pub fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            segment: None,
            path: path.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn in_segment(mut self, id: &str) -> Self {
        self.segment = Some(id.to_owned());
        self
    }
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.segment {
            write!(f, "segment {}: ", quote(id))?;
        }
        if self.path.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

impl std::error::Error for DefinitionError {}

/// So API handlers can answer with the same field-error shape as for events.
impl From<DefinitionError> for FieldError {
    fn from(e: DefinitionError) -> Self {
        let field = match (&e.segment, e.path.is_empty()) {
            (Some(id), true) => id.clone(),
            (Some(id), false) => format!("{id}.{}", e.path),
            (None, true) => "definition".to_owned(),
            (None, false) => e.path.clone(),
        };
        FieldError::new(field, e.problem)
    }
}

/// Builds child paths the way errors and explanations print them. A key may be
/// outside input, so it is cut to a readable length.
pub(crate) fn field(path: &str, key: &str) -> String {
    if path.is_empty() {
        clip(key).into_owned()
    } else {
        format!("{path}.{}", clip(key))
    }
}

pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_segment_path_and_problem() {
        let e = DefinitionError::new("rule.all[1].count.within", "bad").in_segment("x");
        assert_eq!(
            e.to_string(),
            "segment \"x\": rule.all[1].count.within: bad"
        );
        assert_eq!(DefinitionError::new("", "not JSON").to_string(), "not JSON");
    }

    #[test]
    fn converts_to_a_field_error() {
        let f: FieldError = DefinitionError::new("rule.not", "bad")
            .in_segment("x")
            .into();
        assert_eq!(
            (f.field.as_str(), f.problem.as_str()),
            ("x.rule.not", "bad")
        );
        let f: FieldError = DefinitionError::new("", "bad").into();
        assert_eq!(f.field, "definition");
    }
}
