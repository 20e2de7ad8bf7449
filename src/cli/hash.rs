//! `aocu hash`: batch hashing of files, printing `b3sum` / `sha256sum` lines (`--check` verifies
//! such lists).
//!
//! Output lines are byte-identical to the reference tools: `<hex>  <name>`, where a name holding a
//! character the line format cannot carry is escaped and the line starts with a backslash. The
//! two tools differ: `b3sum` escapes `\` and newline and prints non-UTF-8 names lossily;
//! coreutils' `sha256sum` escapes `\`, newline and carriage return and prints names as raw bytes.
//! BLAKE3 lines follow `b3sum`, SHA-256 lines `sha256sum`, and so do the `--check` reports.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::Outcome;
use crate::hash::{Algorithm, Digest, Engine, Hasher};

/// Files up to this size are read whole into a batch; larger ones are streamed through the CPU.
const WHOLE_FILE_MAX: u64 = 512 << 20;
/// BLAKE3 files from this size on are memory-mapped and hashed on all cores at once (the
/// crate's `update_mmap_rayon`, as `b3sum` does): one such file alone has enough chunks to
/// keep every core busy, and reading it into a buffer first would cost more than hashing it.
/// Smaller files go into engine batches, which spread files over the cores (or the GPU).
const MMAP_MIN: u64 = 16 << 20;
/// Bytes of file contents held in memory per batch.
const BATCH_BYTES: u64 = 1 << 30;

/// Arguments of `aocu hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// Hash algorithm.
    #[arg(long, value_enum, default_value = "blake3")]
    pub alg: Algorithm,
    /// Engine: `auto` uses a hardware GPU for batches above the measured crossover.
    #[arg(long, value_enum, default_value = "auto")]
    pub engine: Engine,
    /// Read `<hex>  <path>` lines from the FILEs and verify them.
    #[arg(short = 'c', long)]
    pub check: bool,
    /// Print JSON instead of checksum lines.
    #[arg(long)]
    pub json: bool,
    /// Files to hash (or lists to check); `-` or none: standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// One file's outcome.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FileReport {
    /// The path (lossy UTF-8).
    pub path: String,
    /// Hex digest, when the file was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `--check` only: whether the digest matched the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// Why the file could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `aocu hash --json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct HashReport {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The engine setting.
    pub engine: Engine,
    /// Every file, in order.
    pub files: Vec<FileReport>,
}

/// Hash (or check) the files; exit 1 when any file is unreadable or does not match.
pub fn run(args: &HashArgs, crossover: Option<u64>) -> anyhow::Result<Outcome> {
    let hasher = Hasher::open(args.engine, crossover).context("opening the hash engine")?;
    let names: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    let style = Style::of(args.alg);
    let (files, failed) = if args.check {
        check_lists(&hasher, args.alg, style, &names, args.json)?
    } else {
        hash_files(&hasher, args.alg, style, &names, args.json)?
    };
    if args.json {
        let report = HashReport {
            algorithm: args.alg,
            engine: args.engine,
            files,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(if failed {
        Outcome::CheckFailed
    } else {
        Outcome::Success
    })
}

/// Hashes `names` in batches, printing lines as each batch completes.
fn hash_files(
    hasher: &Hasher,
    alg: Algorithm,
    style: Style,
    names: &[PathBuf],
    json: bool,
) -> anyhow::Result<(Vec<FileReport>, bool)> {
    let mut reports = Vec::new();
    let mut failed = false;
    let stdout = std::io::stdout();
    for batch in batches(names, large_from(alg)) {
        let digests = hash_batch(hasher, alg, &batch)?;
        let mut out = stdout.lock();
        for ((name, _), digest) in batch.iter().zip(digests) {
            let report = file_report(name, digest.as_ref().map(hex::encode), None);
            match digest {
                Ok(d) if !json => out.write_all(&style.line(&d, name))?,
                Ok(_) => {}
                Err(e) => {
                    failed = true;
                    eprintln!("aocu: {}: {e}", name.display());
                }
            }
            reports.push(report);
        }
        out.flush()?;
    }
    Ok((reports, failed))
}

fn file_report(name: &Path, digest: Result<String, &FileError>, ok: Option<bool>) -> FileReport {
    let (digest, error) = match digest {
        Ok(d) => (Some(d), None),
        Err(e) => (None, Some(e.to_string())),
    };
    FileReport {
        path: name.to_string_lossy().into_owned(),
        digest,
        ok,
        error,
    }
}

/// Why one file has no digest.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FileError {
    /// It could not be read; the message is the tools' (`No such file or directory`, without
    /// the OS code). Shared, because a file's error is reported where its batch is hashed.
    #[error("{}", io_message(.0))]
    Io(Arc<std::io::Error>),
    /// The engine gave back fewer digests than files (a bug of the engine).
    #[error("lost digest")]
    LostDigest,
}

impl From<std::io::Error> for FileError {
    fn from(e: std::io::Error) -> FileError {
        FileError::Io(Arc::new(e))
    }
}

/// A file read for hashing: its contents, or why it could not be read (or, for a large file,
/// nothing yet: it is streamed when the batch is hashed).
enum Contents {
    Bytes(Vec<u8>),
    Large,
    Failed(FileError),
}

/// The size from which a file of `alg` is streamed rather than read into a batch.
fn large_from(alg: Algorithm) -> u64 {
    match alg {
        Algorithm::Blake3 => MMAP_MIN,
        Algorithm::Sha256 => WHOLE_FILE_MAX,
    }
}

/// Groups files into batches of at most [`BATCH_BYTES`], reading each (lazily, batch by batch);
/// files of at least `large` bytes are left to be streamed.
fn batches(names: &[PathBuf], large: u64) -> impl Iterator<Item = Vec<(PathBuf, Contents)>> + '_ {
    let mut rest = names;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut batch = Vec::new();
        let mut bytes = 0u64;
        while let Some((name, tail)) = rest.split_first() {
            if bytes >= BATCH_BYTES {
                break;
            }
            let contents = read(name, large);
            if let Contents::Bytes(b) = &contents {
                bytes += b.len() as u64;
            }
            batch.push((name.clone(), contents));
            rest = tail;
        }
        Some(batch)
    })
}

