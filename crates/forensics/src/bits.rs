//! A subject set that is either live (a [`RoaringBitmap`], while its day or
//! block still receives accesses) or frozen (its portable Roaring
//! serialization, once it is complete).
//!
//! Why: in memory a Roaring bitmap costs ~60 bytes per container besides
//! its values (the container struct and its heap allocation), and a
//! principal who reads 1,000 customers a day out of 34 million touches
//! ~500 containers with two values each — ~30 KB a day in memory against
//! ~4 KB serialized. At a billion subject-accesses the live form does not
//! fit in memory; the serialized one does, and a query deserializes only the
//! few bitmaps it unions.

use std::borrow::Cow;
use std::io;

use roaring::RoaringBitmap;

/// A live or frozen subject set.
#[derive(Clone, Debug)]
pub enum Bits {
    /// Live.
    Hot(RoaringBitmap),
    /// Serialized (portable format), written by this process or validated
    /// when loaded.
    Frozen(Box<[u8]>),
}

impl Default for Bits {
    fn default() -> Bits {
        Bits::Hot(RoaringBitmap::new())
    }
}

impl Bits {
    /// The set (deserialized if frozen).
    #[must_use]
    pub fn get(&self) -> Cow<'_, RoaringBitmap> {
        match self {
            Bits::Hot(b) => Cow::Borrowed(b),
            // The bytes were written by `freeze` or validated by
            // `from_bytes`: the unchecked read cannot meet a malformed
            // bitmap; should it fail anyway, an empty set is returned.
            Bits::Frozen(bytes) => Cow::Owned(
                RoaringBitmap::deserialize_unchecked_from(bytes.as_ref()).unwrap_or_default(),
            ),
        }
    }

    /// Adds `run`, thawing a frozen set. Returns true if it was frozen.
    pub fn or_assign(&mut self, run: &RoaringBitmap) -> bool {
        match self {
            Bits::Hot(b) => {
                *b |= run;
                false
            }
            Bits::Frozen(_) => {
                let mut b = self.get().into_owned();
                b |= run;
                *self = Bits::Hot(b);
                true
            }
        }
    }

    /// Serializes a live set.
    pub fn freeze(&mut self) {
        if let Bits::Hot(b) = self {
            let mut out = Vec::with_capacity(b.serialized_size());
            if b.serialize_into(&mut out).is_ok() {
                *self = Bits::Frozen(out.into_boxed_slice());
            }
        }
    }

    /// True if live.
    #[must_use]
    pub fn is_hot(&self) -> bool {
        matches!(self, Bits::Hot(_))
    }

    /// Size in the portable format.
    #[must_use]
    pub fn serialized_size(&self) -> usize {
        match self {
            Bits::Hot(b) => b.serialized_size(),
            Bits::Frozen(bytes) => bytes.len(),
        }
    }

    /// Writes the portable format.
    ///
    /// # Errors
    /// If `w` fails.
    pub fn write(&self, w: &mut impl io::Write) -> io::Result<()> {
        match self {
            Bits::Hot(b) => b.serialize_into(w),
            Bits::Frozen(bytes) => w.write_all(bytes),
        }
    }

    /// A frozen set from outside bytes, validated.
    ///
    /// # Errors
    /// If the bytes are not exactly one valid bitmap.
    pub fn from_bytes(bytes: Vec<u8>) -> io::Result<Bits> {
        let mut r = bytes.as_slice();
        RoaringBitmap::deserialize_from(&mut r)?;
        if !r.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bytes after the bitmap",
            ));
        }
        Ok(Bits::Frozen(bytes.into_boxed_slice()))
    }
}
