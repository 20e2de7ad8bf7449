//! The arguments of `transactions`: filters (`ids`, `owners`, `recipients`, `tags`), order
//! (`sort`), page size (`first`) and position (`after`).

use serde_json::Value;

use super::cursor::decode_cursor;
use super::execute::{ExecError, invalid, unsupported};
use super::query::Field;
use super::records::TxRecord;

/// Page size when `first` is not given (as Arweave gateways default).
pub const DEFAULT_FIRST: usize = 10;
/// Largest page; a larger `first` is reduced to it (as Arweave gateways cap).
pub const MAX_FIRST: usize = 100;

/// Sort order of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sort {
    /// Newest first (the default).
    HeightDesc,
    /// Oldest first.
    HeightAsc,
}

/// One `tags` filter.
#[derive(Debug, Clone, PartialEq)]
struct TagFilter {
    name: String,
    values: Vec<String>,
    negate: bool,
}

impl TagFilter {
    /// EQ: some tag of this name has one of the values. NEQ: some tag of this name has a value
    /// that is none of them.
    fn matches(&self, tx: &TxRecord) -> bool {
        tx.tags
            .iter()
            .filter(|t| t.name == self.name)
            .any(|t| self.values.contains(&t.value) != self.negate)
    }
}

/// Every filter of a `transactions` query; a record is in the answer when all hold.
#[derive(Debug, Default)]
pub(super) struct Filters {
    /// `ids`, when given.
    pub ids: Option<Vec<String>>,
    owners: Option<Vec<String>>,
    recipients: Option<Vec<String>>,
    tags: Vec<TagFilter>,
}

impl Filters {
    /// Whether `tx` passes every filter.
    pub fn matches(&self, tx: &TxRecord) -> bool {
        let within = |list: &Option<Vec<String>>, value: Option<&str>| {
            list.as_ref()
                .is_none_or(|l| value.is_some_and(|v| l.iter().any(|x| x == v)))
        };
        within(&self.ids, Some(&tx.id))
            && within(&self.owners, tx.owner_address.as_deref())
            && within(&self.recipients, Some(&tx.recipient))
            && self.tags.iter().all(|f| f.matches(tx))
    }
}

/// A list of strings; a single string is a list of one (GraphQL input coercion); null is absent.
fn string_list(field: &str, arg: &str, value: &Value) -> Result<Option<Vec<String>>, ExecError> {
    let bad = || invalid(format!("`{field}(`{arg}`)` must be a list of strings"));
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(vec![s.clone()])),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
            .collect::<Result<_, _>>()
            .map(Some),
        _ => Err(bad()),
    }
}

fn tag_filters(value: &Value) -> Result<Vec<TagFilter>, ExecError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items.clone(),
        single @ Value::Object(_) => vec![single.clone()],
        _ => {
            return Err(invalid(
                "`transactions(tags:)` must be a list of {name, values}".into(),
            ));
        }
    };
    items
        .iter()
        .map(|item| {
            let Value::Object(obj) = item else {
                return Err(invalid(
                    "each `tags` filter must be an object {name, values}".into(),
                ));
            };
            let mut name = None;
            let mut values = None;
            let mut negate = false;
            for (key, v) in obj {
                match key.as_str() {
                    "name" => {
                        name = Some(
                            v.as_str()
                                .ok_or_else(|| {
                                    invalid("a tag filter's `name` must be a string".into())
                                })?
                                .to_string(),
                        );
                    }
                    "values" => values = string_list("transactions", "tags.values", v)?,
                    "op" => {
                        negate = match v.as_str() {
                            Some("EQ") => false,
                            Some("NEQ") => true,
                            _ => {
                                return Err(unsupported(format!(
                                    "tag filter `op: {v}` (EQ and NEQ are)"
                                )));
                            }
                        };
                    }
                    other => {
                        return Err(unsupported(format!(
                            "tag filter field `{other}` (name, values and op are)"
                        )));
                    }
                }
            }
            Ok(TagFilter {
                name: name.ok_or_else(|| invalid("a tag filter needs a `name`".into()))?,
                values: values.ok_or_else(|| invalid("a tag filter needs `values`".into()))?,
                negate,
            })
        })
        .collect()
}

/// A page request: filters, order, size and position.
pub(super) struct Page {
    /// What records qualify.
    pub filters: Filters,
    /// Their order.
    pub sort: Sort,
    /// How many to answer.
    pub first: usize,
    /// The position (sort key and ID) to start after.
    pub after: Option<(u64, String)>,
}

/// Read the arguments of a `transactions` field.
pub(super) fn page_arguments(field: &Field) -> Result<Page, ExecError> {
    let mut page = Page {
        filters: Filters::default(),
        sort: Sort::HeightDesc,
        first: DEFAULT_FIRST,
        after: None,
    };
    for (name, value) in &field.arguments {
        match name.as_str() {
            "ids" => page.filters.ids = string_list("transactions", name, value)?,
            "owners" => page.filters.owners = string_list("transactions", name, value)?,
            "recipients" => page.filters.recipients = string_list("transactions", name, value)?,
            "tags" => page.filters.tags = tag_filters(value)?,
            "sort" => {
                page.sort = match (value, value.as_str()) {
                    (Value::Null, _) | (_, Some("HEIGHT_DESC")) => Sort::HeightDesc,
                    (_, Some("HEIGHT_ASC")) => Sort::HeightAsc,
                    _ => {
                        return Err(unsupported(format!(
                            "`sort: {value}` (HEIGHT_DESC and HEIGHT_ASC are)"
                        )));
                    }
                };
            }
            "first" => {
                page.first = match value {
                    Value::Null => DEFAULT_FIRST,
                    v => v
                        .as_u64()
                        .ok_or_else(|| {
                            invalid(format!("`first` must be a non-negative integer, got {v}"))
                        })?
                        .min(MAX_FIRST as u64) as usize,
                };
            }
            "after" => {
                page.after = match value {
                    Value::Null => None,
                    Value::String(c) if c.is_empty() => None,
                    Value::String(c) => Some(decode_cursor(c)?),
                    v => return Err(invalid(format!("`after` must be a cursor string, got {v}"))),
                };
            }
            other => {
                return Err(unsupported(format!(
                    "argument `{other}` of `transactions` (ids, owners, recipients, tags, first, after and sort are)"
                )));
            }
        }
    }
    Ok(page)
}
