//! Response hygiene: security headers on every answer, leaky origin headers removed.

/// Headers added to every response (unless the origin set them itself), and origin
/// headers removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityHeaders {
    pub add: Vec<(String, String)>,
    /// Lowercase names of origin response headers to drop.
    pub remove: Vec<String>,
}
