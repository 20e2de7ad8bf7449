//! Reading a GraphQL document with apollo-parser (a maintained, spec-following parser with
//! recursion and token limits) into the [`syntax`](super::syntax) the gateway understands.
//!
//! The accepted subset is one executable document of operations: variable definitions, fields
//! with aliases, arguments and directives, and every literal kind. Fragments, directives on
//! operations or variables, and type-system definitions are refused with an error that names
//! them. Depth is bounded twice: apollo-parser's recursion limit keeps hostile nesting from
//! exhausting the stack while parsing, and this reader counts the levels (selection sets,
//! values, list types) the way the gateway always has, refusing more than [`MAX_DEPTH`].

use apollo_parser::cst::{self, CstNode};
use serde_json::Value as Json;

use super::query::QueryError;
use super::syntax::{Operation, RawArguments, RawField, RawValue, VariableDefinition};

/// How deep selections, lists and objects may nest.
pub const MAX_DEPTH: usize = 32;

/// apollo-parser's own recursion limit. Its count (selection sets, list and object values, list
/// types) never exceeds the gateway's [`MAX_DEPTH`] count, so this only trips for documents
/// that would be refused anyway, and it stops them before they go deep into the parser.
const RECURSION_LIMIT: usize = 2 * MAX_DEPTH;

/// Most tokens in one document: AO's queries have about a hundred; a body of up to a MiB of
/// tiny tokens is refused before it becomes a large syntax tree.
pub const TOKEN_LIMIT: usize = 20_000;

/// Read `text` into its operations, or say why it is not in the subset.
pub fn read(text: &str) -> Result<Vec<Operation>, QueryError> {
    let tree = apollo_parser::Parser::new(text)
        .recursion_limit(RECURSION_LIMIT)
        .token_limit(TOKEN_LIMIT)
        .parse();
    // Report the first problem in the text, as a reader going left to right meets it.
    if let Some(error) = tree.errors().min_by_key(|e| e.index()) {
        return Err(if error.is_limit() {
            limit_error(tree.recursion_limit().high > RECURSION_LIMIT)
        } else {
            syntax_error(text, error)
        });
    }
    let reader = Reader { text };
    let mut operations = Vec::new();
    for definition in tree.document().definitions() {
        match definition {
            cst::Definition::OperationDefinition(op) => operations.push(reader.operation(&op)?),
            cst::Definition::FragmentDefinition(_) => {
                return Err(QueryError::Unsupported("fragments".into()));
            }
            other => {
                return Err(QueryError::Unsupported(format!(
                    "`{}` definitions (only query operations)",
                    type_system_keyword(&other)
                )));
            }
        }
    }
    if operations.is_empty() {
        return Err(QueryError::syntax_at(
            text,
            text.len(),
            "the document has no operation",
        ));
    }
    Ok(operations)
}

fn limit_error(recursion: bool) -> QueryError {
    QueryError::Unsupported(if recursion {
        format!("nesting deeper than {MAX_DEPTH} levels")
    } else {
        format!("documents of more than {TOKEN_LIMIT} tokens")
    })
}

/// apollo-parser's message, with the text it was found at.
fn syntax_error(text: &str, error: &apollo_parser::Error) -> QueryError {
    let found = if error.is_eof() || error.data().is_empty() {
        "the end of the query".to_string()
    } else {
        format!("`{}`", error.data())
    };
    let message = format!("{}, found {found}", error.message());
    QueryError::syntax_at(text, error.index(), message)
}

/// The keyword that starts a type-system definition or extension.
fn type_system_keyword(definition: &cst::Definition) -> &'static str {
    use cst::Definition as D;
    match definition {
        D::OperationDefinition(_) | D::FragmentDefinition(_) => "executable",
        D::SchemaDefinition(_) => "schema",
        D::ScalarTypeDefinition(_) => "scalar",
        D::ObjectTypeDefinition(_) => "type",
        D::InterfaceTypeDefinition(_) => "interface",
        D::UnionTypeDefinition(_) => "union",
        D::EnumTypeDefinition(_) => "enum",
        D::InputObjectTypeDefinition(_) => "input",
        D::DirectiveDefinition(_) => "directive",
        D::SchemaExtension(_)
        | D::ScalarTypeExtension(_)
        | D::ObjectTypeExtension(_)
        | D::InterfaceTypeExtension(_)
        | D::UnionTypeExtension(_)
        | D::EnumTypeExtension(_)
        | D::InputObjectTypeExtension(_) => "extend",
    }
}

