//! Where a scheduler's SU listens, as AO's scheduler utilities find it: the newest
//! `Scheduler-Location` record (`Data-Protocol: ao`) owned by the scheduler's wallet, its `Url`
//! tag, kept for its `Time-To-Live` (ms). A process' scheduler is the `Scheduler` tag of the
//! process' own transaction.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Attempt, GatewayError, Gateways};
use crate::ao::Tags;
use crate::net::Url;

const LOCATION_QUERY: &str = "query GetSchedulerLocation($owner: String!) { transactions( \
    owners: [$owner] tags: [{ name: \"Data-Protocol\", values: [\"ao\"] }, \
    { name: \"Type\", values: [\"Scheduler-Location\"] }] sort: HEIGHT_DESC first: 1) { \
    edges { node { tags { name value } } } } }";

const PROCESS_QUERY: &str = "query GetTransactions($transactionIds: [ID!]!) { \
    transactions(ids: $transactionIds) { edges { node { tags { name value } } } } }";

/// Longest a location is kept, whatever its `Time-To-Live` says (a moved SU is found again
/// within a day).
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// A scheduler's SU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The scheduler's wallet address.
    pub address: String,
    /// Its SU.
    pub url: Url,
    /// How long the record says it holds.
    pub ttl: Duration,
}

/// Locations by scheduler address, each until it expires.
#[derive(Debug, Default)]
pub struct Cache(Mutex<HashMap<String, (Location, Instant)>>);

impl Cache {
    fn get(&self, address: &str) -> Option<Location> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(address)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(l, _)| l.clone())
    }

    fn put(&self, location: &Location) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Expired entries go first: the map holds only schedulers in use.
        let now = Instant::now();
        map.retain(|_, (_, until)| *until > now);
        map.insert(
            location.address.clone(),
            (location.clone(), now + location.ttl.min(MAX_TTL)),
        );
    }
}

impl Gateways {
    /// The SU of the scheduler `address` (cached for its `Time-To-Live`).
    pub async fn scheduler_location(&self, address: &str) -> Result<Location, GatewayError> {
        if let Some(found) = self.locations.get(address) {
            return Ok(found);
        }
        let asked = self.urls.len() as u32;
        let tags = self
            .rotate(|url, attempt| async move {
                let data = self
                    .graphql_on(&url, LOCATION_QUERY, json!({"owner": address}))
                    .await?;
                first_tags(&data, &url).and_then(|tags| {
                    tags.ok_or_else(|| {
                        let missing = GatewayError::NotFound(format!(
                            "Scheduler-Location of scheduler {address}"
                        ));
                        if attempt + 1 >= asked {
                            Attempt::Final(missing)
                        } else {
                            Attempt::Again(missing)
                        }
                    })
                })
            })
            .await?;
        let location = location_of(address, &tags)?;
        self.locations.put(&location);
        tracing::info!(scheduler = address, url = %location.url, "scheduler located");
        Ok(location)
    }

    /// The `Scheduler` tag of process `process` as a gateway has it; `None` when no gateway
    /// knows the process.
    pub async fn process_scheduler(&self, process: &str) -> Result<Option<String>, GatewayError> {
        let asked = self.urls.len() as u32;
        let found = self
            .rotate(|url, attempt| async move {
                let data = self
                    .graphql_on(&url, PROCESS_QUERY, json!({"transactionIds": [process]}))
                    .await?;
                match first_tags(&data, &url)? {
                    Some(tags) => Ok(Some(tags)),
                    None if attempt + 1 >= asked => Ok(None),
                    None => Err(Attempt::Again(GatewayError::NotFound(process.to_string()))),
                }
            })
            .await?;
        Ok(found.and_then(|tags| tags.get("Scheduler").map(str::to_string)))
    }
}

/// The tags of the first edge of a `transactions` answer; `None` when there is none.
fn first_tags(data: &serde_json::Value, url: &Url) -> Result<Option<Tags>, Attempt> {
    let Some(edges) = data["transactions"]["edges"].as_array() else {
        return Err(Attempt::Again(GatewayError::Protocol {
            url: url.to_string(),
            message: "the answer has no `transactions.edges` list".into(),
        }));
    };
    let Some(edge) = edges.first() else {
        return Ok(None);
    };
    serde_json::from_value::<Tags>(edge["node"]["tags"].clone())
        .map(Some)
        .map_err(|e| {
            Attempt::Again(GatewayError::Protocol {
                url: url.to_string(),
                message: format!("tags: {e}"),
            })
        })
}

/// The location a record's tags give; the error says which tag is missing or wrong.
fn location_of(address: &str, tags: &Tags) -> Result<Location, GatewayError> {
    let refused = |message: String| GatewayError::Refused {
        id: format!("Scheduler-Location of {address}"),
        message,
    };
    let url = tags
        .get("Url")
        .ok_or_else(|| refused("no `Url` tag".into()))?;
    let ttl = tags
        .get("Time-To-Live")
        .ok_or_else(|| refused("no `Time-To-Live` tag".into()))?;
    let ttl: u64 = ttl
        .trim()
        .parse()
        .map_err(|_| refused(format!("`Time-To-Live` `{ttl}` is not a number of ms")))?;
    Ok(Location {
        address: address.to_string(),
        url: Url::parse(url).map_err(|e| refused(format!("`Url`: {e}")))?,
        ttl: Duration::from_millis(ttl),
    })
}