/// Reads a file whole, or marks it for streaming when it has at least `large` bytes.
fn read(name: &Path, large: u64) -> Contents {
    let result = if name == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map(|_| Contents::Bytes(buf))
    } else {
        std::fs::metadata(name).and_then(|m| {
            if m.is_file() && m.len() >= large {
                Ok(Contents::Large)
            } else if m.is_dir() {
                Err(std::io::Error::other("Is a directory"))
            } else {
                std::fs::read(name).map(Contents::Bytes)
            }
        })
    };
    result.unwrap_or_else(|e| Contents::Failed(e.into()))
}

/// The I/O error as the tools print it (`No such file or directory`, without the OS code).
fn io_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Hashes one batch: the files read whole in one engine batch, large ones streamed on the CPU.
fn hash_batch(
    hasher: &Hasher,
    alg: Algorithm,
    batch: &[(PathBuf, Contents)],
) -> anyhow::Result<Vec<Result<Digest, FileError>>> {
    let whole: Vec<&[u8]> = batch
        .iter()
        .filter_map(|(_, c)| match c {
            Contents::Bytes(b) => Some(b.as_slice()),
            _ => None,
        })
        .collect();
    let mut digests = hasher
        .hash_batch(alg, &whole)
        .with_context(|| format!("hashing a batch of {} files", whole.len()))?
        .into_iter();
    Ok(batch
        .iter()
        .map(|(name, c)| match c {
            Contents::Bytes(_) => digests.next().ok_or(FileError::LostDigest),
            Contents::Large => stream(alg, name).map_err(FileError::from),
            Contents::Failed(e) => Err(e.clone()),
        })
        .collect())
}

/// Hashes a large file on the CPU: BLAKE3 memory-mapped across all cores (the crate falls
/// back to reading when the file cannot be mapped), SHA-256 in pieces.
fn stream(alg: Algorithm, name: &Path) -> std::io::Result<Digest> {
    match alg {
        Algorithm::Blake3 => {
            let mut h = blake3::Hasher::new();
            h.update_mmap_rayon(name)?;
            Ok(*h.finalize().as_bytes())
        }
        Algorithm::Sha256 => {
            let mut file = std::fs::File::open(name)?;
            let mut buf = vec![0u8; 8 << 20];
            use sha2::Digest as _;
            let mut h = sha2::Sha256::new();
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break Ok(h.finalize().into());
                }
                h.update(&buf[..n]);
            }
        }
    }
}

