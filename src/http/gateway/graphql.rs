//! A small GraphQL reader for the queries AO's clients send to an Arweave gateway.
//!
//! Not a general GraphQL engine: it reads one executable document (operations with variable
//! definitions, fields with aliases, arguments and `@skip`/`@include`, all literal kinds) and
//! refuses fragments and type-system definitions with an error that names them. Depth is bounded
//! so that hostile nesting cannot exhaust the stack.

use serde_json::{Map, Value as Json};

/// How deep selections, lists and objects may nest.
const MAX_DEPTH: usize = 32;

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

/// Parse `query`, pick the operation (`operation_name` when several), resolve its variables
/// from `variables` and drop the fields that `@skip`/`@include` exclude.
pub fn parse(
    query: &str,
    operation_name: Option<&str>,
    variables: &Map<String, Json>,
) -> Result<Vec<Field>, QueryError> {
    let document = Parser::new(query).document()?;
    let operation = select_operation(document, operation_name)?;
    if operation.kind != "query" {
        return Err(QueryError::Unsupported(format!(
            "`{}` operations (only queries are answered)",
            operation.kind
        )));
    }
    let values = bind_variables(&operation.variables, variables)?;
    resolve_selection(operation.selection, &values)
}

// ---- syntax tree before variables are bound ----

#[derive(Debug, Clone, PartialEq)]
enum RawValue {
    Variable(String),
    Literal(Json),
    List(Vec<RawValue>),
    Object(Vec<(String, RawValue)>),
}

#[derive(Debug)]
struct RawField {
    alias: Option<String>,
    name: String,
    arguments: Vec<(String, RawValue)>,
    directives: Vec<(String, Vec<(String, RawValue)>)>,
    selection: Vec<RawField>,
}

#[derive(Debug)]
struct VariableDefinition {
    name: String,
    type_text: String,
    default: Option<RawValue>,
}

#[derive(Debug)]
struct Operation {
    kind: String,
    name: Option<String>,
    variables: Vec<VariableDefinition>,
    selection: Vec<RawField>,
}

fn select_operation(
    mut operations: Vec<Operation>,
    wanted: Option<&str>,
) -> Result<Operation, QueryError> {
    match wanted {
        Some(name) => {
            let at = operations
                .iter()
                .position(|op| op.name.as_deref() == Some(name))
                .ok_or_else(|| {
                    QueryError::Invalid(format!("no operation named `{name}` in the document"))
                })?;
            Ok(operations.swap_remove(at))
        }
        None if operations.len() == 1 => Ok(operations.swap_remove(0)),
        None => Err(QueryError::Invalid(
            "the document has several operations; name one with `operationName`".into(),
        )),
    }
}

// ---- variables ----

fn bind_variables(
    definitions: &[VariableDefinition],
    given: &Map<String, Json>,
) -> Result<Map<String, Json>, QueryError> {
    let mut bound = Map::new();
    for def in definitions {
        let value = match (given.get(&def.name), &def.default) {
            (Some(v), _) => v.clone(),
            (None, Some(default)) => resolve_value(default, &Map::new())?,
            (None, None) if def.type_text.ends_with('!') => {
                return Err(QueryError::Invalid(format!(
                    "variable `${}` of type `{}` is required but was not given",
                    def.name, def.type_text
                )));
            }
            (None, None) => Json::Null,
        };
        if value.is_null() && def.type_text.ends_with('!') {
            return Err(QueryError::Invalid(format!(
                "variable `${}` of type `{}` must not be null",
                def.name, def.type_text
            )));
        }
        bound.insert(def.name.clone(), value);
    }
    Ok(bound)
}

fn resolve_value(value: &RawValue, variables: &Map<String, Json>) -> Result<Json, QueryError> {
    Ok(match value {
        RawValue::Variable(name) => variables.get(name).cloned().ok_or_else(|| {
            QueryError::Invalid(format!(
                "variable `${name}` is used but not declared by the operation"
            ))
        })?,
        RawValue::Literal(json) => json.clone(),
        RawValue::List(items) => Json::Array(
            items
                .iter()
                .map(|v| resolve_value(v, variables))
                .collect::<Result<_, _>>()?,
        ),
        RawValue::Object(fields) => {
            let mut map = Map::new();
            for (name, v) in fields {
                map.insert(name.clone(), resolve_value(v, variables)?);
            }
            Json::Object(map)
        }
    })
}

