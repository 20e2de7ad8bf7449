//! A cold start: a process this CU has never seen is read from HyperBEAM's scheduler, as AO's
//! Node CU reads it in `hbu` mode (`effects/hb/index.js`, `loadProcessWith`):
//! `GET {HB_URL}/~scheduler@1.0/schedule?target=P&from=0&to=1&limit=1&accept=application/aos-2`,
//! whose first edge is the process message at slot 0.

use super::HbuError;
use super::page::{self, Edge};
use crate::net::{Call, Client, Url};

/// The largest schedule answer read for a cold start (a process message with its data).
const MAX_SCHEDULE_BYTES: usize = 256 << 20;

/// The schedule path of `process` from `from` to `to` (inclusive, on HyperBEAM), as the Node
/// CU asks it (HyperBEAM ignores `limit`).
pub fn schedule_path(process: &str, from: u64, to: u64, limit: u64) -> String {
    format!(
        "/~scheduler@1.0/schedule?target={process}&from={from}&to={to}&limit={limit}&accept=application%2Faos-2"
    )
}

/// Read the process message (slot 0) of `process` from HyperBEAM.
pub async fn process_edge(hb: &Url, client: &Client, process: &str) -> Result<Edge, HbuError> {
    let path = schedule_path(process, 0, 1, 1);
    let answer = client
        .send(Call::get(hb, &path, MAX_SCHEDULE_BYTES))
        .await
        .map_err(|e| HbuError::Scheduler(format!("loading process {process}: {e}")))?;
    if !answer.status.is_success() {
        return Err(HbuError::Scheduler(format!(
            "loading process {process}: GET {}{path} answered {}: {}",
            hb.as_str(),
            answer.status,
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
        )));
    }
    let page = page::parse(&answer.body).map_err(|e| {
        HbuError::Scheduler(format!("loading process {process} from HyperBEAM: {e}"))
    })?;
    let mut edges = page.edges.into_iter();
    let edge = edges.next().ok_or_else(|| {
        HbuError::Scheduler(format!(
            "HyperBEAM's schedule of process {process} has no slot 0"
        ))
    })?;
    if edge.slot != 0 {
        return Err(HbuError::Scheduler(format!(
            "HyperBEAM's schedule of process {process} starts at slot {}, not 0",
            edge.slot
        )));
    }
    Ok(edge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_the_node_cus() {
        assert_eq!(
            schedule_path("P", 0, 1, 1),
            "/~scheduler@1.0/schedule?target=P&from=0&to=1&limit=1&accept=application%2Faos-2"
        );
    }
}
