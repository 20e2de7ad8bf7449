//! Which `/data/{id}` a process may read, as the reference extension decides it.
//!
//! - The process' `On-Boot` tag naming the ID admits it (the boot loader reads its own code).
//! - Otherwise the module or the process must carry `Extension: WeaveDrive`.
//! - The mode is the process' `Availability-Type`, else the module's, else `Assignments`;
//!   any other value than `Assignments`, `Individual` or `Library` is an error.
//! - Every mode admits an ID attested by one of the process' attestors (its `Scheduler` tag and
//!   every `Attestor` tag) at or below the message's block height: an item with tags
//!   `Type: Attestation`, `Message: <id>`, `Data-Protocol: ao`. `Individual` also admits an
//!   item `Type: Available`, `ID: <id>`, `Data-Protocol: WeaveDrive`. `Library` is refused
//!   when no attestation is found (the reference does not implement it).
//!
//! Where a tag appears more than once the last value counts, as the reference's lookup takes
//! it.

use std::time::Instant;

use crate::ao::Tags;

use super::Source;

/// The availability mode (`Availability-Type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Attested by an assignment (the default).
    Assignments,
    /// Attested, or declared available by an attestor.
    Individual,
    /// Not implemented by the reference: only what is attested.
    Library,
    /// Anything else: every data read is an error.
    Unsupported(String),
}

/// The rules for one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    on_boot: Option<String>,
    extension: bool,
    mode: Mode,
    attestors: Vec<String>,
}

fn last<'a>(tags: &'a Tags, name: &'a str) -> Option<&'a str> {
    tags.get_all(name).last()
}

impl Admission {
    /// The rules of a process with `process_tags` running a module with `module_tags`.
    pub fn of(process_tags: &Tags, module_tags: &Tags) -> Admission {
        let has = |tags: &Tags| tags.get_all("Extension").any(|e| e == "WeaveDrive");
        let mode = last(process_tags, "Availability-Type")
            .or_else(|| last(module_tags, "Availability-Type"))
            .unwrap_or("Assignments");
        let mode = match mode {
            "Assignments" => Mode::Assignments,
            "Individual" => Mode::Individual,
            "Library" => Mode::Library,
            other => Mode::Unsupported(other.to_string()),
        };
        let attestors = last(process_tags, "Scheduler")
            .into_iter()
            .chain(process_tags.get_all("Attestor"))
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        Admission {
            on_boot: last(process_tags, "On-Boot").map(str::to_string),
            extension: has(module_tags) || has(process_tags),
            mode,
            attestors,
        }
    }

    /// The mode.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// May `id` be read by a message at `block_height`? `Err` says which rule refused it.
    pub fn admit(
        &self,
        id: &str,
        block_height: u64,
        source: &dyn Source,
        deadline: Instant,
    ) -> Result<(), String> {
        if self.on_boot.as_deref() == Some(id) {
            return Ok(());
        }
        if !self.extension {
            return Err("neither the module nor the process has `Extension: WeaveDrive`".into());
        }
        if let Mode::Unsupported(mode) = &self.mode {
            return Err(format!("unsupported Availability-Type `{mode}`"));
        }
        let ask = |query: String| {
            source
                .has_results(&query, deadline)
                .map_err(|e| format!("the attestation query failed: {e}"))
        };
        if ask(self.query(id, block_height, Kind::Attestation))? {
            return Ok(());
        }
        if self.mode == Mode::Individual && ask(self.query(id, block_height, Kind::Available))? {
            return Ok(());
        }
        Err(match self.mode {
            Mode::Library => "Availability-Type `Library` is not implemented (nor by the \
                              reference) and no attestation was found"
                .into(),
            _ => format!(
                "no attestation by {} at or below block {block_height}",
                self.attestors.join(", ")
            ),
        })
    }

    /// The GraphQL query the reference sends for `id`.
    pub fn query(&self, id: &str, block_height: u64, kind: Kind) -> String {
        let owners = self
            .attestors
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let (type_, key, protocol) = match kind {
            Kind::Attestation => ("Attestation", "Message", "ao"),
            Kind::Available => ("Available", "ID", "WeaveDrive"),
        };
        format!(
            "query {{ transactions(owners: [{owners}], block: {{min: 0, max: {block_height}}}, \
             tags: [{{ name: \"Type\", values: [\"{type_}\"] }}, \
             {{ name: \"{key}\", values: [\"{id}\"] }}, \
             {{ name: \"Data-Protocol\", values: [\"{protocol}\"] }}]) \
             {{ edges {{ node {{ tags {{ name value }} }} }} }} }}"
        )
    }
}

/// Which of the two queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Type: Attestation`, `Message: <id>`.
    Attestation,
    /// `Type: Available`, `ID: <id>` (mode `Individual`).
    Available,
}
