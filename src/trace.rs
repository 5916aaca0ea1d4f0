//! Observing the checks of the pipeline as they run, for `entra-edge explain`.
//!
//! Each check of the core calls [`Trace::check`] with its stable name just before it runs.
//! When the function then returns a refusal, the last named check is the one that refused;
//! every check named before it passed. The worker passes `()`, whose method is an empty
//! inline function of a zero-sized value: the request path pays nothing (no argument, no
//! allocation, no branch) for it.

/// Receives the name of each check just before it runs.
pub trait Trace {
    /// `name` is stable (`header.alg`, `claims.aud`, `route.permissions`, …): it appears in
    /// `explain --json` output. A check that refuses is the last one named before the refusal.
    fn check(&mut self, name: &'static str);
}

/// No tracing: what the worker uses.
impl Trace for () {
    #[inline(always)]
    fn check(&mut self, _name: &'static str) {}
}

/// Records every check named, in order (for `explain` and tests).
impl Trace for &mut Vec<&'static str> {
    fn check(&mut self, name: &'static str) {
        self.push(name);
    }
}
