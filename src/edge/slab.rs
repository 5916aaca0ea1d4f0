//! Values parked while JS works on them (`settle`, `resume`), by a small number JS hands
//! back. A vector with a free list: slots are reused and the storage never grows beyond the
//! most values ever parked at once. A key names a slot *and* its generation, so a key whose
//! value was taken (or swept, `take_where`) never reaches the value parked in that slot later.

/// At most this many values parked at once (a slot index fits 16 bits of the key).
const MAX_SLOTS: usize = 0xFFFF;

/// Parked values of one kind. Keys are never 0 (0 means "none" to the JS side).
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<usize>,
}

struct Slot<T> {
    generation: u16,
    value: Option<T>,
}

/// The key of slot `index` in `generation`: the generation in the high 16 bits, the index
/// plus one in the low 16 bits.
fn key(index: usize, generation: u16) -> u32 {
    (u32::from(generation) << 16) | (index as u32 + 1)
}

// `len` without `is_empty`: nothing asks whether a slab is empty.
#[allow(clippy::len_without_is_empty)]
impl<T> Slab<T> {
    pub const fn new() -> Slab<T> {
        Slab { slots: Vec::new(), free: Vec::new() }
    }

    /// Parks `value`: its key (never 0), or the value back when [`MAX_SLOTS`] are in use.
    pub fn insert(&mut self, value: T) -> Result<u32, T> {
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index];
            slot.generation = slot.generation.wrapping_add(1);
            slot.value = Some(value);
            return Ok(key(index, slot.generation));
        }
        if self.slots.len() >= MAX_SLOTS {
            return Err(value);
        }
        self.slots.push(Slot { generation: 0, value: Some(value) });
        Ok(key(self.slots.len() - 1, 0))
    }

    fn slot(&self, key: u32) -> Option<usize> {
        let index = ((key & 0xFFFF) as usize).checked_sub(1)?;
        let slot = self.slots.get(index)?;
        (slot.generation == (key >> 16) as u16 && slot.value.is_some()).then_some(index)
    }

    pub fn get(&self, key: u32) -> Option<&T> {
        self.slots[self.slot(key)?].value.as_ref()
    }

    /// How many values are parked.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Takes every parked value for which `stale` holds (their keys stop working).
    pub fn take_where(&mut self, mut stale: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut taken = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if slot.value.as_ref().is_some_and(&mut stale) {
                taken.extend(slot.value.take());
                self.free.push(index);
            }
        }
        taken
    }

    /// Takes the value parked under `key` (each is taken once).
    pub fn remove(&mut self, key: u32) -> Option<T> {
        let index = self.slot(key)?;
        self.free.push(index);
        self.slots[index].value.take()
    }
}

#[cfg(test)]
mod tests {
    use super::Slab;

    #[test]
    fn keys_are_never_zero_and_each_value_is_taken_once() {
        let mut slab = Slab::new();
        let (a, b) = (slab.insert("a").unwrap(), slab.insert("b").unwrap());
        assert!(a != 0 && b != 0 && a != b);
        assert_eq!(slab.remove(a), Some("a"));
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.remove(0), None);
        assert_eq!(slab.get(b), Some(&"b"));
    }

    #[test]
    fn a_key_whose_value_was_taken_never_reaches_the_next_value_in_its_slot() {
        let mut slab = Slab::new();
        let old = slab.insert("old").unwrap();
        assert_eq!(slab.remove(old), Some("old"));
        let new = slab.insert("new").unwrap();
        assert_ne!(old, new, "same slot, another generation");
        assert_eq!(slab.get(old), None);
        assert_eq!(slab.remove(old), None);
        assert_eq!(slab.remove(new), Some("new"));
    }

    #[test]
    fn a_swept_key_never_reaches_the_value_that_reuses_its_slot() {
        let mut slab = Slab::new();
        let keys: Vec<u32> = (0..5).map(|i| slab.insert(i).unwrap()).collect();
        assert_eq!(slab.take_where(|v| v % 2 == 0), vec![0, 2, 4]);
        assert_eq!(slab.len(), 2);
        let reused = slab.insert(9).unwrap();
        // The late answer for a swept value finds nothing, and the new value stays parked.
        for swept in [keys[0], keys[2], keys[4]] {
            assert_eq!(slab.remove(swept), None);
        }
        assert_eq!(slab.remove(reused), Some(9));
        assert_eq!(slab.remove(keys[1]), Some(1));
    }

    #[test]
    fn a_freed_slot_is_reused_and_storage_stays_bounded() {
        let mut slab = Slab::new();
        for _ in 0..100_000 {
            let key = slab.insert(1u8).unwrap();
            assert_eq!(slab.remove(key), Some(1));
        }
        assert_eq!(slab.slots.len(), 1);
    }

    #[test]
    fn a_full_slab_gives_the_value_back() {
        let mut slab = Slab::new();
        for i in 0..super::MAX_SLOTS {
            slab.insert(i).unwrap();
        }
        assert_eq!(slab.insert(7), Err(7));
    }
}