fn resolve_selection(
    fields: Vec<RawField>,
    variables: &Map<String, Json>,
) -> Result<Vec<Field>, QueryError> {
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        if !included(&field, variables)? {
            continue;
        }
        let arguments = field
            .arguments
            .iter()
            .map(|(name, v)| Ok((name.clone(), resolve_value(v, variables)?)))
            .collect::<Result<_, QueryError>>()?;
        out.push(Field {
            alias: field.alias,
            name: field.name,
            arguments,
            selection: resolve_selection(field.selection, variables)?,
        });
    }
    Ok(out)
}

/// Apply `@skip(if:)` and `@include(if:)`; any other directive is unsupported.
fn included(field: &RawField, variables: &Map<String, Json>) -> Result<bool, QueryError> {
    let mut keep = true;
    for (name, arguments) in &field.directives {
        let condition = match arguments.as_slice() {
            [(arg, value)] if arg == "if" => match resolve_value(value, variables)? {
                Json::Bool(b) => b,
                other => {
                    return Err(QueryError::Invalid(format!(
                        "`@{name}(if:)` on `{}` needs a boolean, got {other}",
                        field.name
                    )));
                }
            },
            _ => {
                return Err(QueryError::Invalid(format!(
                    "`@{name}` on `{}` takes exactly one argument, `if`",
                    field.name
                )));
            }
        };
        match name.as_str() {
            "skip" => keep &= !condition,
            "include" => keep &= condition,
            other => {
                return Err(QueryError::Unsupported(format!(
                    "directive `@{other}` (only @skip and @include)"
                )));
            }
        }
    }
    Ok(keep)
}

