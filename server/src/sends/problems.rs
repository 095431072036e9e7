//! Collecting every problem of a send request, each with the path it was found at, so
//! one answer lists them all.

use beckon::common::FieldError;

#[derive(Debug, Default)]
pub(super) struct Problems(Vec<FieldError>);

impl Problems {
    pub(super) fn add(&mut self, path: &str, problem: impl Into<String>) {
        self.0.push(FieldError::new(path, problem));
    }

    /// Records the problem, if any; whether there was none.
    pub(super) fn check(&mut self, path: &str, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => true,
            Err(problem) => {
                self.add(path, problem);
                false
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn into_errors(self) -> Vec<FieldError> {
        self.0
    }

    #[cfg(test)]
    pub(super) fn into_messages(self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}
