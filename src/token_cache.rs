//! Verified-token cache: a bounded map from a SHA-256 of the raw token to its
//! [`Principal`], so a repeated token costs a hash and a lookup instead of a signature
//! check. An entry lives no longer than the token's `exp`; the caller must also check
//! that the signing `kid` is still among the current keys (retired keys end it).

use std::collections::{HashMap, VecDeque};

use sha2::{Digest, Sha256};

use crate::principal::Principal;

pub type TokenHash = [u8; 32];

pub fn token_hash(raw: &str) -> TokenHash {
    Sha256::digest(raw.as_bytes()).into()
}

struct Entry {
    principal: Principal,
    kid: String,
}

/// A FIFO-evicting cache with at most `capacity` entries (0 disables it).
pub struct TokenCache {
    capacity: usize,
    entries: HashMap<TokenHash, Entry>,
    order: VecDeque<TokenHash>,
}

impl TokenCache {
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache { capacity, entries: HashMap::new(), order: VecDeque::new() }
    }

    /// The cached principal and signing `kid`, if present and not past `exp` at `now`.
    pub fn get(&mut self, hash: &TokenHash, now: i64) -> Option<(&Principal, &str)> {
        let expired = self.entries.get(hash)?.principal.expires_at() < now;
        if expired {
            self.entries.remove(hash);
            return None;
        }
        self.entries.get(hash).map(|e| (&e.principal, e.kid.as_str()))
    }

    pub fn remove(&mut self, hash: &TokenHash) {
        self.entries.remove(hash);
    }

    pub fn insert(&mut self, hash: TokenHash, principal: Principal, kid: String) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.insert(hash, Entry { principal, kid }).is_none() {
            self.order.push_back(hash);
        }
        while self.entries.len() > self.capacity {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
        // `order` may hold hashes already removed (expired, retired): keep it bounded too.
        if self.order.len() > 2 * self.capacity {
            self.order.retain(|h| self.entries.contains_key(h));
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
    use crate::principal::TokenKind;
    use crate::tenant::TenantId;
    use crate::token_version::TokenVersion;

    fn principal(expires_at: i64) -> Principal {
        Principal {
            tenant: TenantId::parse("3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41").unwrap(),
            object_id: None,
            subject: "s".into(),
            client_app_id: None,
            scopes: vec![],
            roles: vec![],
            version: TokenVersion::V2,
            kind: TokenKind::Delegated,
            expires_at,
            auth_contexts: vec![],
            client_capabilities: vec![],
            username: None,
        }
    }

    #[test]
    fn repeated_token_is_a_hit() {
        let mut cache = TokenCache::new(10);
        cache.insert(token_hash("a.b.c"), principal(100), "k1".into());
        let (p, kid) = cache.get(&token_hash("a.b.c"), 50).unwrap();
        assert_eq!(p.expires_at(), 100);
        assert_eq!(kid, "k1");
        assert!(cache.get(&token_hash("a.b.d"), 50).is_none());
    }

    #[test]
    fn entry_ends_at_the_tokens_expiry() {
        let mut cache = TokenCache::new(10);
        cache.insert(token_hash("t"), principal(100), "k".into());
        assert!(cache.get(&token_hash("t"), 100).is_some());
        assert!(cache.get(&token_hash("t"), 101).is_none());
        assert!(cache.is_empty(), "expired entries are dropped");
    }

    #[test]
    fn cache_is_bounded_oldest_first() {
        let mut cache = TokenCache::new(3);
        for n in 0..10 {
            cache.insert(token_hash(&format!("t{n}")), principal(100), "k".into());
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&token_hash("t9"), 0).is_some());
        assert!(cache.get(&token_hash("t0"), 0).is_none());
    }

    #[test]
    fn capacity_zero_disables_the_cache() {
        let mut cache = TokenCache::new(0);
        cache.insert(token_hash("t"), principal(100), "k".into());
        assert!(cache.get(&token_hash("t"), 0).is_none());
    }

    #[test]
    fn eviction_bookkeeping_stays_bounded_under_churn() {
        let mut cache = TokenCache::new(4);
        for n in 0..1000 {
            let hash = token_hash(&format!("t{n}"));
            cache.insert(hash, principal(100), "k".into());
            cache.remove(&hash);
        }
        assert!(cache.order.len() <= 8);
    }
}
