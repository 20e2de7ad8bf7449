use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::*;
use crate::ao::Tag;

/// A source that answers from a table and records the queries it was asked.
#[derive(Debug, Default)]
struct Table {
    files: HashMap<String, Vec<u8>>,
    attested: Vec<String>,
    queries: Mutex<Vec<String>>,
}

impl Source for Table {
    fn fetch(&self, what: Fetch<'_>, _: Instant) -> Result<Option<Bytes>, SourceError> {
        Ok(self.files.get(&what.path()).map(|b| Bytes::from(b.clone())))
    }

    fn has_results(&self, query: &str, _: Instant) -> Result<bool, SourceError> {
        self.queries.lock().unwrap().push(query.to_string());
        Ok(self
            .attested
            .iter()
            .any(|id| query.contains(&format!("[\"{id}\"]"))))
    }
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    Tags(pairs.iter().map(|(n, v)| Tag::new(*n, *v)).collect())
}

const ID: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const OTHER: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

fn table() -> Arc<Table> {
    let mut files = HashMap::new();
    files.insert(format!("/{ID}"), b"the data".to_vec());
    files.insert(format!("/{OTHER}"), b"other data".to_vec());
    files.insert(
        format!("/tx/{ID}"),
        br#"{"format":2,"id":"x","owner":"AQAB","tags":[]}"#.to_vec(),
    );
    files.insert(
        "/block/height/7".into(),
        b"\xEF\xBB\xBF{\"height\":7}".to_vec(),
    );
    Arc::new(Table {
        files,
        attested: vec![ID.to_string()],
        ..Table::default()
    })
}

fn wasm64() -> Tags {
    tags(&[("Module-Format", WASM64_FORMAT)])
}

