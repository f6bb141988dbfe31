//! C2SP tlog-tiles entry bundles: "sequences of big-endian uint16
//! length-prefixed log entries" (c2sp.org/tlog-tiles, "Log entries").

/// The largest entry an entry bundle can carry (a uint16 length prefix).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// A bad entry or entry bundle.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// An entry longer than 65,535 bytes: it cannot be encoded, and it is
    /// refused rather than truncated.
    #[error("entry of {len} bytes exceeds the tlog-tiles limit of {MAX_ENTRY_SIZE} bytes")]
    EntryTooLarge {
        /// The entry's length.
        len: usize,
    },
    /// The bundle ends inside a length prefix or inside an entry.
    #[error("entry bundle truncated in entry {entry} (byte offset {offset})")]
    Truncated {
        /// Position of the broken entry within the bundle.
        entry: usize,
        /// Byte offset where that entry starts.
        offset: usize,
    },
}

/// Appends one length-prefixed entry to a bundle under construction.
pub fn append_entry(out: &mut Vec<u8>, entry: &[u8]) -> Result<(), BundleError> {
    let len =
        u16::try_from(entry.len()).map_err(|_| BundleError::EntryTooLarge { len: entry.len() })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(entry);
    Ok(())
}

/// Iterates over the entries of a bundle; yields an error (once) if it is truncated.
#[must_use]
pub fn decode_bundle(bytes: &[u8]) -> BundleIter<'_> {
    BundleIter {
        rest: bytes,
        offset: 0,
        entry: 0,
        failed: false,
    }
}

/// Iterator returned by [`decode_bundle`].
#[derive(Debug, Clone)]
pub struct BundleIter<'a> {
    rest: &'a [u8],
    offset: usize,
    entry: usize,
    failed: bool,
}

impl<'a> Iterator for BundleIter<'a> {
    type Item = Result<&'a [u8], BundleError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let truncated = BundleError::Truncated {
            entry: self.entry,
            offset: self.offset,
        };
        let Some((len, body)) = self.rest.split_first_chunk::<2>() else {
            self.failed = true;
            return Some(Err(truncated));
        };
        let len = usize::from(u16::from_be_bytes(*len));
        let Some((entry, rest)) = body.split_at_checked(len) else {
            self.failed = true;
            return Some(Err(truncated));
        };
        self.rest = rest;
        self.offset += 2 + len;
        self.entry += 1;
        Some(Ok(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let mut b = Vec::new();
        append_entry(&mut b, b"").unwrap();
        append_entry(&mut b, b"hello").unwrap();
        append_entry(&mut b, &vec![7u8; MAX_ENTRY_SIZE]).unwrap();
        assert_eq!(&b[..9], b"\x00\x00\x00\x05hello");
        let got: Vec<_> = decode_bundle(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].len(), MAX_ENTRY_SIZE);
        assert_eq!(
            append_entry(&mut b, &vec![0u8; MAX_ENTRY_SIZE + 1]),
            Err(BundleError::EntryTooLarge {
                len: MAX_ENTRY_SIZE + 1
            })
        );
    }

    #[test]
    fn truncation_is_reported_with_its_place() {
        let mut b = Vec::new();
        append_entry(&mut b, b"abc").unwrap();
        append_entry(&mut b, b"defg").unwrap();
        for cut in 1..b.len() {
            let r: Result<Vec<_>, _> = decode_bundle(&b[..cut]).collect();
            if cut == 5 {
                assert!(r.is_ok());
                continue;
            }
            let err = r.unwrap_err();
            let want = if cut < 5 { (0, 0) } else { (1, 5) };
            assert_eq!(
                err,
                BundleError::Truncated {
                    entry: want.0,
                    offset: want.1
                },
                "cut {cut}"
            );
        }
    }
}