/// Walks an error-free syntax tree. The tree's nodes are all present then, but each is still
/// an `Option` in apollo-parser's API: a missing one is reported, never unwrapped.
struct Reader<'a> {
    text: &'a str,
}

impl Reader<'_> {
    fn at(&self, node: &impl CstNode, message: &str) -> QueryError {
        let start = usize::from(node.syntax().text_range().start());
        QueryError::syntax_at(self.text, start, message)
    }

    fn name(&self, node: &impl CstNode, name: Option<cst::Name>) -> Result<String, QueryError> {
        name.map(|n| n.text().to_string())
            .ok_or_else(|| self.at(node, "expected a name"))
    }

    /// One level deeper, or the nesting error past [`MAX_DEPTH`].
    fn enter(depth: usize) -> Result<usize, QueryError> {
        if depth >= MAX_DEPTH {
            return Err(limit_error(true));
        }
        Ok(depth + 1)
    }

    fn operation(&self, op: &cst::OperationDefinition) -> Result<Operation, QueryError> {
        let kind = match op.operation_type() {
            None => "query",
            Some(t) if t.mutation_token().is_some() => "mutation",
            Some(t) if t.subscription_token().is_some() => "subscription",
            Some(_) => "query",
        };
        let name = op.name().map(|n| n.text().to_string());
        let variables = match op.variable_definitions() {
            Some(defs) => defs
                .variable_definitions()
                .map(|def| self.variable_definition(&def))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        if op.directives().is_some() {
            return Err(QueryError::Unsupported("directives on operations".into()));
        }
        let selection = op
            .selection_set()
            .ok_or_else(|| self.at(op, "expected a selection set"))?;
        Ok(Operation {
            kind: kind.to_string(),
            name,
            variables,
            selection: self.selection_set(&selection, 0)?,
        })
    }

    fn variable_definition(
        &self,
        def: &cst::VariableDefinition,
    ) -> Result<VariableDefinition, QueryError> {
        let name = match def.variable() {
            Some(v) => self.name(&v, v.name())?,
            None => return Err(self.at(def, "expected a variable")),
        };
        if def.directives().is_some() {
            return Err(QueryError::Unsupported(
                "directives on variable definitions".into(),
            ));
        }
        let ty = def.ty().ok_or_else(|| self.at(def, "expected a type"))?;
        let default = match def.default_value().map(|d| d.value()) {
            None => None,
            Some(None) => return Err(self.at(def, "expected a default value")),
            Some(Some(value)) => Some(self.value(&value, 0, true)?),
        };
        Ok(VariableDefinition {
            name,
            type_text: self.type_text(&ty, 0)?,
            default,
        })
    }

    /// A type such as `[ID!]!`, as text without spaces.
    fn type_text(&self, ty: &cst::Type, depth: usize) -> Result<String, QueryError> {
        let depth = Self::enter(depth)?;
        Ok(match ty {
            cst::Type::NamedType(named) => self.name(named, named.name())?,
            cst::Type::ListType(list) => format!("[{}]", self.list_type(list, depth)?),
            cst::Type::NonNullType(non_null) => {
                let inner = match (non_null.named_type(), non_null.list_type()) {
                    (Some(named), _) => self.name(&named, named.name())?,
                    (None, Some(list)) => format!("[{}]", self.list_type(&list, depth)?),
                    (None, None) => return Err(self.at(non_null, "expected a type")),
                };
                format!("{inner}!")
            }
        })
    }

    fn list_type(&self, list: &cst::ListType, depth: usize) -> Result<String, QueryError> {
        let inner = list.ty().ok_or_else(|| self.at(list, "expected a type"))?;
        self.type_text(&inner, depth)
    }

    fn selection_set(
        &self,
        set: &cst::SelectionSet,
        depth: usize,
    ) -> Result<Vec<RawField>, QueryError> {
        let depth = Self::enter(depth)?;
        let mut fields = Vec::new();
        for selection in set.selections() {
            match selection {
                cst::Selection::Field(field) => fields.push(self.field(&field, depth)?),
                cst::Selection::FragmentSpread(_) | cst::Selection::InlineFragment(_) => {
                    return Err(QueryError::Unsupported("fragments".into()));
                }
            }
        }
        if fields.is_empty() {
            return Err(self.at(set, "empty selection set"));
        }
        Ok(fields)
    }

    fn field(&self, field: &cst::Field, depth: usize) -> Result<RawField, QueryError> {
        let alias = match field.alias() {
            Some(alias) => Some(self.name(&alias, alias.name())?),
            None => None,
        };
        let mut directives = Vec::new();
        for directive in field.directives().iter().flat_map(|d| d.directives()) {
            let name = self.name(&directive, directive.name())?;
            directives.push((name, self.arguments(directive.arguments(), depth)?));
        }
        Ok(RawField {
            alias,
            name: self.name(field, field.name())?,
            arguments: self.arguments(field.arguments(), depth)?,
            directives,
            selection: match field.selection_set() {
                Some(set) => self.selection_set(&set, depth)?,
                None => Vec::new(),
            },
        })
    }

    fn arguments(
        &self,
        arguments: Option<cst::Arguments>,
        depth: usize,
    ) -> Result<RawArguments, QueryError> {
        let mut out = Vec::new();
        for argument in arguments.iter().flat_map(|a| a.arguments()) {
            let name = self.name(&argument, argument.name())?;
            let value = argument
                .value()
                .ok_or_else(|| self.at(&argument, "expected a value"))?;
            out.push((name, self.value(&value, depth, false)?));
        }
        Ok(out)
    }

    /// A value; `constant` forbids variables (defaults of variable definitions).
    fn value(
        &self,
        value: &cst::Value,
        depth: usize,
        constant: bool,
    ) -> Result<RawValue, QueryError> {
        let depth = Self::enter(depth)?;
        Ok(match value {
            cst::Value::Variable(v) if constant => {
                return Err(self.at(v, "a variable in a default value"));
            }
            cst::Value::Variable(v) => RawValue::Variable(self.name(v, v.name())?),
            cst::Value::StringValue(s) => RawValue::Literal(Json::String(String::from(s))),
            cst::Value::IntValue(i) => RawValue::Literal(Json::from(self.int(i)?)),
            cst::Value::FloatValue(f) => RawValue::Literal(Json::from(self.float(f)?)),
            cst::Value::BooleanValue(b) => RawValue::Literal(Json::Bool(b.true_token().is_some())),
            cst::Value::NullValue(_) => RawValue::Literal(Json::Null),
            // Enum values (`HEIGHT_DESC`, `EQ`) read as their names.
            cst::Value::EnumValue(e) => RawValue::Literal(Json::String(self.name(e, e.name())?)),
            cst::Value::ListValue(list) => RawValue::List(
                list.values()
                    .map(|item| self.value(&item, depth, constant))
                    .collect::<Result<_, _>>()?,
            ),
            cst::Value::ObjectValue(object) => {
                let mut fields = Vec::new();
                for field in object.object_fields() {
                    let name = self.name(&field, field.name())?;
                    let value = field
                        .value()
                        .ok_or_else(|| self.at(&field, "expected a value"))?;
                    fields.push((name, self.value(&value, depth, constant)?));
                }
                RawValue::Object(fields)
            }
        })
    }

    fn int(&self, value: &cst::IntValue) -> Result<i64, QueryError> {
        let text = value
            .int_token()
            .map(|t| t.text().to_string())
            .unwrap_or_default();
        text.parse::<i64>()
            .map_err(|_| self.at(value, &format!("bad integer `{text}`")))
    }

    fn float(&self, value: &cst::FloatValue) -> Result<f64, QueryError> {
        let text = value
            .float_token()
            .map(|t| t.text().to_string())
            .unwrap_or_default();
        text.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| self.at(value, &format!("bad number `{text}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::bind::parse;
    use serde_json::{Map, json};

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
    fn unsupported_constructs_are_named() {
        let cases = [
            ("{ a { ...F } } fragment F on T { id }", "fragments"),
            ("{ a { ... on T { id } } }", "fragments"),
            ("fragment F on T { id }", "fragments"),
            ("mutation { a { id } }", "mutation"),
            ("subscription { a { id } }", "subscription"),
            ("type T { a: Int }", "`type`"),
            ("extend type T { a: Int }", "`extend`"),
            ("query Q @live { a { id } }", "directives on operations"),
            ("query ($a: Int @x) { a { id } }", "directives on variable"),
        ];
        for (q, what) in cases {
            match parse(q, None, &Map::new()) {
                Err(QueryError::Unsupported(m)) => assert!(m.contains(what), "{q}: {m}"),
                other => panic!("{q}: {other:?}"),
            }
        }
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
            "query ($a: Int = $b) { a { id } }",
            "# only a comment",
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
    fn the_depth_limit_is_the_gateways_own() {
        // 32 levels in all (one selection set, 31 list values) is the most accepted.
        let nested = |lists: usize| {
            format!(
                "{{ a(x: {}1{}) }}",
                "[".repeat(lists - 1),
                "]".repeat(lists - 1)
            )
        };
        let fields = parse(&nested(31), None, &Map::new()).unwrap();
        assert!(fields[0].argument("x").is_some());
        assert!(
            matches!(parse(&nested(32), None, &Map::new()), Err(QueryError::Unsupported(m)) if m.contains("nesting"))
        );
        let selections = |n: usize| format!("{}b{}", "{ a ".repeat(n), " }".repeat(n));
        assert!(parse(&selections(32), None, &Map::new()).is_ok());
        assert!(parse(&selections(33), None, &Map::new()).is_err());
        let types = |n: usize| {
            format!(
                "query ($v: {}ID{}) {{ a }}",
                "[".repeat(n - 1),
                "]".repeat(n - 1)
            )
        };
        assert!(parse(&types(32), None, &Map::new()).is_ok());
        assert!(parse(&types(33), None, &Map::new()).is_err());
    }

    #[test]
    fn too_many_tokens_are_refused() {
        let q = format!("{{ {} }}", "a ".repeat(TOKEN_LIMIT));
        assert!(
            matches!(parse(&q, None, &Map::new()), Err(QueryError::Unsupported(m)) if m.contains("tokens"))
        );
    }

    #[test]
    fn numbers() {
        let fields = parse("{ a(i: -12, f: 1.5e3) { id } }", None, &Map::new()).unwrap();
        assert_eq!(fields[0].argument("i"), Some(&json!(-12)));
        assert_eq!(fields[0].argument("f"), Some(&json!(1500.0)));
        assert!(parse("{ a(i: 99999999999999999999) { id } }", None, &Map::new()).is_err());
        assert!(parse("{ a(f: 1e999) { id } }", None, &Map::new()).is_err());
    }

    #[test]
    fn literals_of_every_kind() {
        let q = "{ a(t: true, f: false, n: null, e: EQ, l: [1, \"s\"], o: {k: [{}]}) { id } }";
        let fields = parse(q, None, &Map::new()).unwrap();
        let args: Vec<(&str, &Json)> = fields[0]
            .arguments
            .iter()
            .map(|(n, v)| (n.as_str(), v))
            .collect();
        assert_eq!(
            args,
            [
                ("t", &json!(true)),
                ("f", &json!(false)),
                ("n", &json!(null)),
                ("e", &json!("EQ")),
                ("l", &json!([1, "s"])),
                ("o", &json!({"k": [{}]})),
            ]
        );
    }
}