fn drive(source: Arc<Table>, process: &[(&str, &str)], module: Tags) -> Drive {
    Drive::for_process(source, &tags(process), &module).expect("a drive")
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

#[test]
fn attached_to_the_wasm64_format_or_the_extension_tag_only() {
    let source = table();
    assert!(Drive::for_process(source.clone(), &Tags::new(), &wasm64()).is_some());
    let tagged = tags(&[
        ("Module-Format", "wasm32-unknown-emscripten"),
        ("Extension", "WeaveDrive"),
    ]);
    assert!(Drive::for_process(source.clone(), &Tags::new(), &tagged).is_some());
    let plain = tags(&[("Module-Format", "wasm32-unknown-emscripten")]);
    assert!(Drive::for_process(source, &Tags::new(), &plain).is_none());
}

#[test]
fn headers_and_blocks_read_as_the_reference_writes_them() {
    let d = drive(table(), &[], wasm64());
    let mut files = Files::default();
    let fd = d
        .open(&mut files, &format!("/tx/{ID}"), 10, soon())
        .unwrap();
    let (bytes, _) = files.extension_read(fd, 1000).unwrap();
    // `ownerAddress` is appended after the gateway's keys: base64url(SHA-256(0x010001)).
    let text = std::str::from_utf8(bytes).unwrap().to_string();
    assert_eq!(
        text,
        r#"{"format":2,"id":"x","owner":"AQAB","tags":[],"ownerAddress":"hfkN_qHYAn4UY-XKlxolARCiDfARnSBKdCILxjUW0Vs"}"#
    );
    let fd = d.open(&mut files, "/block/7", 10, soon()).unwrap();
    assert_eq!(
        files.extension_read(fd, 12).unwrap().0,
        b"{\"height\":7}",
        "BOM dropped"
    );
}

#[test]
fn other_paths_open_nothing_and_missing_files_are_errors() {
    let d = drive(table(), &[("Extension", "WeaveDrive")], wasm64());
    let mut files = Files::default();
    for path in [
        "/headers/x",
        "/etc/passwd",
        "data/x",
        "/data/",
        "/tx/a\"b",
        "./init.lua",
    ] {
        assert_eq!(d.open(&mut files, path, 10, soon()), Ok(0), "{path}");
    }
    let missing = "/tx/CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";
    assert!(matches!(
        d.open(&mut files, missing, 10, soon()),
        Err(DriveError::NotFound { .. })
    ));
}

#[test]
fn data_needs_the_extension_and_an_attestation_below_the_block_height() {
    let source = table();
    let process = [
        ("Scheduler", "SCHED"),
        ("Attestor", "ATT"),
        ("Extension", "WeaveDrive"),
    ];
    let d = drive(source.clone(), &process, wasm64());
    let mut files = Files::default();
    let fd = d
        .open(&mut files, &format!("/data/{ID}"), 1234, soon())
        .unwrap();
    assert_eq!(files.extension_read(fd, 100).unwrap().0, b"the data");
    let query = source.queries.lock().unwrap()[0].clone();
    for part in [
        "owners: [\"SCHED\", \"ATT\"]",
        "max: 1234",
        "\"Attestation\"",
        "\"Message\"",
    ] {
        assert!(query.contains(part), "{part} in {query}");
    }
    // Admitted once per instance: a second open asks nothing.
    d.open(&mut files, &format!("/data/{ID}"), 1234, soon())
        .unwrap();
    assert_eq!(source.queries.lock().unwrap().len(), 1);
    // Not attested: refused (Assignments mode asks only the attestation query).
    let err = d
        .open(&mut files, &format!("/data/{OTHER}"), 1234, soon())
        .unwrap_err();
    assert!(matches!(err, DriveError::NotAdmitted { .. }), "{err}");
    assert_eq!(source.queries.lock().unwrap().len(), 2);
    // Without the extension tag on module or process: refused before any query.
    let bare = drive(source.clone(), &[("Scheduler", "SCHED")], wasm64());
    let err = bare
        .open(&mut Files::default(), &format!("/data/{ID}"), 1, soon())
        .unwrap_err();
    assert!(err.to_string().contains("Extension: WeaveDrive"), "{err}");
    assert_eq!(source.queries.lock().unwrap().len(), 2);
}

#[test]
fn on_boot_modes_and_the_individual_query() {
    let source = table();
    let boot = drive(source.clone(), &[("On-Boot", OTHER)], wasm64());
    let fd = boot.open(&mut Files::default(), &format!("/data/{OTHER}"), 1, soon());
    assert!(fd.is_ok(), "On-Boot admits without a query: {fd:?}");
    assert!(source.queries.lock().unwrap().is_empty());

    let individual = [
        ("Extension", "WeaveDrive"),
        ("Availability-Type", "Individual"),
    ];
    let d = drive(source.clone(), &individual, wasm64());
    assert_eq!(d.admission.mode(), &Mode::Individual);
    d.open(&mut Files::default(), &format!("/data/{OTHER}"), 1, soon())
        .unwrap_err();
    let asked = source.queries.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "attestation, then availability");
    assert!(asked[1].contains("\"Available\"") && asked[1].contains("\"WeaveDrive\""));

    // The process' mode overrides the module's; the last tag counts; unknown modes fail.
    let module = tags(&[
        ("Module-Format", WASM64_FORMAT),
        ("Availability-Type", "Library"),
    ]);
    let a = Admission::of(&tags(&[("Availability-Type", "Individual")]), &module);
    assert_eq!(a.mode(), &Mode::Individual);
    assert_eq!(Admission::of(&Tags::new(), &module).mode(), &Mode::Library);
    let odd = [
        ("Extension", "WeaveDrive"),
        ("Availability-Type", "X"),
        ("Availability-Type", "Y"),
    ];
    let d = drive(source, &odd, wasm64());
    let err = d
        .open(&mut Files::default(), &format!("/data/{ID}"), 1, soon())
        .unwrap_err();
    assert!(err.to_string().contains("`Y`"), "{err}");
}
