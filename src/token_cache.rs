//! Verified-token cache: a bounded map from a token to its [`Principal`], so a repeated
//! token costs a hash and a lookup instead of a signature check.
//!
//! The map hashes tokens with SipHash under a per-isolate random salt (cheap, and callers
//! cannot aim collisions) and compares the whole token on a hit, so a lookup can only
//! ever return the principal of that exact token. An entry lives no longer than the
//! token's `exp`; the caller must also check that the signing `kid` is still among the
//! current keys (retired keys end it).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;

use crate::principal::Principal;

/// SipHash keyed by a random salt chosen when the cache is created.
#[derive(Clone, Copy)]
pub struct Salted(u64);

impl BuildHasher for Salted {
    type Hasher = DefaultHasher;

    fn build_hasher(&self) -> DefaultHasher {
        let mut hasher = DefaultHasher::new();
        hasher.write_u64(self.0);
        hasher
    }
}

struct Entry {
    principal: Principal,
    kid: String,
}

/// A FIFO-evicting cache with at most `capacity` entries (0 disables it).
pub struct TokenCache {
    capacity: usize,
    entries: HashMap<Rc<str>, Entry, Salted>,
    order: VecDeque<Rc<str>>,
}

impl TokenCache {
    pub fn new(capacity: usize, salt: u64) -> TokenCache {
        TokenCache { capacity, entries: HashMap::with_hasher(Salted(salt)), order: VecDeque::new() }
    }

    /// The cached principal and signing `kid`, if present and not past `exp` at `now`.
    pub fn get(&mut self, token: &str, now: i64) -> Option<(&Principal, &str)> {
        let expired = self.entries.get(token)?.principal.expires_at() < now;
        if expired {
            self.entries.remove(token);
            return None;
        }
        self.entries.get(token).map(|e| (&e.principal, e.kid.as_str()))
    }

    /// The principal verified earlier from `token`, if unexpired at `now` and if
    /// `still_trusted(principal, kid)` says its signing key still vouches for it; an entry
    /// that fails that check is dropped (the key was retired or re-tagged).
    pub fn get_trusted(&mut self, token: &str, now: i64, still_trusted: impl FnOnce(&Principal, &str) -> bool) -> Option<Principal> {
        let (principal, kid) = self.get(token, now)?;
        if still_trusted(principal, kid) {
            return Some(principal.clone());
        }
        self.remove(token);
        None
    }

    pub fn remove(&mut self, token: &str) {
        self.entries.remove(token);
    }

    pub fn insert(&mut self, token: &str, principal: Principal, kid: String) {
        if self.capacity == 0 {
            return;
        }
        let key: Rc<str> = Rc::from(token);
        if self.entries.insert(key.clone(), Entry { principal, kid }).is_none() {
            self.order.push_back(key);
        }
        while self.entries.len() > self.capacity {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
        // `order` may hold tokens already removed (expired, retired): keep it bounded too.
        if self.order.len() > 2 * self.capacity {
            self.order.retain(|t| self.entries.contains_key(t));
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(expires_at: i64) -> Principal {
        crate::principal::sample().with(|p| p.expires_at = expires_at)
    }

    #[test]
    fn repeated_token_is_a_hit() {
        let mut cache = TokenCache::new(10, 7);
        cache.insert("a.b.c", principal(100), "k1".into());
        let (p, kid) = cache.get("a.b.c", 50).unwrap();
        assert_eq!(p.expires_at(), 100);
        assert_eq!(kid, "k1");
        assert!(cache.get("a.b.d", 50).is_none());
    }

    #[test]
    fn only_the_exact_token_hits() {
        let mut cache = TokenCache::new(10, 7);
        cache.insert("header.claims.signature", principal(100), "k".into());
        for other in ["header.claims.signaturf", "header.claims.signature ", "header.claims.signatur", ""] {
            assert!(cache.get(other, 0).is_none(), "{other:?}");
        }
    }

    #[test]
    fn entry_ends_at_the_tokens_expiry() {
        let mut cache = TokenCache::new(10, 7);
        cache.insert("t", principal(100), "k".into());
        assert!(cache.get("t", 100).is_some());
        assert!(cache.get("t", 101).is_none());
        assert!(cache.is_empty(), "expired entries are dropped");
    }

    #[test]
    fn cache_is_bounded_oldest_first() {
        let mut cache = TokenCache::new(3, 7);
        for n in 0..10 {
            cache.insert(&format!("t{n}"), principal(100), "k".into());
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get("t9", 0).is_some());
        assert!(cache.get("t0", 0).is_none());
    }

    #[test]
    fn capacity_zero_disables_the_cache() {
        let mut cache = TokenCache::new(0, 7);
        cache.insert("t", principal(100), "k".into());
        assert!(cache.get("t", 0).is_none());
    }

    #[test]
    fn eviction_bookkeeping_stays_bounded_under_churn() {
        let mut cache = TokenCache::new(4, 7);
        for n in 0..1000 {
            let token = format!("t{n}");
            cache.insert(&token, principal(100), "k".into());
            cache.remove(&token);
        }
        assert!(cache.order.len() <= 8);
    }

    #[test]
    fn salts_change_the_hash() {
        let hash = |salt| {
            let mut h = Salted(salt).build_hasher();
            h.write(b"token");
            h.finish()
        };
        assert_ne!(hash(1), hash(2));
    }

    #[test]
    fn an_entry_whose_key_no_longer_vouches_is_dropped() {
        let mut cache = TokenCache::new(8, 7);
        cache.insert("a.b.c", principal(2000), "k1".into());
        assert!(cache.get_trusted("a.b.c", 1000, |_, kid| kid == "k1").is_some());
        assert!(cache.get_trusted("a.b.c", 1000, |_, _| false).is_none());
        assert!(cache.get_trusted("a.b.c", 1000, |_, _| true).is_none(), "dropped, not just skipped");
    }
}
