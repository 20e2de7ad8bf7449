//! What one executor owns: the state of the processes placed on it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// The processes of one executor. Only that executor's thread ever touches a shard, so jobs
/// get `&mut Shard` with no lock: evaluation of a process never waits on another thread.
#[derive(Debug)]
pub struct Shard<S> {
    executor: usize,
    cpu: Option<usize>,
    pinned: bool,
    states: HashMap<String, S>,
}

impl<S> Shard<S> {
    pub(crate) fn new(executor: usize, cpu: Option<usize>) -> Shard<S> {
        Shard {
            executor,
            cpu,
            pinned: false,
            states: HashMap::new(),
        }
    }

    pub(crate) fn set_pinned(&mut self, pinned: bool) {
        self.pinned = pinned;
    }

    /// Index of the executor running this shard (`0..pool.len()`).
    pub fn executor(&self) -> usize {
        self.executor
    }

    /// The CPU this executor was planned on (`None` for an unpinned pool).
    pub fn cpu(&self) -> Option<usize> {
        self.cpu
    }

    /// Whether the executor thread is pinned to [`Shard::cpu`].
    pub fn pinned(&self) -> bool {
        self.pinned
    }

    /// The state of `process`, if this shard holds it.
    pub fn get(&self, process: &str) -> Option<&S> {
        self.states.get(process)
    }

    /// The state of `process` for change, if this shard holds it.
    pub fn get_mut(&mut self, process: &str) -> Option<&mut S> {
        self.states.get_mut(process)
    }

    /// The state of `process`, created with `make` when this shard does not hold it yet.
    pub fn get_or_insert_with(&mut self, process: &str, make: impl FnOnce() -> S) -> &mut S {
        self.states.entry(process.to_string()).or_insert_with(make)
    }

    /// Like [`Shard::get_or_insert_with`], for state whose creation can fail (a module that
    /// does not load, a checkpoint that does not restore): on error nothing is stored.
    pub fn try_get_or_insert_with<E>(
        &mut self,
        process: &str,
        make: impl FnOnce() -> Result<S, E>,
    ) -> Result<&mut S, E> {
        Ok(match self.states.entry(process.to_string()) {
            Entry::Occupied(held) => held.into_mut(),
            Entry::Vacant(slot) => slot.insert(make()?),
        })
    }

    /// Store the state of `process`, returning the one it replaces.
    pub fn insert(&mut self, process: &str, state: S) -> Option<S> {
        self.states.insert(process.to_string(), state)
    }

    /// Drop `process` from this shard, returning its state.
    pub fn remove(&mut self, process: &str) -> Option<S> {
        self.states.remove(process)
    }

    /// Number of processes held.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// True when no process is held.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The processes held and their states, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &S)> {
        self.states.iter().map(|(id, state)| (id.as_str(), state))
    }

    /// IDs of the processes held, in no particular order.
    pub fn process_ids(&self) -> impl Iterator<Item = &str> {
        self.states.keys().map(String::as_str)
    }
}