// ---- lexer and parser ----

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Punct(char),
    Spread,
    Name(String),
    Int(i64),
    Float(f64),
    Str(String),
    End,
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser {
            text,
            pos: 0,
            depth: 0,
        }
    }

    fn error(&self, at: usize, message: impl Into<String>) -> QueryError {
        let before = &self.text[..at.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        QueryError::Syntax {
            line,
            column,
            message: message.into(),
        }
    }

    /// Skip whitespace, commas (insignificant in GraphQL), the BOM and `#` comments.
    fn skip_ignored(&mut self) {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() {
            match bytes[self.pos] {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => self.pos += 1,
                b'#' => {
                    while self.pos < bytes.len() && bytes[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                0xEF if self.text[self.pos..].starts_with('\u{feff}') => self.pos += 3,
                _ => break,
            }
        }
    }

    /// The next token without consuming it.
    fn peek(&mut self) -> Result<Token, QueryError> {
        let save = self.pos;
        let token = self.next();
        self.pos = save;
        token
    }

    fn next(&mut self) -> Result<Token, QueryError> {
        self.skip_ignored();
        let start = self.pos;
        let rest = &self.text[self.pos..];
        let Some(c) = rest.chars().next() else {
            return Ok(Token::End);
        };
        match c {
            '!' | '$' | '(' | ')' | ':' | '=' | '@' | '[' | ']' | '{' | '|' | '}' | '&' => {
                self.pos += 1;
                Ok(Token::Punct(c))
            }
            '.' if rest.starts_with("...") => {
                self.pos += 3;
                Ok(Token::Spread)
            }
            '"' if rest.starts_with("\"\"\"") => self.block_string(start),
            '"' => self.string(start),
            '-' | '0'..='9' => self.number(start),
            c if c == '_' || c.is_ascii_alphabetic() => {
                let len = rest
                    .find(|ch: char| !(ch == '_' || ch.is_ascii_alphanumeric()))
                    .unwrap_or(rest.len());
                self.pos += len;
                Ok(Token::Name(rest[..len].to_string()))
            }
            other => Err(self.error(start, format!("unexpected character `{other}`"))),
        }
    }

    fn number(&mut self, start: usize) -> Result<Token, QueryError> {
        let rest = &self.text[start..];
        let len = rest
            .find(|ch: char| !(ch.is_ascii_digit() || matches!(ch, '-' | '+' | '.' | 'e' | 'E')))
            .unwrap_or(rest.len());
        let text = &rest[..len];
        self.pos = start + len;
        if text.contains(['.', 'e', 'E']) {
            text.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Token::Float)
                .ok_or_else(|| self.error(start, format!("bad number `{text}`")))
        } else {
            text.parse::<i64>()
                .map(Token::Int)
                .map_err(|_| self.error(start, format!("bad integer `{text}`")))
        }
    }

    fn string(&mut self, start: usize) -> Result<Token, QueryError> {
        let mut out = String::new();
        let mut chars = self.text[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + 1 + i + 1;
                    return Ok(Token::Str(out));
                }
                '\n' | '\r' => break,
                '\\' => {
                    let Some((_, escaped)) = chars.next() else {
                        break;
                    };
                    match escaped {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            let hex: String = chars.by_ref().take(4).map(|(_, h)| h).collect();
                            let decoded = u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| {
                                    self.error(start, format!("bad escape `\\u{hex}` in a string"))
                                })?;
                            out.push(decoded);
                        }
                        other => {
                            return Err(
                                self.error(start, format!("bad escape `\\{other}` in a string"))
                            );
                        }
                    }
                }
                c => out.push(c),
            }
        }
        Err(self.error(start, "unterminated string"))
    }

    fn block_string(&mut self, start: usize) -> Result<Token, QueryError> {
        let body_start = start + 3;
        let body = &self.text[body_start..];
        let mut i = 0;
        let mut raw = String::new();
        while i < body.len() {
            if body[i..].starts_with("\\\"\"\"") {
                raw.push_str("\"\"\"");
                i += 4;
            } else if body[i..].starts_with("\"\"\"") {
                self.pos = body_start + i + 3;
                return Ok(Token::Str(block_string_value(&raw)));
            } else {
                let c = body[i..].chars().next().unwrap_or('\0');
                raw.push(c);
                i += c.len_utf8();
            }
        }
        Err(self.error(start, "unterminated block string"))
    }

    fn expect(&mut self, want: char) -> Result<(), QueryError> {
        self.skip_ignored();
        let at = self.pos;
        match self.next()? {
            Token::Punct(c) if c == want => Ok(()),
            other => Err(self.error(at, format!("expected `{want}`, found {}", describe(&other)))),
        }
    }

    fn name(&mut self) -> Result<String, QueryError> {
        self.skip_ignored();
        let at = self.pos;
        match self.next()? {
            Token::Name(n) => Ok(n),
            other => Err(self.error(at, format!("expected a name, found {}", describe(&other)))),
        }
    }

    fn at_punct(&mut self, c: char) -> Result<bool, QueryError> {
        Ok(self.peek()? == Token::Punct(c))
    }

    fn enter(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::Unsupported(format!(
                "nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn document(&mut self) -> Result<Vec<Operation>, QueryError> {
        let mut operations = Vec::new();
        loop {
            self.skip_ignored();
            let at = self.pos;
            match self.peek()? {
                Token::End => break,
                Token::Punct('{') => operations.push(Operation {
                    kind: "query".into(),
                    name: None,
                    variables: Vec::new(),
                    selection: self.selection_set()?,
                }),
                Token::Name(word) => match word.as_str() {
                    "query" | "mutation" | "subscription" => {
                        operations.push(self.operation()?);
                    }
                    "fragment" => {
                        return Err(QueryError::Unsupported("fragments".into()));
                    }
                    other => {
                        return Err(QueryError::Unsupported(format!(
                            "`{other}` definitions (only query operations)"
                        )));
                    }
                },
                other => {
                    return Err(self.error(
                        at,
                        format!("expected an operation, found {}", describe(&other)),
                    ));
                }
            }
        }
        if operations.is_empty() {
            return Err(self.error(self.pos, "the document has no operation"));
        }
        Ok(operations)
    }

    fn operation(&mut self) -> Result<Operation, QueryError> {
        let kind = self.name()?;
        let name = match self.peek()? {
            Token::Name(_) => Some(self.name()?),
            _ => None,
        };
        let variables = if self.at_punct('(')? {
            self.variable_definitions()?
        } else {
            Vec::new()
        };
        if self.at_punct('@')? {
            return Err(QueryError::Unsupported("directives on operations".into()));
        }
        Ok(Operation {
            kind,
            name,
            variables,
            selection: self.selection_set()?,
        })
    }

    fn variable_definitions(&mut self) -> Result<Vec<VariableDefinition>, QueryError> {
        self.expect('(')?;
        let mut defs = Vec::new();
        while !self.at_punct(')')? {
            self.expect('$')?;
            let name = self.name()?;
            self.expect(':')?;
            let type_text = self.type_reference()?;
            let default = if self.at_punct('=')? {
                self.expect('=')?;
                Some(self.value(true)?)
            } else {
                None
            };
            defs.push(VariableDefinition {
                name,
                type_text,
                default,
            });
        }
        self.expect(')')?;
        Ok(defs)
    }

    /// A type such as `[ID!]!`, kept as text (only its outer `!` matters here).
    fn type_reference(&mut self) -> Result<String, QueryError> {
        self.enter()?;
        let mut text = if self.at_punct('[')? {
            self.expect('[')?;
            let inner = self.type_reference()?;
            self.expect(']')?;
            format!("[{inner}]")
        } else {
            self.name()?
        };
        if self.at_punct('!')? {
            self.expect('!')?;
            text.push('!');
        }
        self.depth -= 1;
        Ok(text)
    }

    fn selection_set(&mut self) -> Result<Vec<RawField>, QueryError> {
        self.enter()?;
        self.expect('{')?;
        let mut fields = Vec::new();
        loop {
            self.skip_ignored();
            let at = self.pos;
            match self.peek()? {
                Token::Punct('}') => break,
                Token::Spread => return Err(QueryError::Unsupported("fragments".into())),
                Token::Name(_) => fields.push(self.field()?),
                other => {
                    return Err(self.error(
                        at,
                        format!("expected a field or `}}`, found {}", describe(&other)),
                    ));
                }
            }
        }
        self.expect('}')?;
        if fields.is_empty() {
            return Err(self.error(self.pos, "empty selection set"));
        }
        self.depth -= 1;
        Ok(fields)
    }

    fn field(&mut self) -> Result<RawField, QueryError> {
        let first = self.name()?;
        let (alias, name) = if self.at_punct(':')? {
            self.expect(':')?;
            (Some(first), self.name()?)
        } else {
            (None, first)
        };
        let arguments = if self.at_punct('(')? {
            self.arguments()?
        } else {
            Vec::new()
        };
        let mut directives = Vec::new();
        while self.at_punct('@')? {
            self.expect('@')?;
            let directive = self.name()?;
            let args = if self.at_punct('(')? {
                self.arguments()?
            } else {
                Vec::new()
            };
            directives.push((directive, args));
        }
        let selection = if self.at_punct('{')? {
            self.selection_set()?
        } else {
            Vec::new()
        };
        Ok(RawField {
            alias,
            name,
            arguments,
            directives,
            selection,
        })
    }

    fn arguments(&mut self) -> Result<Vec<(String, RawValue)>, QueryError> {
        self.expect('(')?;
        let mut args = Vec::new();
        while !self.at_punct(')')? {
            let name = self.name()?;
            self.expect(':')?;
            args.push((name, self.value(false)?));
        }
        self.expect(')')?;
        Ok(args)
    }

    /// A value; `constant` forbids variables (defaults of variable definitions).
    fn value(&mut self, constant: bool) -> Result<RawValue, QueryError> {
        self.enter()?;
        self.skip_ignored();
        let at = self.pos;
        let value = match self.next()? {
            Token::Punct('$') if !constant => RawValue::Variable(self.name()?),
            Token::Punct('[') => {
                let mut items = Vec::new();
                while !self.at_punct(']')? {
                    items.push(self.value(constant)?);
                }
                self.expect(']')?;
                RawValue::List(items)
            }
            Token::Punct('{') => {
                let mut fields = Vec::new();
                while !self.at_punct('}')? {
                    let name = self.name()?;
                    self.expect(':')?;
                    fields.push((name, self.value(constant)?));
                }
                self.expect('}')?;
                RawValue::Object(fields)
            }
            Token::Int(i) => RawValue::Literal(Json::from(i)),
            Token::Float(f) => RawValue::Literal(Json::from(f)),
            Token::Str(s) => RawValue::Literal(Json::String(s)),
            Token::Name(n) => RawValue::Literal(match n.as_str() {
                "true" => Json::Bool(true),
                "false" => Json::Bool(false),
                "null" => Json::Null,
                // Enum values (`HEIGHT_DESC`, `EQ`) read as their names.
                _ => Json::String(n),
            }),
            other => {
                return Err(self.error(at, format!("expected a value, found {}", describe(&other))));
            }
        };
        self.depth -= 1;
        Ok(value)
    }
}

/// The value of a block string: common indentation removed, blank first/last lines dropped.
fn block_string_value(raw: &str) -> String {
    let lines: Vec<&str> = raw
        .split(['\n'])
        .map(|l| l.trim_end_matches('\r'))
        .collect();
    let indent = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    let mut out: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                l.get(indent..).unwrap_or("").to_string()
            }
        })
        .collect();
    while out.first().is_some_and(|l| l.trim().is_empty()) {
        out.remove(0);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.join("\n")
}

