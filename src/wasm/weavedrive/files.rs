//! The open WeaveDrive files of one instance: descriptors, positions and how each kind reads.
//!
//! Two kinds, as the reference extension makes them:
//! - a *header* (`/tx/{id}`, `/block/{height}`): a JSON document held whole. The extension's
//!   `read` copies from its start whatever the position, and answers the length asked for;
//!   `fd_read` (line reads, `getc`) reads from the position as any file does.
//! - *data* (`/data/{id}`): the transaction's bytes. `read` copies from the position and
//!   advances it; `fd_read` is refused, as the reference (whose data files have no contents to
//!   read that way) fails there too.
//!
//! Descriptors are the lowest free number from 3 up (0–2 are the standard streams), as the
//! emscripten file system hands them out. The table lives as long as the instance, so a file
//! left open by one message is still open in the next, as it is in the reference.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What an open file reads.
#[derive(Debug, Clone)]
pub enum Contents {
    /// A header document (`/tx`, `/block`).
    Header(Arc<[u8]>),
    /// A transaction's data (`/data`).
    Data(Arc<[u8]>),
}

impl Contents {
    fn bytes(&self) -> &[u8] {
        match self {
            Contents::Header(b) | Contents::Data(b) => b,
        }
    }
}

#[derive(Debug)]
struct OpenFile {
    contents: Contents,
    position: u64,
}

/// `fd_read` on a data file: the reference cannot read those that way either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("WeaveDrive /data files are read with fread (the extension's read), not fd_read")]
pub struct NotReadable;

/// How `fd_seek` moves the position (WASI's numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whence {
    /// From the start.
    Set,
    /// From the position.
    Current,
    /// From the end.
    End,
}

impl Whence {
    /// WASI's `whence` value (0, 1, 2).
    pub fn from_wasi(value: i32) -> Option<Whence> {
        match value {
            0 => Some(Whence::Set),
            1 => Some(Whence::Current),
            2 => Some(Whence::End),
            _ => None,
        }
    }
}

/// The open files of an instance, by descriptor.
#[derive(Debug, Default)]
pub struct Files {
    open: BTreeMap<i32, OpenFile>,
    admitted: BTreeSet<String>,
}

/// The first descriptor handed out (after stdin, stdout, stderr).
const FIRST_FD: i32 = 3;

impl Files {
    /// Open `contents` on the lowest free descriptor.
    pub fn open(&mut self, contents: Contents) -> i32 {
        let mut fd = FIRST_FD;
        for &taken in self.open.keys() {
            if taken != fd {
                break;
            }
            fd += 1;
        }
        self.open.insert(
            fd,
            OpenFile {
                contents,
                position: 0,
            },
        );
        fd
    }

    /// Whether the data `id` was admitted before in this instance.
    pub fn was_admitted(&self, id: &str) -> bool {
        self.admitted.contains(id)
    }

    /// Remember that the data `id` was admitted.
    pub fn admitted(&mut self, id: &str) {
        self.admitted.insert(id.to_string());
    }

    /// Whether `fd` is one of these files.
    pub fn contains(&self, fd: i32) -> bool {
        self.open.contains_key(&fd)
    }

    /// Close `fd`; whether it was open.
    pub fn close(&mut self, fd: i32) -> bool {
        self.open.remove(&fd).is_some()
    }

    /// The extension's `read` of up to `length` bytes: the bytes to copy and the count to
    /// answer (for a header, the length asked for, whatever was copied). `None`: not open.
    pub fn extension_read(&mut self, fd: i32, length: u64) -> Option<(&[u8], u64)> {
        let file = self.open.get_mut(&fd)?;
        match &file.contents {
            Contents::Header(bytes) => {
                let n = clamp(length, bytes.len());
                Some((&bytes[..n], length))
            }
            Contents::Data(bytes) => {
                let start = clamp(file.position, bytes.len());
                let n = clamp(length, bytes.len() - start);
                file.position = (start + n) as u64;
                Some((&bytes[start..start + n], n as u64))
            }
        }
    }

    /// `fd_read` of up to `length` bytes from the position, which advances. `None`: not open.
    pub fn read_at_position(&mut self, fd: i32, length: u64) -> Option<Result<&[u8], NotReadable>> {
        let file = self.open.get_mut(&fd)?;
        let Contents::Header(bytes) = &file.contents else {
            return Some(Err(NotReadable));
        };
        let start = clamp(file.position, bytes.len());
        let n = clamp(length, bytes.len() - start);
        file.position += n as u64;
        Some(Ok(&bytes[start..start + n]))
    }

