//! From a read document to the fields to answer: choose the operation, bind its variables,
//! resolve values and drop the fields that `@skip`/`@include` exclude.

use serde_json::{Map, Value as Json};

use super::parser;
use super::query::{Field, QueryError};
use super::syntax::{Operation, RawField, RawValue, VariableDefinition};

/// Parse `query`, pick the operation (`operation_name` when several), resolve its variables
/// from `variables` and drop the fields that `@skip`/`@include` exclude.
pub fn parse(
    query: &str,
    operation_name: Option<&str>,
    variables: &Map<String, Json>,
) -> Result<Vec<Field>, QueryError> {
    let document = parser::read(query)?;
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
    fn variables_are_checked() {
        let q = "query ($ids: [ID!]!) { a(ids: $ids) { id } }";
        assert!(
            matches!(parse(q, None, &Map::new()), Err(QueryError::Invalid(m)) if m.contains("$ids") && m.contains("`[ID!]!`"))
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
    fn defaults_apply_when_a_variable_is_not_given() {
        let q = "query ($n: Int = 3, $s: [String] = [\"a\"]) { a(first: $n, ids: $s) { id } }";
        let fields = parse(q, None, &Map::new()).unwrap();
        assert_eq!(fields[0].argument("first"), Some(&json!(3)));
        assert_eq!(fields[0].argument("ids"), Some(&json!(["a"])));
        let fields = parse(q, None, &vars(json!({"n": 7}))).unwrap();
        assert_eq!(fields[0].argument("first"), Some(&json!(7)));
    }
}
