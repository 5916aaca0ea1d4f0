//! Small runtime helpers the shell modules share: the clock, timers, entropy.

use std::future::Future;
use std::time::Duration;

/// Milliseconds since the epoch, without allocating a JS `Date`. (The Workers runtime
/// advances it only across I/O.)
pub fn now_ms() -> u64 {
    worker::js_sys::Date::now() as u64
}

/// Seconds since the epoch.
pub fn now_seconds() -> i64 {
    (now_ms() / 1000) as i64
}

/// Runs `future` for at most `timeout` (a runtime timer); `None` when time ran out.
pub async fn within<T>(timeout: Duration, future: impl Future<Output = T>) -> Option<T> {
    use futures_util::future::{select, Either};
    let future = std::pin::pin!(future);
    let timer = std::pin::pin!(worker::Delay::from(timeout));
    match select(future, timer).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(_) => None,
    }
}

/// 24 random bytes (request ids, cache salts). Without entropy they are merely not
/// unique, which must not fail a request.
pub fn random_bytes() -> [u8; 24] {
    let mut bytes = [0u8; 24];
    let _ = getrandom::getrandom(&mut bytes);
    bytes
}
