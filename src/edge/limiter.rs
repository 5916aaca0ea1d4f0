//! The rate-limit Durable Object (SQLite-backed) and the worker's client for it.
//!
//! One object per bucket (`idFromName(bucket)`), so every request of a bucket, from any
//! Cloudflare location, is decided by one single-threaded owner: the limit is exact.
//! The decision (read the windows' TATs, run GCRA, write them) happens with no `await`
//! in between, on the object's own clock, so concurrent requests cannot interleave.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use worker::{durable_object, Date, DurableObject, Env, Method, Request, RequestInit, Response, Result, SqlStorageValue, State};

use super::runtime::within;
use crate::rate_limit::{decide, RateLimit, Verdict, Window};

pub const BINDING: &str = crate::bindings::RATE_LIMITER;

#[derive(Serialize, Deserialize)]
struct Check {
    windows: Vec<Window>,
}

#[derive(Deserialize)]
struct Row {
    tat: f64,
}

#[durable_object]
pub struct EdgeRateLimiter {
    state: State,
}

impl DurableObject for EdgeRateLimiter {
    fn new(state: State, env: Env) -> Self {
        if let Err(err) = state.storage().sql().exec("CREATE TABLE IF NOT EXISTS windows (id TEXT PRIMARY KEY, tat INTEGER NOT NULL)", None)
        {
            // The object shares the worker's configuration (and so its log_level) when it is valid.
            let level = super::isolate::get(&env).map_or(crate::config::LogLevel::Info, |i| i.config.log.level);
            let event = crate::event::Event::new(crate::event::Kind::RateLimiterStorageFailed).with("detail", err.to_string());
            super::log::emit(&event, None, level);
        }
        EdgeRateLimiter { state }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        let check: Check = request.json().await?;
        // From here to the response: no await, so this bucket decides one request at a time.
        let sql = self.state.storage().sql();
        let now_us = Date::now().as_millis() as i64 * 1000;
        let mut tats = Vec::with_capacity(check.windows.len());
        for window in &check.windows {
            let rows: Vec<Row> =
                sql.exec("SELECT tat FROM windows WHERE id = ?", vec![SqlStorageValue::String(window.id())])?.to_array()?;
            tats.push(rows.first().map(|row| row.tat as i64));
        }
        let (verdict, stored) = decide(&check.windows, &tats, now_us);
        if verdict.allowed {
            for (window, tat) in check.windows.iter().zip(stored) {
                sql.exec(
                    "INSERT INTO windows (id, tat) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET tat = excluded.tat",
                    vec![SqlStorageValue::String(window.id()), SqlStorageValue::try_from_i64(tat)?],
                )?;
            }
        }
        Response::from_json(&verdict)
    }
}

/// Asks the bucket's object whether one more request is admitted: one round trip, bounded
/// by the limit's `timeout_ms` (past it: an error, and the limit's `failure_mode` applies;
/// the object may still count the request it was asked about).
pub async fn check(env: &Env, limit: &RateLimit, bucket: &str) -> std::result::Result<Verdict, String> {
    let namespace = env.durable_object(BINDING).map_err(|e| format!("Durable Object binding {BINDING}: {e}"))?;
    let stub = namespace.id_from_name(bucket).and_then(|id| id.get_stub()).map_err(|e| e.to_string())?;
    let body = serde_json::to_string(&Check { windows: limit.windows.clone() }).map_err(|e| e.to_string())?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let request = Request::new_with_init("https://rate-limiter.internal/check", &init).map_err(|e| e.to_string())?;
    let call = async {
        let mut response = stub.fetch_with_request(request).await.map_err(|e| e.to_string())?;
        if response.status_code() != 200 {
            return Err(format!("rate limiter answered HTTP {}", response.status_code()));
        }
        response.json::<Verdict>().await.map_err(|e| e.to_string())
    };
    within(Duration::from_millis(limit.timeout_ms), call)
        .await
        .unwrap_or_else(|| Err(format!("rate limiter did not answer within {} ms", limit.timeout_ms)))
}
