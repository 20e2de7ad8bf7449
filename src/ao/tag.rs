//! AO tags: a name and a value, kept in their original order, and [`Tags`], the list of them
//! that every message, process and module carries.
//!
//! Tag names are case-sensitive and may repeat (AO's `Cron-Tag-*`, several `Data-Protocol`s):
//! [`Tags::get`] answers the first, [`Tags::get_all`] every one, as AO's JavaScript units do.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// An AO tag: a name and a value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tag {
    /// Tag name.
    pub name: String,
    /// Tag value.
    pub value: String,
}

impl Tag {
    /// A tag from anything string-like.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Tag {
        Tag {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The tags of a message, process or module, in their original order.
///
/// It derefs to the `Vec<Tag>` it wraps, so it iterates, indexes and grows as one, and it
/// serializes as the plain list (`[{"name": ..., "value": ...}]`), so stored records keep
/// their format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tags(pub Vec<Tag>);

impl Tags {
    /// No tags.
    pub const fn new() -> Tags {
        Tags(Vec::new())
    }

    /// The value of the first tag named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.value.as_str())
    }

    /// The values of every tag named `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |t| t.name == name)
            .map(|t| t.value.as_str())
    }

    /// Whether a tag named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|t| t.name == name)
    }

    /// Set `name` to `value`: the first tag of that name takes the value, or a new tag is
    /// appended when there is none.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.iter_mut().find(|t| t.name == name) {
            Some(t) => value.clone_into(&mut t.value),
            None => self.0.push(Tag::new(name, value)),
        }
    }

    /// Tags from AO's JSON form, `[{"name": ..., "value": ...}]`; entries without a string
    /// name and value are left out (a process never sees them as tags either).
    pub fn from_json(value: &Value) -> Tags {
        let Some(list) = value.as_array() else {
            return Tags::new();
        };
        list.iter()
            .filter_map(|t| {
                let name = t.get("name")?.as_str()?;
                let value = t.get("value")?.as_str()?;
                Some(Tag::new(name, value))
            })
            .collect()
    }

    /// AO's JSON form: `[{"name": ..., "value": ...}]` in their original order.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|t| json!({ "name": t.name, "value": t.value }))
                .collect(),
        )
    }

    /// The list itself.
    pub fn into_vec(self) -> Vec<Tag> {
        self.0
    }
}

impl std::ops::Deref for Tags {
    type Target = Vec<Tag>;

    fn deref(&self) -> &Vec<Tag> {
        &self.0
    }
}

impl std::ops::DerefMut for Tags {
    fn deref_mut(&mut self) -> &mut Vec<Tag> {
        &mut self.0
    }
}

impl From<Vec<Tag>> for Tags {
    fn from(tags: Vec<Tag>) -> Tags {
        Tags(tags)
    }
}

impl From<&[Tag]> for Tags {
    fn from(tags: &[Tag]) -> Tags {
        Tags(tags.to_vec())
    }
}

impl FromIterator<Tag> for Tags {
    fn from_iter<I: IntoIterator<Item = Tag>>(iter: I) -> Tags {
        Tags(iter.into_iter().collect())
    }
}

impl IntoIterator for Tags {
    type Item = Tag;
    type IntoIter = std::vec::IntoIter<Tag>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Tags {
    type Item = &'a Tag;
    type IntoIter = std::slice::Iter<'a, Tag>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Tags {
        vec![
            Tag::new("Type", "Message"),
            Tag::new("Cron-Tag-A", "1"),
            Tag::new("Cron-Tag-A", "2"),
            Tag::new("type", "lower"),
        ]
        .into()
    }

    #[test]
    fn first_and_every_value_by_exact_name() {
        let tags = sample();
        assert_eq!(tags.get("Type"), Some("Message"));
        assert_eq!(tags.get("type"), Some("lower"));
        assert_eq!(tags.get("Absent"), None);
        assert_eq!(tags.get_all("Cron-Tag-A").collect::<Vec<_>>(), ["1", "2"]);
        assert!(tags.contains("Cron-Tag-A") && !tags.contains("cron-tag-a"));
    }

    #[test]
    fn set_replaces_the_first_or_appends() {
        let mut tags = sample();
        tags.set("Cron-Tag-A", "9");
        assert_eq!(tags.get_all("Cron-Tag-A").collect::<Vec<_>>(), ["9", "2"]);
        tags.set("New", "x");
        assert_eq!(tags.last(), Some(&Tag::new("New", "x")));
    }

    #[test]
    fn json_round_trip_keeps_order_and_format() {
        let tags = sample();
        let json = tags.to_json();
        assert_eq!(json, serde_json::to_value(&tags).unwrap());
        assert_eq!(Tags::from_json(&json), tags);
        let odd = json!([{"name": "A", "value": "1"}, {"name": 3, "value": "x"}, "junk"]);
        assert_eq!(Tags::from_json(&odd), Tags::from(vec![Tag::new("A", "1")]));
        assert!(Tags::from_json(&json!({"not": "a list"})).is_empty());
    }
}