    /// `fd_seek`: the new position, or `None` when `fd` is not open; `Some(None)` when it would
    /// be negative (`EINVAL`).
    pub fn seek(&mut self, fd: i32, offset: i64, whence: Whence) -> Option<Option<u64>> {
        let file = self.open.get_mut(&fd)?;
        let base = match whence {
            Whence::Set => 0,
            Whence::Current => file.position,
            Whence::End => file.contents.bytes().len() as u64,
        };
        let target = i128::from(base) + i128::from(offset);
        let Ok(position) = u64::try_from(target) else {
            return Some(None);
        };
        file.position = position;
        Some(Some(position))
    }
}

/// `value` as an index no larger than `len`.
fn clamp(value: u64, len: usize) -> usize {
    usize::try_from(value).map_or(len, |v| v.min(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> Contents {
        Contents::Header(Arc::from(text.as_bytes()))
    }

    fn data(text: &str) -> Contents {
        Contents::Data(Arc::from(text.as_bytes()))
    }

    #[test]
    fn descriptors_are_the_lowest_free_from_three() {
        let mut files = Files::default();
        assert_eq!(files.open(header("a")), 3);
        assert_eq!(files.open(header("b")), 4);
        assert_eq!(files.open(header("c")), 5);
        assert!(files.close(4));
        assert!(!files.close(4), "closed twice");
        assert_eq!(files.open(data("d")), 4);
        assert_eq!(files.open(data("e")), 6);
    }

    #[test]
    fn data_reads_advance_and_stop_at_the_end() {
        let mut files = Files::default();
        let fd = files.open(data("hello world"));
        assert_eq!(files.extension_read(fd, 5).unwrap(), (&b"hello"[..], 5));
        assert_eq!(files.extension_read(fd, 100).unwrap(), (&b" world"[..], 6));
        assert_eq!(files.extension_read(fd, 5).unwrap(), (&b""[..], 0));
        // After a seek to the end nothing is left; back to the start reads again.
        assert_eq!(files.seek(fd, 0, Whence::End), Some(Some(11)));
        assert_eq!(files.extension_read(fd, 4).unwrap().1, 0);
        assert_eq!(files.seek(fd, 6, Whence::Set), Some(Some(6)));
        assert_eq!(files.extension_read(fd, 5).unwrap(), (&b"world"[..], 5));
        assert_eq!(files.read_at_position(fd, 1), Some(Err(NotReadable)));
    }

    #[test]
    fn header_reads_copy_from_the_start_and_answer_the_length_asked() {
        let mut files = Files::default();
        let fd = files.open(header("{\"a\":1}"));
        assert_eq!(files.seek(fd, 0, Whence::End), Some(Some(7)));
        assert_eq!(files.extension_read(fd, 7).unwrap(), (&b"{\"a\":1}"[..], 7));
        assert_eq!(files.extension_read(fd, 3).unwrap(), (&b"{\"a"[..], 3));
        assert_eq!(
            files.extension_read(fd, 50).unwrap(),
            (&b"{\"a\":1}"[..], 50)
        );
        // fd_read follows the position.
        assert_eq!(files.seek(fd, 2, Whence::Set), Some(Some(2)));
        assert_eq!(files.read_at_position(fd, 3), Some(Ok(&b"a\":"[..])));
        assert_eq!(files.read_at_position(fd, 9), Some(Ok(&b"1}"[..])));
        assert_eq!(files.read_at_position(fd, 9), Some(Ok(&b""[..])));
    }

    #[test]
    fn seeks_before_the_start_and_unknown_descriptors_are_refused() {
        let mut files = Files::default();
        let fd = files.open(data("abc"));
        assert_eq!(files.seek(fd, -1, Whence::Set), Some(None));
        assert_eq!(files.seek(fd, -2, Whence::End), Some(Some(1)));
        assert_eq!(
            files.seek(fd, i64::MAX, Whence::Current),
            Some(Some(i64::MAX as u64 + 1))
        );
        assert_eq!(files.extension_read(fd, 10).unwrap().1, 0, "past the end");
        assert!(files.seek(9, 0, Whence::Set).is_none());
        assert!(files.extension_read(9, 1).is_none());
        assert!(files.read_at_position(9, 1).is_none());
        assert!(!files.contains(9));
        assert_eq!(Whence::from_wasi(3), None);
    }
}