/// Verifies every checksum list; prints `NAME: OK` / `NAME: FAILED` lines.
fn check_lists(
    hasher: &Hasher,
    alg: Algorithm,
    style: Style,
    lists: &[PathBuf],
    json: bool,
) -> anyhow::Result<(Vec<FileReport>, bool)> {
    let mut reports = Vec::new();
    let (mut mismatched, mut unreadable, mut malformed) = (0usize, 0usize, 0usize);
    let stdout = std::io::stdout();
    for list in lists {
        let text = match read(list, WHOLE_FILE_MAX) {
            Contents::Bytes(b) => b,
            Contents::Large => {
                std::fs::read(list).with_context(|| format!("reading {}", list.display()))?
            }
            Contents::Failed(e) => {
                eprintln!("aocu: {}: {e}", list.display());
                unreadable += 1;
                continue;
            }
        };
        let mut entries = Vec::new();
        for (n, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            match parse_line(line) {
                Some(entry) => entries.push(entry),
                None => {
                    malformed += 1;
                    eprintln!(
                        "aocu: {}: line {}: not a `<64 hex digits>  <path>` line",
                        list.display(),
                        n + 1
                    );
                }
            }
        }
        let names: Vec<PathBuf> = entries.iter().map(|(_, p)| p.clone()).collect();
        let mut results = Vec::new();
        for batch in batches(&names, large_from(alg)) {
            results.extend(hash_batch(hasher, alg, &batch)?);
        }
        let mut out = stdout.lock();
        for ((want, name), got) in entries.iter().zip(results) {
            let ok = got.as_ref().ok().map(|d| d == want);
            match (&got, ok) {
                (Ok(_), Some(true)) => {}
                (Ok(_), _) => mismatched += 1,
                (Err(e), _) => {
                    unreadable += 1;
                    eprintln!("aocu: {}: {e}", name.display());
                }
            }
            if !json {
                out.write_all(&style.check_line(name, got.as_ref().map(|_| ok == Some(true))))?;
            }
            reports.push(file_report(name, got.as_ref().map(hex::encode), ok));
        }
        out.flush()?;
    }
    let plural = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    if malformed > 0 {
        eprintln!(
            "aocu: WARNING: {malformed} {} improperly formatted",
            plural(malformed, "line is", "lines are")
        );
    }
    if unreadable > 0 {
        eprintln!(
            "aocu: WARNING: {unreadable} listed {} could not be read",
            plural(unreadable, "file", "files")
        );
    }
    if mismatched > 0 {
        eprintln!(
            "aocu: WARNING: {mismatched} computed {} did NOT match",
            plural(mismatched, "checksum", "checksums")
        );
    }
    Ok((reports, mismatched + unreadable + malformed > 0))
}

/// `<64 hex>  <name>` or `<64 hex> *<name>`, with the leading-backslash escaping undone.
fn parse_line(line: &[u8]) -> Option<(Digest, PathBuf)> {
    let (escaped, line) = match line.strip_prefix(b"\\") {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let hex_part = line.get(..64)?;
    let sep = line.get(64..66)?;
    if sep != b"  " && sep != b" *" {
        return None;
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut digest).ok()?;
    let name = &line[66..];
    if name.is_empty() {
        return None;
    }
    let name = if escaped {
        unescape(name)?
    } else {
        name.to_vec()
    };
    Some((digest, path_from_bytes(name)))
}

/// Undoes `\\`, `\n` and `\r`; any other escape is malformed.
fn unescape(name: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(name.len());
    let mut bytes = name.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        out.push(match bytes.next()? {
            b'\\' => b'\\',
            b'n' => b'\n',
            b'r' => b'\r',
            _ => return None,
        });
    }
    Some(out)
}

#[cfg(unix)]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

/// Which tool's line format to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `b3sum`: escapes `\` and newline; names as lossy UTF-8.
    B3sum,
    /// coreutils `sha256sum`: escapes `\`, newline and carriage return; names as raw bytes.
    Coreutils,
}

impl Style {
    /// The tool whose format `alg`'s lines follow.
    pub fn of(alg: Algorithm) -> Style {
        match alg {
            Algorithm::Blake3 => Style::B3sum,
            Algorithm::Sha256 => Style::Coreutils,
        }
    }