fn describe(token: &Token) -> String {
    match token {
        Token::Punct(c) => format!("`{c}`"),
        Token::Spread => "`...`".into(),
        Token::Name(n) => format!("`{n}`"),
        Token::Int(i) => format!("the number {i}"),
        Token::Float(f) => format!("the number {f}"),
        Token::Str(_) => "a string".into(),
        Token::End => "the end of the query".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn reads_the_aoconnect_module_query() {
        let q = "\n    query GetTransactions ($transactionIds: [ID!]!) {\n      transactions(ids: $transactionIds) {\n        edges {\n          node {\n            owner {\n              address\n            }\n            tags {\n              name\n              value\n            }\n            block {\n              id\n              height\n              timestamp\n            }\n          }\n        }\n      }\n    }";
        let fields = parse(q, None, &vars(json!({"transactionIds": ["abc"]}))).unwrap();
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].name, "transactions");
        assert_eq!(fields[0].argument("ids"), Some(&json!(["abc"])));
        let edges = &fields[0].selection[0];
        assert_eq!(edges.name, "edges");
        let node = &edges.selection[0];
        let names: Vec<&str> = node.selection.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["owner", "tags", "block"]);
    }

    #[test]
    fn reads_objects_enums_comments_and_aliases() {
        let q = r#"query GetSchedulerLocation ($owner: String!) {
            t: transactions (
              owners: [$owner]
              tags: [{ name: "Data-Protocol", values: ["ao"] }, { name: "Type", values: ["Scheduler-Location"] }]
              # Only need the most recent Scheduler-Location
              sort: HEIGHT_DESC
              first: 1
            ) { edges { node { tags { name value } } } }
        }"#;
        let fields = parse(q, None, &vars(json!({"owner": "ADDR"}))).unwrap();
        let t = &fields[0];
        assert_eq!(t.response_key(), "t");
        assert_eq!(t.argument("owners"), Some(&json!(["ADDR"])));
        assert_eq!(t.argument("sort"), Some(&json!("HEIGHT_DESC")));
        assert_eq!(t.argument("first"), Some(&json!(1)));
        assert_eq!(
            t.argument("tags"),
            Some(&json!([
                {"name": "Data-Protocol", "values": ["ao"]},
                {"name": "Type", "values": ["Scheduler-Location"]}
            ]))
        );
    }

    #[test]
    fn skip_and_include_follow_their_variables() {
        let q = "query ($a: Boolean!, $b: Boolean! = true) { x { id signature @skip(if: $a) anchor @include(if: $b) tags @skip(if: false) { name } } }";
        let fields = parse(q, None, &vars(json!({"a": true}))).unwrap();
        let names: Vec<&str> = fields[0]
            .selection
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["id", "anchor", "tags"]);
        assert!(parse("{ x @deprecated { id } }", None, &Map::new()).is_err());
    }

    #[test]
    fn strings_and_block_strings_unescape() {
        let q = r#"{ x(a: "q\"\\\u00e9\n", b: """
              line one
                indented
            """) { id } }"#;
        let fields = parse(q, None, &Map::new()).unwrap();
        assert_eq!(fields[0].argument("a"), Some(&json!("q\"\\\u{e9}\n")));
        assert_eq!(
            fields[0].argument("b"),
            Some(&json!("line one\n  indented"))
        );
    }

    #[test]
    fn operations_are_chosen_by_name() {
        let q = "query A { a { id } } query B { b { id } }";
        assert_eq!(parse(q, Some("B"), &Map::new()).unwrap()[0].name, "b");
        assert!(matches!(
            parse(q, None, &Map::new()),
            Err(QueryError::Invalid(_))
        ));
        assert!(matches!(
            parse(q, Some("C"), &Map::new()),
            Err(QueryError::Invalid(_))
        ));
    }

    #[test]
    fn unsupported_constructs_are_named() {
        let cases = [
            ("{ a { ...F } } fragment F on T { id }", "fragments"),
            ("mutation { a { id } }", "mutation"),
            ("subscription { a { id } }", "subscription"),
            ("type T { a: Int }", "`type`"),
        ];
        for (q, what) in cases {
            match parse(q, None, &Map::new()) {
                Err(QueryError::Unsupported(m)) => assert!(m.contains(what), "{q}: {m}"),
                other => panic!("{q}: {other:?}"),
            }
        }
    }

    #[test]
    fn variables_are_checked() {
        let q = "query ($ids: [ID!]!) { a(ids: $ids) { id } }";
        assert!(
            matches!(parse(q, None, &Map::new()), Err(QueryError::Invalid(m)) if m.contains("$ids"))
        );
        assert!(matches!(
            parse(q, None, &vars(json!({"ids": null}))),
            Err(QueryError::Invalid(_))
        ));
        let undeclared = "{ a(ids: $ids) { id } }";
        assert!(
            matches!(parse(undeclared, None, &Map::new()), Err(QueryError::Invalid(m)) if m.contains("not declared"))
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        for q in [
            "",
            "{",
            "{ a(",
            "{ a }}",
            "{ a(x: ) { id } }",
            "{ a(x: \"open) }",
            "{ % }",
            "{ }",
            "query (",
        ] {
            match parse(q, None, &Map::new()) {
                Err(QueryError::Syntax { line, column, .. }) => assert!(line >= 1 && column >= 1),
                other => panic!("{q:?}: {other:?}"),
            }
        }
        match parse("{\n  a(x: ?) { id } }", None, &Map::new()) {
            Err(QueryError::Syntax { line, column, .. }) => assert_eq!((line, column), (2, 8)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let q = format!(
            "{{ a(x: {}1{}) {{ id }} }}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(
            matches!(parse(&q, None, &Map::new()), Err(QueryError::Unsupported(m)) if m.contains("nesting"))
        );
        let q = format!("{}{}", "{ a ".repeat(10_000), "}".repeat(10_000));
        assert!(parse(&q, None, &Map::new()).is_err());
    }

    #[test]
    fn numbers() {
        let fields = parse("{ a(i: -12, f: 1.5e3) { id } }", None, &Map::new()).unwrap();
        assert_eq!(fields[0].argument("i"), Some(&json!(-12)));
        assert_eq!(fields[0].argument("f"), Some(&json!(1500.0)));
        assert!(parse("{ a(i: 99999999999999999999) { id } }", None, &Map::new()).is_err());
    }
}
