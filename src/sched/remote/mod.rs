//! Remote Scheduler Units: processes whose schedule another SU keeps, which this node mirrors
//! and evaluates.
//!
//! The configuration maps scheduler addresses to SU URLs (`[schedulers]`); with gateways
//! configured, any other scheduler's SU is found through its `Scheduler-Location` record
//! ([`crate::arweave::location`]), the static map staying an override. A process unknown
//! here is looked up on each configured SU, then on the SU its `Scheduler` tag names on the
//! gateways (`GET /{process}`, whose first page starts with the
//! process itself); a process already mirrored is brought up to date from the timestamp of its
//! last kept slot (`GET /{process}?from=<ms>`, paged). Every page is verified before anything of
//! it is kept ([`page`]): signatures, IDs, the scheduler's own assignments, and each hash-chain
//! link from its predecessor. A page that fails is an error naming the first bad slot; nothing
//! of it is stored or evaluated. What passes is appended to the store as the embedded
//! scheduler's own slots are (the same `[assignment, item]` bundles), so the CU evaluates it the
//! same way and the SU read API serves it as a mirror.

pub mod misses;
pub mod page;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use hyper::StatusCode;

use self::page::{Expect, PageError, VerifiedEntry};
use crate::ao::bundle;
use crate::ao::fields::message_fields;
use crate::arweave::{GatewayError, Gateways};
use crate::net::{Call, Client, Url};
use crate::store::{Assignment, ProcessRecord, ScheduledMessage, Store, StoreError};

/// Entries asked for per page.
pub const PAGE_LIMIT: usize = 100;

/// Largest SU answer read (a page of 100 messages of up to 10 MiB each would not fit; AO's SU
/// pages are far smaller, and a page that does not fit is an error, not a truncation).
pub const MAX_PAGE_BYTES: usize = 256 * 1024 * 1024;

