//! The one query-string parser of the HTTP API: `a=1&b=x+y&flag` into decoded pairs.
//!
//! Splitting and decoding are `form_urlencoded`'s (`&` between pairs, the first `=` between
//! name and value, `+` a space, `%XX` a byte, empty pairs skipped). That crate is lenient: it
//! keeps a broken escape (`%zz`, `%+A`) as it is and replaces bytes that are not UTF-8. A node
//! answering a wrong question is worse than one refusing it, so each pair is first checked
//! with the strict [`super::percent_decode`]; a pair that fails makes the whole query a 400.
//! A pair that passes decodes to the same text in both, so nothing is lost in between.

use super::response::ApiError;

/// A query string that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A pair holds a `%` not followed by two hex digits, or decodes to bytes that are not
    /// UTF-8.
    #[error("query parameter `{name}` is not valid percent-encoded UTF-8")]
    Malformed {
        /// The parameter's name as written (still encoded).
        name: String,
    },
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> ApiError {
        ApiError::bad_request(error.to_string())
    }
}

/// Decode a query string (the part after `?`; `None` for none) into `(name, value)` pairs,
/// in order, repeats kept. A name without `=` has the empty value.
pub fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, QueryError> {
    let Some(query) = query else {
        return Ok(Vec::new());
    };
    // `+` decodes to a space in both parsers and cannot break an escape, so checking the
    // pair as written is enough.
    if let Some(bad) = query
        .split('&')
        .find(|pair| super::percent_decode(pair).is_none())
    {
        let name = bad.split_once('=').map_or(bad, |(name, _)| name);
        return Err(QueryError::Malformed {
            name: name.to_string(),
        });
    }
    Ok(form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        query_pairs(Some(query)).unwrap()
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_strings() {
        assert_eq!(
            pairs("process-id=abc&x=a%2Bb+c&flag&&empty="),
            owned(&[
                ("process-id", "abc"),
                ("x", "a+b c"),
                ("flag", ""),
                ("empty", ""),
            ])
        );
        assert!(query_pairs(Some("a=%zz")).is_err());
        assert!(query_pairs(None).unwrap().is_empty());
        assert!(pairs("").is_empty());
        assert!(pairs("&&").is_empty());
    }

    #[test]
    fn names_values_and_repeats() {
        // The first `=` splits; later ones belong to the value. Repeats stay, in order.
        assert_eq!(
            pairs("a=b=c&a=2&%3D=%26&=v"),
            owned(&[("a", "b=c"), ("a", "2"), ("=", "&"), ("", "v")])
        );
        assert_eq!(pairs("n=%C3%A9+%E2%82%AC"), owned(&[("n", "é €")]));
        assert_eq!(pairs("n=é"), owned(&[("n", "é")]));
    }

    #[test]
    fn broken_escapes_are_refused_and_named() {
        for query in [
            "a=%zz", "a=%+A", "a=%-1", "a=%4", "a=%", "a=%%41", "a=%ff", "a=%C3", "b&%2=x",
        ] {
            assert!(query_pairs(Some(query)).is_err(), "{query}");
        }
        let err = query_pairs(Some("ok=1&slot=%+A")).unwrap_err();
        assert_eq!(
            err,
            QueryError::Malformed {
                name: "slot".into()
            }
        );
        let api: ApiError = err.into();
        assert_eq!(api.status, hyper::StatusCode::BAD_REQUEST);
        assert!(api.message.contains("`slot`"), "{}", api.message);
    }
}
