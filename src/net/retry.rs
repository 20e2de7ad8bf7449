//! The retry policy every client call follows: a timeout per try, exponential back-off between
//! tries, and a decision on each error's variant (never on its text) whether another try may
//! help.

use std::future::Future;
use std::time::Duration;

/// How a peer is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per request (at least 1).
    pub attempts: u32,
    /// Wait after the first failed try; doubled after each further one.
    pub first_backoff: Duration,
    /// Longest wait between tries.
    pub max_backoff: Duration,
    /// Limit on one try (connect, TLS handshake, send, whole answer).
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        }
    }
}

/// An error that knows whether trying again may help.
pub trait Retryable: std::fmt::Display {
    /// Whether another try may succeed.
    fn is_retryable(&self) -> bool;
}

/// A call that failed every try it was given: the last try's error and the number of tries.
#[derive(Debug)]
pub struct Exhausted<E> {
    /// Tries made.
    pub tries: u32,
    /// Why the last one failed.
    pub last: E,
}

/// Run `attempt(n)` (n = 0, 1, ...) until it succeeds, fails with an error that is not
/// retryable, or `policy.attempts` tries are spent, sleeping the back-off between tries.
pub async fn retry<T, E, F, Fut>(policy: &RetryPolicy, mut attempt: F) -> Result<T, Exhausted<E>>
where
    E: Retryable,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let attempts = policy.attempts.max(1);
    let mut backoff = policy.first_backoff;
    let mut n = 0;
    loop {
        let last = match attempt(n).await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        n += 1;
        if n >= attempts || !last.is_retryable() {
            return Err(Exhausted { tries: n, last });
        }
        tracing::debug!(try_number = n, error = %last, "retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(policy.max_backoff);
    }
}

/// "after 1 try", "after 3 tries".
pub fn after(tries: u32) -> String {
    format!("after {tries} {}", if tries == 1 { "try" } else { "tries" })
}
