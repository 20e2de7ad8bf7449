//! Waiting on the node's async runtime from an executor thread, with a deadline: the future
//! runs on the runtime, the thread waits on a channel, and a future still running at the
//! deadline is aborted. Never panics, whatever thread it is called on.

use std::time::Instant;

/// Run `future` on `runtime` and wait for its output until `deadline`; `None` when it is late.
pub fn wait_until<T, F>(runtime: &tokio::runtime::Handle, future: F, deadline: Instant) -> Option<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let task = runtime.spawn(async move {
        let _ = tx.send(future.await);
    });
    let left = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(left) {
        Ok(output) => Some(output),
        Err(_) => {
            task.abort();
            None
        }
    }
}
