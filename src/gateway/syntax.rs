//! The document as read, before an operation is chosen and its variables bound: what
//! [`parser`](super::parser) builds from apollo-parser's syntax tree and [`bind`](super::bind)
//! turns into [`Field`](super::Field)s.

use serde_json::Value as Json;

/// A value as written: a variable, a literal, or a list or object of values.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    /// `$name`.
    Variable(String),
    /// A scalar literal (`1`, `"s"`, `true`, `null`, an enum value as its name).
    Literal(Json),
    /// `[a, b]`.
    List(Vec<RawValue>),
    /// `{name: value}`, in query order.
    Object(Vec<(String, RawValue)>),
}

/// Arguments or object fields, in query order.
pub type RawArguments = Vec<(String, RawValue)>;

/// A field as written, with its directives still to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct RawField {
    /// The alias, when given.
    pub alias: Option<String>,
    /// The field name.
    pub name: String,
    /// The arguments.
    pub arguments: RawArguments,
    /// `@name(arguments)` in query order.
    pub directives: Vec<(String, RawArguments)>,
    /// The sub-selection (empty for a scalar field).
    pub selection: Vec<RawField>,
}

/// `$name: Type = default` of an operation.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableDefinition {
    /// The name, without `$`.
    pub name: String,
    /// The type as text, such as `[ID!]!` (only its outer `!` matters here).
    pub type_text: String,
    /// The default value, when given.
    pub default: Option<RawValue>,
}

/// One operation of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// `query`, `mutation` or `subscription` (`query` for the `{ ... }` shorthand).
    pub kind: String,
    /// The operation's name, when given.
    pub name: Option<String>,
    /// Its variable definitions.
    pub variables: Vec<VariableDefinition>,
    /// Its selection set.
    pub selection: Vec<RawField>,
}