/// Mirroring a remote schedule failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// A configured scheduler entry is unusable (names the key).
    #[error("schedulers.{address}: {message}")]
    Config {
        /// The scheduler address (the key).
        address: String,
        /// What is wrong.
        message: String,
    },
    /// No configured SU holds the process.
    #[error("process {0} is not known to this node or to any configured scheduler")]
    NotFound(String),
    /// The SU could not be read (after the retries).
    #[error("scheduler {address}: {message}")]
    Unreachable {
        /// Its address.
        address: String,
        /// The last failure.
        message: String,
    },
    /// The SU answered something that is not its API.
    #[error("scheduler {address} at {url}: {message}")]
    Protocol {
        /// Its address.
        address: String,
        /// Its URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// A page failed verification (names the slot).
    #[error("scheduler {address}: {source}")]
    Rejected {
        /// Its address.
        address: String,
        /// Which slot, why (boxed: a rejection carries the whole reason).
        source: Box<PageError>,
    },
    /// The process' owner is not on the node's `allow-owners` list: nothing of it is kept.
    #[error(transparent)]
    Refused(#[from] crate::access::Refused),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One configured SU.
#[derive(Debug, Clone)]
struct Su {
    address: String,
    url: Url,
}

/// The remote schedulers this node reads from.
#[derive(Debug)]
pub struct RemoteSchedulers {
    store: Arc<Store>,
    sus: Vec<Su>,
    client: Client,
    /// One lock per process: two syncs of the same process never append the same slots.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// IDs no SU had a moment ago: asked again, they are not looked up again at once.
    misses: misses::Misses,
    /// How schedulers outside the static map are found, if at all.
    located: Option<Located>,
    /// Whose processes may be kept (config `allow-owners`), checked on a process' first page.
    access: Arc<crate::access::Access>,
}

/// Finding the SU of a scheduler that is not in the static map: its `Scheduler-Location` on
/// the gateways, unless it is this node's own scheduler.
#[derive(Debug, Clone)]
pub struct Located {
    /// The gateways holding the records.
    pub gateways: Arc<Gateways>,
    /// This node's scheduler (its processes are not looked up anywhere).
    pub node: Arc<crate::sched::NodeScheduler>,
}

impl RemoteSchedulers {
    /// The SUs of `config` (scheduler address → `http://` or `https://` URL), read through
    /// `client` into `store`; other schedulers' SUs found as `located` says. A process whose
    /// owner `access` refuses is not kept.
    pub fn new(
        store: Arc<Store>,
        config: &BTreeMap<String, String>,
        client: Client,
        located: Option<Located>,
        access: Arc<crate::access::Access>,
    ) -> Result<RemoteSchedulers, RemoteError> {
        let sus = config
            .iter()
            .map(|(address, url)| {
                let bad = |message: String| RemoteError::Config {
                    address: address.clone(),
                    message,
                };
                if address.parse::<crate::ao::Id>().is_err() {
                    return Err(bad(format!(
                        "`{address}` is not a 43-character Arweave address"
                    )));
                }
                Ok(Su {
                    address: address.clone(),
                    url: Url::parse(url).map_err(|e| bad(e.to_string()))?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(RemoteSchedulers {
            store,
            sus,
            client,
            locks: Mutex::new(HashMap::new()),
            misses: misses::Misses::default(),
            located,
            access,
        })
    }

    /// Whether no SU is configured and none can be located.
    pub fn is_empty(&self) -> bool {
        self.sus.is_empty() && self.located.is_none()
    }

    /// The SU of scheduler `address`: the static map's, else the one its Scheduler-Location
    /// names. `None` for this node's own scheduler, and for one that has no location record.
    async fn su(&self, address: &str) -> Result<Option<Su>, RemoteError> {
        if let Some(su) = self.sus.iter().find(|s| s.address == address) {
            return Ok(Some(su.clone()));
        }
        let Some(located) = &self.located else {
            return Ok(None);
        };
        if let Ok(own) = located.node.get().await
            && own.address() == address
        {
            return Ok(None);
        }
        match located.gateways.scheduler_location(address).await {
            Ok(location) => Ok(Some(Su {
                address: address.to_string(),
                url: location.url,
            })),
            Err(GatewayError::NotFound(what)) => {
                tracing::debug!(scheduler = address, %what, "no location on the gateways");
                Ok(None)
            }
            Err(e) => Err(RemoteError::Unreachable {
                address: address.to_string(),
                message: format!("locating its SU: {e}"),
            }),
        }
    }

    /// Bring `process` up to date from its SU: discover it when it is not stored yet. Returns
    /// its record after the sync; `Ok(None)` when it is stored and scheduled elsewhere (by
    /// this node, or by a scheduler that is not configured).
    pub async fn sync(&self, process: &str) -> Result<Option<ProcessRecord>, RemoteError> {
        let lock = self.lock(process);
        let outcome = {
            let _guard = lock.lock().await;
            match self.store.process(process)? {
                Some(record) => match self.su(&record.scheduler).await {
                    Ok(Some(su)) => self.follow(&su, record).await.map(Some),
                    Ok(None) => Ok(None),
                    Err(e) => Err(e),
                },
                None if self.misses.recent(process) => {
                    Err(RemoteError::NotFound(process.to_string()))
                }
                None => match self.discover(process).await {
                    Err(RemoteError::NotFound(id)) => {
                        self.misses.record(&id);
                        Err(RemoteError::NotFound(id))
                    }
                    found => found.map(Some),
                },
            }
        };
        self.release(process, lock);
        outcome
    }

    fn lock(&self, process: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(process.to_string()).or_default().clone()
    }

    /// Forget a process' lock when no other sync holds it: the map holds only the processes
    /// being synced, not every ID ever asked for.
    fn release(&self, process: &str, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        // Two owners: the map and `lock`; a waiting sync would hold a third.
        if Arc::strong_count(&lock) == 2 {
            locks.remove(process);
        }
    }

    /// Ask each SU for a process not stored here; the first that has it is its scheduler (the
    /// spawn must name it and its assignment be signed by it: [`page::verify`] checks).
    async fn discover(&self, process: &str) -> Result<ProcessRecord, RemoteError> {
        let mut unreachable = None;
        for su in &self.sus {
            match self.discover_on(su, process).await {
                Ok(Some(record)) => return Ok(record),
                Ok(None) => continue,
                Err(e @ (RemoteError::Unreachable { .. } | RemoteError::Protocol { .. })) => {
                    unreachable = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        // Then the SU the gateways name: the process' `Scheduler` tag, located.
        if let Some(located) = &self.located {
            match located.gateways.process_scheduler(process).await {
                Ok(Some(address)) if !self.sus.iter().any(|s| s.address == address) => {
                    if let Some(su) = self.su(&address).await?
                        && let Some(record) = self.discover_on(&su, process).await?
                    {
                        return Ok(record);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    unreachable = Some(RemoteError::Unreachable {
                        address: "?".into(),
                        message: format!("looking up process {process} on the gateways: {e}"),
                    })
                }
            }
        }
        Err(unreachable.unwrap_or_else(|| RemoteError::NotFound(process.to_string())))
    }

    /// The process from `su`, kept and followed; `None` when `su` does not have it.
    async fn discover_on(
        &self,
        su: &Su,
        process: &str,
    ) -> Result<Option<ProcessRecord>, RemoteError> {
        let path = format!("/{process}?limit={PAGE_LIMIT}");
        let Some(page) = self.fetch(su, &path).await? else {
            return Ok(None);
        };
        let Some(record) = self.keep_first_page(su, process, page).await? else {
            return Ok(None);
        };
        self.follow(su, record).await.map(Some)
    }

    /// Keep the first page of a process (from its spawn); `None` when the SU's first entry is
    /// not the process (it does not schedule it after all).
    async fn keep_first_page(
        &self,
        su: &Su,
        process: &str,
        page: page::Page,
    ) -> Result<Option<ProcessRecord>, RemoteError> {
        if page.edges.is_empty() {
            return Ok(None);
        }
        let expect = Expect {
            process,
            scheduler: &su.address,
            next_slot: 0,
            previous: None,
            last_timestamp: 0,
        };
        let entries = page::verify(&page.edges, &expect).map_err(|source| rejected(su, source))?;
        let spawn = &entries[0].item;
        // Before anything is kept: a refused owner's process is neither stored nor followed.
        self.access.record(process, &spawn.ao_address())?;
        let record = ProcessRecord {
            id: process.to_string(),
            owner: spawn.ao_address(),
            module: spawn.tags.get("Module").unwrap_or_default().to_string(),
            scheduler: su.address.clone(),
            tags: spawn.tags.clone(),
            next_slot: 0,
            last_message_id: String::new(),
            last_hash_chain: String::new(),
            last_timestamp: 0,
        };
        if record.module.is_empty() {
            return Err(rejected(
                su,
                PageError::Slot {
                    process: process.into(),
                    slot: 0,
                    reason: page::Rejection::NoModule,
                },
            ));
        }
        Ok(Some(self.append(record, entries)?))
    }

    /// Read the pages after the last kept slot until the SU has no more.
    async fn follow(
        &self,
        su: &Su,
        mut record: ProcessRecord,
    ) -> Result<ProcessRecord, RemoteError> {
        loop {
            let path = format!(
                "/{}?from={}&limit={PAGE_LIMIT}",
                record.id, record.last_timestamp
            );
            let Some(page) = self.fetch(su, &path).await? else {
                return Err(RemoteError::Protocol {
                    address: su.address.clone(),
                    url: su.url.as_str().to_string(),
                    message: format!("no longer knows process {}", record.id),
                });
            };
            // Entries already kept (same timestamp) are skipped by their nonce.
            let edges: Vec<_> = page
                .edges
                .into_iter()
                .skip_while(|(_, a, _)| page::nonce_of(a).is_some_and(|n| n < record.next_slot))
                .collect();
            if edges.is_empty() {
                return Ok(record);
            }
            let expect = Expect {
                process: &record.id,
                scheduler: &su.address,
                next_slot: record.next_slot,
                previous: Some((&record.last_message_id, &record.last_hash_chain)),
                last_timestamp: record.last_timestamp,
            };
            let entries = page::verify(&edges, &expect).map_err(|source| rejected(su, source))?;
            record = self.append(record, entries)?;
            if !page.has_next {
                return Ok(record);
            }
        }
    }

    /// GET a page; `None` on 404.
    async fn fetch(&self, su: &Su, path: &str) -> Result<Option<page::Page>, RemoteError> {
        let call = Call::get(&su.url, path, MAX_PAGE_BYTES);
        let answer = self
            .client
            .send(call)
            .await
            .map_err(|e| RemoteError::Unreachable {
                address: su.address.clone(),
                message: e.to_string(),
            })?;
        let protocol = |message: String| RemoteError::Protocol {
            address: su.address.clone(),
            url: su.url.as_str().to_string(),
            message,
        };
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => page::parse(&answer.body)
                .map(Some)
                .map_err(|e| protocol(format!("GET {path}: {e}"))),
            s => Err(protocol(format!(
                "GET {path} answered {s}: {}",
                String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)])
            ))),
        }
    }

    /// Store verified entries after `record`'s last slot; the record after them.
    fn append(
        &self,
        mut record: ProcessRecord,
        entries: Vec<VerifiedEntry>,
    ) -> Result<ProcessRecord, RemoteError> {
        let mut copied = Vec::with_capacity(entries.len());
        for e in &entries {
            copied.push((
                scheduled(&record.id, e),
                bundle::encode(&[&e.assignment, &e.item]),
            ));
        }
        if let Some(last) = entries.last() {
            record.next_slot = last.slot + 1;
            record.last_message_id = last.assignment.id();
            record.last_hash_chain = last.hash_chain.clone();
            record.last_timestamp = last.timestamp;
        }
        self.store.append_copied(&record, &copied)?;
        tracing::debug!(
            process = %record.id,
            slots = entries.len(),
            next = record.next_slot,
            "copied from the remote scheduler"
        );
        Ok(record)
    }
}

fn rejected(su: &Su, source: PageError) -> RemoteError {
    RemoteError::Rejected {
        address: su.address.clone(),
        source: Box::new(source),
    }
}

/// The scheduled message of a verified entry, as the embedded scheduler would have stored it.
fn scheduled(process: &str, e: &VerifiedEntry) -> ScheduledMessage {
    ScheduledMessage {
        id: e.item.id(),
        assignment: Assignment {
            process: process.to_string(),
            slot: e.slot,
            epoch: e.epoch,
            timestamp: e.timestamp,
            block_height: e.block_height,
            hash_chain: e.hash_chain.clone(),
        },
        message: message_fields(&e.item),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// An SU that has no process at all, counting the requests it gets.
    async fn empty_su() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, SeqCst);
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let answer =
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        (url, hits)
    }

    #[tokio::test]
    async fn an_id_no_su_has_is_not_looked_up_again_at_once() {
        let (url, hits) = empty_su().await;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let config = BTreeMap::from([(crate::ao::b64url(&[3u8; 32]), url)]);
        let client = Client::new(&crate::net::ClientSettings::default()).unwrap();
        let remote =
            RemoteSchedulers::new(store, &config, client, None, Default::default()).unwrap();
        let unknown = crate::ao::b64url(&[9u8; 32]);
        for _ in 0..3 {
            let outcome = remote.sync(&unknown).await;
            assert!(
                matches!(outcome, Err(RemoteError::NotFound(_))),
                "{outcome:?}"
            );
        }
        assert_eq!(
            hits.load(SeqCst),
            1,
            "asked once, answered from the misses after"
        );
        let other = crate::ao::b64url(&[8u8; 32]);
        assert!(matches!(
            remote.sync(&other).await,
            Err(RemoteError::NotFound(_))
        ));
        assert_eq!(hits.load(SeqCst), 2, "another ID is looked up");
    }
}
