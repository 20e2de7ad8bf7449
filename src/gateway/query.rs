//! The query model the executor works on: the selected operation's fields, with variables
//! already bound and `@skip`/`@include` applied, and the errors a query can meet.

use serde_json::Value as Json;

/// Why a query cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The text is not GraphQL (or not the executable part of it).
    #[error("malformed GraphQL at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column (characters).
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// Valid GraphQL, outside what this gateway answers.
    #[error("unsupported query: {0}")]
    Unsupported(String),
    /// Valid GraphQL with wrong inputs (a missing variable, an argument of the wrong type).
    #[error("invalid query: {0}")]
    Invalid(String),
}

impl QueryError {
    /// A syntax error at byte offset `at` of `text`, located by line and column.
    pub fn syntax_at(text: &str, at: usize, message: impl Into<String>) -> QueryError {
        let mut at = at.min(text.len());
        // An offset inside a character (never from the parser, but cheap to guard) moves back.
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        QueryError::Syntax {
            line,
            column,
            message: message.into(),
        }
    }
}

/// A value in a query, with variables already replaced by their JSON values.
pub type Value = Json;

/// One field of a selection set.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The response key's alias, when given.
    pub alias: Option<String>,
    /// The field name.
    pub name: String,
    /// Arguments in query order, variables resolved.
    pub arguments: Vec<(String, Value)>,
    /// The sub-selection (empty for a scalar field).
    pub selection: Vec<Field>,
}

impl Field {
    /// The key this field has in the response: the alias, else the name.
    pub fn response_key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    /// An argument by name.
    pub fn argument(&self, name: &str) -> Option<&Value> {
        self.arguments
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "{\n  é(x: ?) }";
        let at = text.find('?').unwrap();
        assert_eq!(
            QueryError::syntax_at(text, at, "m"),
            QueryError::Syntax {
                line: 2,
                column: 8,
                message: "m".into()
            }
        );
        assert!(matches!(
            QueryError::syntax_at(text, 10_000, "end"),
            QueryError::Syntax { line: 2, .. }
        ));
        // Inside the two bytes of `é`: moved back to its start.
        let inside = text.find('é').unwrap() + 1;
        assert!(matches!(
            QueryError::syntax_at(text, inside, "m"),
            QueryError::Syntax {
                line: 2,
                column: 3,
                ..
            }
        ));
    }
}
