//! The names of the Workers bindings the gateway reads, in one place: the worker shell
//! looks them up, and `entra-edge-check` checks that `wrangler.toml` declares them.

/// KV namespace caching metadata + JWKS per authority/tenant/version (README "Signing keys").
pub const JWKS_CACHE: &str = "JWKS_CACHE";
/// Durable Object namespace of the rate limiter, class [`RATE_LIMITER_CLASS`].
pub const RATE_LIMITER: &str = "RATE_LIMITER";
pub const RATE_LIMITER_CLASS: &str = "EdgeRateLimiter";
/// Optional secret sent to the origin in `x-entra-edge-secret`.
pub const ORIGIN_SECRET: &str = "ORIGIN_SECRET";
/// KV namespace of the emergency revocation list (one key per entry under
/// `revocation::KV_PREFIX`); needed only with `[vars.ENTRA_EDGE.revocation] enabled = true`.
pub const REVOCATIONS: &str = "REVOCATIONS";
