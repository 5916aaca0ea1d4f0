//! Values parked while JS works on them (`settle`, `resume`), by a small number JS hands
//! back. A vector with a free list: the numbers are reused, the storage never grows beyond
//! the most requests ever in flight at once.

/// Parked values of one kind. Keys are 1-based (0 means "none" to the JS side).
pub struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

// `len` without `is_empty`: nothing asks whether a slab is empty.
#[allow(clippy::len_without_is_empty)]
impl<T> Slab<T> {
    pub const fn new() -> Slab<T> {
        Slab { slots: Vec::new(), free: Vec::new() }
    }

    /// Parks `value`; its key (never 0).
    pub fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(key) => {
                self.slots[key as usize - 1] = Some(value);
                key
            }
            None => {
                self.slots.push(Some(value));
                u32::try_from(self.slots.len()).unwrap_or(u32::MAX)
            }
        }
    }

    pub fn get(&self, key: u32) -> Option<&T> {
        self.slots.get((key as usize).checked_sub(1)?)?.as_ref()
    }

    /// How many values are parked.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Takes every parked value for which `stale` holds.
    pub fn take_where(&mut self, mut stale: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut taken = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(&mut stale) {
                taken.extend(slot.take());
                self.free.push(u32::try_from(index + 1).unwrap_or(u32::MAX));
            }
        }
        taken
    }

    /// Takes the value parked under `key` (each is taken once).
    pub fn remove(&mut self, key: u32) -> Option<T> {
        let value = self.slots.get_mut((key as usize).checked_sub(1)?)?.take()?;
        self.free.push(key);
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::Slab;

    #[test]
    fn keys_are_never_zero_and_each_value_is_taken_once() {
        let mut slab = Slab::new();
        let (a, b) = (slab.insert("a"), slab.insert("b"));
        assert!(a != 0 && b != 0 && a != b);
        assert_eq!(slab.remove(a), Some("a"));
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.remove(0), None);
        assert_eq!(slab.get(b), Some(&"b"));
    }

    #[test]
    fn stale_values_are_taken_and_their_keys_reused() {
        let mut slab = Slab::new();
        let keys: Vec<u32> = (0..5).map(|i| slab.insert(i)).collect();
        assert_eq!(slab.take_where(|v| v % 2 == 0), vec![0, 2, 4]);
        assert_eq!(slab.len(), 2);
        assert_eq!(slab.remove(keys[1]), Some(1));
        assert_eq!(slab.remove(keys[0]), None);
        let again = slab.insert(9);
        assert!(keys.contains(&again));
    }

    #[test]
    fn a_freed_key_is_reused_and_storage_stays_bounded() {
        let mut slab = Slab::new();
        for _ in 0..1000 {
            let key = slab.insert(1u8);
            assert_eq!(slab.remove(key), Some(1));
        }
        assert_eq!(slab.slots.len(), 1);
    }
}
