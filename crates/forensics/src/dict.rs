//! Dense subject numbering: each subject pseudonym seen gets the next `u32`,
//! so subject sets are Roaring bitmaps. Ids are never reused or renumbered;
//! the dictionary only grows.

use std::collections::BTreeMap;

use events::Pseudonym;
use roaring::RoaringBitmap;

/// Pseudonyms ↔ dense ids, and subject countries.
#[derive(Clone, Debug, Default)]
pub struct SubjectDict {
    ids: hashbrown::HashMap<[u8; 16], u32>,
    keys: Vec<[u8; 16]>,
    /// Subjects by country (ISO 3166-1 alpha-2), from the registry.
    countries: BTreeMap<String, RoaringBitmap>,
}

/// The 16 key bytes of a subject string: the pseudonym's bytes, or for a
/// string that is not a pseudonym (never written by Custos for access
/// events, but the ledger is outside input to this index) the first 16 bytes
/// of its SHA-256, so it is still counted once.
#[must_use]
pub fn subject_key(s: &str) -> [u8; 16] {
    if let Some(p) = Pseudonym::from_base64url(s) {
        return p.0;
    }
    use sha2::Digest;
    let d = sha2::Sha256::digest(s.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(d.get(..16).unwrap_or(&[0; 16]));
    k
}

impl SubjectDict {
    /// An empty dictionary.
    #[must_use]
    pub fn new() -> SubjectDict {
        SubjectDict::default()
    }

    /// The id of `key`, assigning the next one if it is new.
    pub fn id_of_key(&mut self, key: [u8; 16]) -> u32 {
        let next = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        let id = *self.ids.entry(key).or_insert(next);
        if id == next {
            self.keys.push(key);
        }
        id
    }

    /// The id of subject string `s` (a pseudonym), assigning one if new.
    pub fn id_of(&mut self, s: &str) -> u32 {
        self.id_of_key(subject_key(s))
    }

    /// The id of `s` if it has one.
    #[must_use]
    pub fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(&subject_key(s)).copied()
    }

    /// The pseudonym (base64url) of id `id`.
    #[must_use]
    pub fn pseudonym(&self, id: u32) -> Option<String> {
        self.keys
            .get(id as usize)
            .map(|k| Pseudonym(*k).to_base64url())
    }

    /// Number of subjects numbered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if no subject has been numbered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key bytes in id order.
    #[must_use]
    pub fn keys(&self) -> &[[u8; 16]] {
        &self.keys
    }

    /// Records that subject `key` lives in `country` (replacing any earlier
    /// country).
    pub fn set_country(&mut self, key: [u8; 16], country: &str) {
        let before = self.keys.len();
        let id = self.id_of_key(key);
        if self.keys.len() == before {
            for bits in self.countries.values_mut() {
                bits.remove(id);
            }
        }
        self.countries
            .entry(country.to_owned())
            .or_default()
            .insert(id);
    }

    /// Subjects per country.
    #[must_use]
    pub fn countries(&self) -> &BTreeMap<String, RoaringBitmap> {
        &self.countries
    }

    /// Replaces the country sets (snapshot load).
    pub(crate) fn set_countries(&mut self, countries: BTreeMap<String, RoaringBitmap>) {
        self.countries = countries;
    }

    /// Appends keys in id order (snapshot load). Duplicates are refused.
    pub(crate) fn push_key(&mut self, key: [u8; 16]) -> bool {
        let next = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        if self.ids.insert(key, next).is_some() {
            return false;
        }
        self.keys.push(key);
        true
    }

    /// Bytes held, roughly.
    #[must_use]
    pub fn memory_bytes(&self) -> u64 {
        let per = 16 + 4 + 8; // key + id + hash-table overhead
        (self.ids.capacity() * per + self.keys.capacity() * 16) as u64
            + self
                .countries
                .values()
                .map(|b| b.serialized_size() as u64)
                .sum::<u64>()
    }
}
