//! Cursors of `transactions` edges: the record's sort key and ID, base64url, so that `after`
//! resumes a page exactly after the record it names.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::execute::{ExecError, invalid};
use super::records::TxRecord;

/// The cursor of `tx`.
pub(super) fn encode_cursor(tx: &TxRecord) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", tx.order, tx.id))
}

/// The (sort key, ID) a cursor names, or why it is not a cursor of this gateway.
pub(super) fn decode_cursor(cursor: &str) -> Result<(u64, String), ExecError> {
    let bad = || {
        invalid(format!(
            "`after: \"{cursor}\"` is not a cursor of this gateway"
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (order, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((order.parse().map_err(|_| bad())?, id.to_string()))
}
