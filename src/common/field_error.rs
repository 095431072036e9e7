//! The one error shape for refused input: which field, and what is wrong with it.

/// Why a value is refused: the field it was in (a dotted path such as
/// `properties.colour`) and the problem, in words an app developer can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}
