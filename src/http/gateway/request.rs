//! Reading a GraphQL request from HTTP: the JSON body of a `POST`, or the query string of a
//! `GET` (GraphQL over HTTP's two forms).

use serde_json::{Map, Value};

/// A GraphQL request: the query text, its variables and which operation to run.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlRequest {
    /// The query document.
    pub query: String,
    /// Variable values.
    pub variables: Map<String, Value>,
    /// The operation to run when the document has several.
    pub operation_name: Option<String>,
}

/// Why a request carries no usable GraphQL request; the message names the bad field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The `POST` body does not parse as JSON.
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    /// The body is JSON, but not an object.
    #[error("the body must be a JSON object with a `query` string")]
    NotAnObject,
    /// No `query` in the body.
    #[error("the body has no `query`")]
    NoQuery,
    /// No `query` parameter in the query string.
    #[error("the request has no `query` parameter")]
    NoQueryParameter,
    /// A field of the wrong JSON type (`query` and `operationName` are strings).
    #[error("`{0}` must be a string")]
    NotAString(&'static str),
    /// `variables` is not a JSON object.
    #[error("`variables` must be an object")]
    VariablesNotAnObject,
    /// The `variables` parameter of a `GET` is not a JSON object.
    #[error("`variables` must be a JSON object")]
    VariablesNotJsonObject,
    /// A query-string parameter with a broken `%` escape or bytes that are not UTF-8.
    #[error(transparent)]
    Encoding(#[from] crate::http::query::QueryError),
}

/// Read `{"query", "variables", "operationName"}`.
pub fn request_from_body(body: &[u8]) -> Result<GraphqlRequest, RequestError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| RequestError::NotJson(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(RequestError::NotAnObject);
    };
    let query = match obj.get("query") {
        Some(Value::String(q)) => q.clone(),
        Some(_) => return Err(RequestError::NotAString("query")),
        None => return Err(RequestError::NoQuery),
    };
    let variables = match obj.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(v)) => v.clone(),
        Some(_) => return Err(RequestError::VariablesNotAnObject),
    };
    let operation_name = match obj.get("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) => Some(n.clone()),
        Some(_) => return Err(RequestError::NotAString("operationName")),
    };
    Ok(GraphqlRequest {
        query,
        variables,
        operation_name,
    })
}

/// Read `?query=&variables=&operationName=`.
pub fn request_from_query(query: Option<&str>) -> Result<GraphqlRequest, RequestError> {
    let mut text = None;
    let mut variables = Map::new();
    let mut operation_name = None;
    for (key, value) in crate::http::query::query_pairs(query)? {
        match key.as_str() {
            "query" => text = Some(value),
            "variables" if !value.is_empty() => match serde_json::from_str(&value) {
                Ok(Value::Object(v)) => variables = v,
                Ok(Value::Null) => {}
                _ => return Err(RequestError::VariablesNotJsonObject),
            },
            "operationName" if !value.is_empty() => operation_name = Some(value),
            _ => {}
        }
    }
    Ok(GraphqlRequest {
        query: text.ok_or(RequestError::NoQueryParameter)?,
        variables,
        operation_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_fields_are_checked_by_name() {
        let ok =
            request_from_body(br#"{"query":"{ a }","variables":{"x":1},"operationName":null}"#)
                .unwrap();
        assert_eq!(ok.query, "{ a }");
        assert_eq!(ok.variables.get("x"), Some(&json!(1)));
        for (body, field) in [
            (&br#"{"variables":{}}"#[..], "query"),
            (br#"{"query":1}"#, "query"),
            (br#"{"query":"{a}","variables":[1]}"#, "variables"),
            (br#"{"query":"{a}","operationName":2}"#, "operationName"),
            (br#"[1]"#, "query"),
            (b"not json", "JSON"),
        ] {
            let err = request_from_body(body).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
    }

    #[test]
    fn get_parameters_are_decoded() {
        let r = request_from_query(Some(
            "query=%7B+transactions%28first%3A1%29+%7B+edges+%7B+cursor+%7D+%7D+%7D&variables=%7B%22a%22%3A1%7D&operationName=Q",
        ))
        .unwrap();
        assert_eq!(r.query, "{ transactions(first:1) { edges { cursor } } }");
        assert_eq!(r.variables.get("a"), Some(&json!(1)));
        assert_eq!(r.operation_name.as_deref(), Some("Q"));
        assert_eq!(
            request_from_query(Some("variables=%7B%7D")),
            Err(RequestError::NoQueryParameter)
        );
        let err = request_from_query(Some("query=%zz")).unwrap_err();
        assert!(matches!(err, RequestError::Encoding(_)), "{err}");
        assert!(err.to_string().contains("`query`"), "{err}");
        assert!(request_from_query(Some("query=x&variables=5")).is_err());
    }

    #[test]
    fn broken_escapes_and_bytes_are_refused() {
        for bad in [
            "query=%",
            "query=%4",
            "query=%+A",
            "query=%ff",
            "x=1&query=%e9",
        ] {
            assert!(
                matches!(
                    request_from_query(Some(bad)),
                    Err(RequestError::Encoding(_))
                ),
                "{bad}"
            );
        }
        // `+` is a space and `%2B` a plus; a literal `%` must be `%25`.
        let r = request_from_query(Some("query=a+b%2Bc%25&&x")).unwrap();
        assert_eq!(r.query, "a b+c%");
        assert_eq!(
            request_from_query(Some("query=%C3%A9")).unwrap().query,
            "\u{e9}"
        );
    }
}