    /// The name as the tool prints it, and whether it needed escaping.
    fn name(self, path: &Path, for_check: bool) -> (bool, Vec<u8>) {
        let raw = match self {
            Style::B3sum => path.to_string_lossy().into_owned().into_bytes(),
            Style::Coreutils => path_bytes(path),
        };
        let special = |b: &u8| match self {
            Style::B3sum => matches!(b, b'\\' | b'\n'),
            Style::Coreutils => matches!(b, b'\\' | b'\n' | b'\r'),
        };
        // coreutils escapes a name in a check report only when it holds a newline.
        let escape = match (self, for_check) {
            (Style::Coreutils, true) => raw.contains(&b'\n'),
            _ => raw.iter().any(special),
        };
        if !escape {
            return (false, raw);
        }
        let mut out = Vec::with_capacity(raw.len() + 4);
        for b in raw {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' if self == Style::Coreutils => out.extend_from_slice(b"\\r"),
                other => out.push(other),
            }
        }
        (true, out)
    }

    /// `<hex>  <name>\n`, with a leading backslash when the name is escaped.
    pub fn line(self, digest: &Digest, path: &Path) -> Vec<u8> {
        let (escaped, name) = self.name(path, false);
        let mut line = Vec::with_capacity(name.len() + 68);
        if escaped {
            line.push(b'\\');
        }
        line.extend_from_slice(hex::encode(digest).as_bytes());
        line.extend_from_slice(b"  ");
        line.extend_from_slice(&name);
        line.push(b'\n');
        line
    }

    /// `<name>: OK`, `<name>: FAILED`, or the unreadable-file form of the tool.
    pub fn check_line(self, path: &Path, matched: Result<bool, &FileError>) -> Vec<u8> {
        let (escaped, name) = self.name(path, true);
        let mut line = Vec::with_capacity(name.len() + 32);
        if escaped {
            line.push(b'\\');
        }
        line.extend_from_slice(&name);
        let verdict = match (matched, self) {
            (Ok(true), _) => ": OK".to_string(),
            (Ok(false), _) => ": FAILED".to_string(),
            (Err(_), Style::Coreutils) => ": FAILED open or read".to_string(),
            (Err(e), Style::B3sum) => format!(": FAILED ({e})"),
        };
        line.extend_from_slice(verdict.as_bytes());
        line.push(b'\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_each_tool() {
        let d = [0xabu8; 32];
        let hex = hex::encode(d);
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            Style::B3sum.line(&d, &p("a b")),
            format!("{hex}  a b\n").into_bytes()
        );
        assert_eq!(
            Style::B3sum.line(&d, &p("a\\b\nc\rd")),
            format!("\\{hex}  a\\\\b\\nc\rd\n").into_bytes()
        );
        assert_eq!(
            Style::Coreutils.line(&d, &p("a\\b\nc\rd")),
            format!("\\{hex}  a\\\\b\\nc\\rd\n").into_bytes()
        );
        assert_eq!(
            Style::Coreutils.check_line(&p("e\rf\\g"), Ok(true)),
            b"e\rf\\g: OK\n".to_vec()
        );
        assert_eq!(
            Style::B3sum.check_line(&p("e\rf\\g"), Ok(false)),
            b"\\e\rf\\\\g: FAILED\n".to_vec()
        );
    }

    #[test]
    fn unreadable_files_read_as_the_tools_print_them() {
        let missing = Path::new("/nonexistent/aocu-hash-test");
        let err = match read(missing, WHOLE_FILE_MAX) {
            Contents::Failed(e) => e,
            _ => panic!("a missing file was read"),
        };
        assert_eq!(err.to_string(), "No such file or directory");
        assert_eq!(
            Style::B3sum.check_line(missing, Err(&err)),
            b"/nonexistent/aocu-hash-test: FAILED (No such file or directory)\n".to_vec()
        );
        assert_eq!(
            Style::Coreutils.check_line(missing, Err(&err)),
            b"/nonexistent/aocu-hash-test: FAILED open or read\n".to_vec()
        );
        let report = file_report(missing, Err(&err), None);
        assert_eq!(report.error.as_deref(), Some("No such file or directory"));
    }

    #[test]
    fn lines_parse_back() {
        let d = [7u8; 32];
        for style in [Style::B3sum, Style::Coreutils] {
            for name in ["plain", "sp ace", "a\\b\nc\rd", "-"] {
                let line = style.line(&d, Path::new(name));
                let parsed = parse_line(&line[..line.len() - 1]);
                assert_eq!(parsed, Some((d, PathBuf::from(name))), "{style:?} {name:?}");
            }
        }
        assert_eq!(parse_line(b"zz  name"), None);
        assert_eq!(parse_line(format!("{}  ", hex::encode(d)).as_bytes()), None);
        assert_eq!(
            parse_line(format!("{}\tname", hex::encode(d)).as_bytes()),
            None
        );
    }
}
