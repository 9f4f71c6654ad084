//! The IDX file format of MNIST and Fashion-MNIST, read defensively.
//!
//! An IDX file is a header — two zero bytes, an element-type code, the number of
//! dimensions `d`, then `d` big-endian `u32` sizes — followed by the elements in row-major
//! order. Only unsigned bytes (type code `0x08`), what MNIST uses, are supported.
//!
//! Files come from the outside world, so every header field is checked against the bytes
//! actually present before anything is allocated from it, and every problem is an
//! [`Error::InvalidFile`] that names the file and the broken rule, never a panic.

use std::io::{self, Read};
use std::path::Path;

use flate2::read::GzDecoder;
use nabla_tensor::{Error, Result};

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Deflate cannot expand data by more than about 1032:1, so a gzip file of `n` bytes cannot
/// hold more than this many times `n` bytes: a header claiming more is a lie, rejected before
/// reading on.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// At most this much is reserved up front for a gzipped file's data; beyond it the buffer
/// grows only as real bytes arrive, so a lying header cannot make us allocate.
const MAX_PREALLOC: usize = 64 << 20;

/// The IDX type code of unsigned bytes.
const TYPE_U8: u8 = 0x08;

/// An n-dimensional array of bytes read from an IDX file: its sizes and its elements in
/// row-major order.
///
/// ```
/// use nabla_data::IdxArray;
/// let bytes = [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6];
/// let a = IdxArray::parse(&bytes, "inline.idx").unwrap();
/// assert_eq!(a.dims, vec![2, 3]);
/// assert_eq!(a.magic(), 0x0802);
/// assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The size of each dimension, outermost first.
    pub dims: Vec<usize>,
    /// The elements, row-major; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// The magic number of the file this array came from, as MNIST documents it:
    /// `0x0800 + ndim` (2049 for labels, 2051 for images).
    ///
    /// ```
    /// # use nabla_data::IdxArray;
    /// let labels = IdxArray { dims: vec![3], data: vec![7, 2, 1] };
    /// assert_eq!(labels.magic(), 2049);
    /// ```
    pub fn magic(&self) -> u32 {
        (u32::from(TYPE_U8) << 8) | self.dims.len() as u32
    }

    /// Parses an (uncompressed) IDX file held in memory; `name` is the file name used in
    /// error messages.
    ///
    /// ```
    /// use nabla_data::IdxArray;
    /// let err = IdxArray::parse(&[0, 0, 8, 1, 0, 0, 0, 5, 1, 2], "labels.idx").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "labels.idx: truncated data: the header promises 5 elements, the file holds 2"
    /// );
    /// ```
    pub fn parse(bytes: &[u8], name: impl AsRef<Path>) -> Result<IdxArray> {
        let name = name.as_ref();
        let header = parse_header(bytes, name)?;
        let body = &bytes[header.len..];
        check_body_len(name, header.numel, body.len() as u64)?;
        Ok(IdxArray { dims: header.dims, data: body.to_vec() })
    }
}

/// Reads an IDX file, gzipped or not: gzip is recognised by its magic bytes, not by the
/// file name.
///
/// Fails with an error naming the file for an unreadable file, an empty file, a bad magic
/// number, an unsupported element type, a truncated header or body, trailing bytes after
/// the body, a corrupt gzip stream, or sizes that cannot be right for the file's size.
///
/// ```
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist");
/// let labels = nabla_data::read_idx(format!("{dir}/t10k-labels-idx1-ubyte.gz")).unwrap();
/// assert_eq!(labels.dims, vec![10_000]);
/// assert_eq!(&labels.data[..3], &[7, 2, 1]);
/// ```
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let raw = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    if raw.is_empty() {
        return Err(Error::invalid_file(path, "empty file (0 bytes); expected an IDX header"));
    }
    if raw.starts_with(&GZIP_MAGIC) {
        read_gzipped(&raw, path)
    } else {
        IdxArray::parse(&raw, path)
    }
}

/// A validated IDX header.
struct Header {
    dims: Vec<usize>,
    /// The product of `dims`, checked not to overflow.
    numel: u64,
    /// The header's length in bytes.
    len: usize,
}

/// Parses and validates the header at the start of `bytes`.
fn parse_header(bytes: &[u8], name: &Path) -> Result<Header> {
    let bad = |reason: String| Error::invalid_file(name, reason);
    if bytes.is_empty() {
        return Err(bad("empty file (0 bytes); expected an IDX header".into()));
    }
    if bytes.len() < 4 {
        return Err(bad(format!(
            "truncated header: {} bytes, an IDX file starts with a 4-byte magic number",
            bytes.len()
        )));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(format!(
            "bad magic number {magic} (0x{magic:08x}): an IDX file starts with two zero bytes; \
             is this an IDX file?"
        )));
    }
    if bytes[2] != TYPE_U8 {
        return Err(bad(format!(
            "unsupported element type 0x{:02x} in magic number {magic}: only unsigned bytes \
             (0x08), as in MNIST, are supported",
            bytes[2]
        )));
    }
    let ndim = usize::from(bytes[3]);
    if ndim == 0 {
        return Err(bad(format!("bad magic number {magic}: an IDX file needs at least one dimension")));
    }
    let len = 4 + 4 * ndim;
    if bytes.len() < len {
        return Err(bad(format!(
            "truncated header: magic number {magic} announces {ndim} dimensions ({len} header \
             bytes), the file has {} bytes",
            bytes.len()
        )));
    }
    let dims: Vec<usize> =
        bytes[4..len].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let numel = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .ok_or_else(|| bad(format!("dimensions {dims:?} overflow a 64-bit element count")))?;
    Ok(Header { dims, numel, len })
}

/// Checks that the body holds exactly the `numel` elements the header promises.
fn check_body_len(name: &Path, numel: u64, have: u64) -> Result<()> {
    if have < numel {
        return Err(Error::invalid_file(
            name,
            format!("truncated data: the header promises {numel} elements, the file holds {have}"),
        ));
    }
    if have > numel {
        return Err(Error::invalid_file(
            name,
            format!(
                "{} trailing bytes after the {numel} elements the header promises; \
                 is the header corrupt or the file concatenated?",
                have - numel
            ),
        ));
    }
    Ok(())
}

/// Decompresses and parses a gzipped IDX file, never allocating more than the header
/// promises, and no more than [`MAX_PREALLOC`] before the bytes actually arrive.
fn read_gzipped(compressed: &[u8], path: &Path) -> Result<IdxArray> {
    let gz_err = |e: io::Error| Error::invalid_file(path, format!("corrupt or truncated gzip stream: {e}"));
    let mut decoder = GzDecoder::new(compressed);

    // The header is at most 4 + 4 * 255 bytes: read the magic, then the dimensions.
    let mut header = vec![0u8; 4];
    let got = read_up_to(&mut decoder, &mut header).map_err(gz_err)?;
    header.truncate(got);
    if got == 4 {
        let ndim = usize::from(header[3]);
        header.resize(4 + 4 * ndim, 0);
        let got = read_up_to(&mut decoder, &mut header[4..]).map_err(gz_err)?;
        header.truncate(4 + got);
    }
    let h = parse_header(&header, path)?;

    let max_possible = (compressed.len() as u64).saturating_mul(MAX_DEFLATE_RATIO);
    if h.numel > max_possible {
        return Err(Error::invalid_file(
            path,
            format!(
                "the header claims {} elements (dimensions {:?}), more than a {}-byte gzip file \
                 can hold; the header is corrupt",
                h.numel,
                h.dims,
                compressed.len()
            ),
        ));
    }
    let mut data = Vec::with_capacity((h.numel as usize).min(MAX_PREALLOC));
    // One byte more than promised tells a file with trailing bytes from an exact one.
    (&mut decoder).take(h.numel + 1).read_to_end(&mut data).map_err(gz_err)?;
    let mut have = data.len() as u64;
    if have > h.numel {
        // Count the rest without keeping it; a corrupt stream often decodes to garbage
        // past the promised length, and its checksum error is the better message.
        have += io::copy(&mut decoder, &mut io::sink()).map_err(gz_err)?;
    }
    check_body_len(path, h.numel, have)?;
    Ok(IdxArray { dims: h.dims, data })
}

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(body);
        v
    }

    fn err(bytes: &[u8]) -> String {
        IdxArray::parse(bytes, "f.idx").unwrap_err().to_string()
    }

    #[test]
    fn parses_a_small_file() {
        let a = IdxArray::parse(&idx(&[2, 2], &[1, 2, 3, 4]), "f").unwrap();
        assert_eq!(a.dims, vec![2, 2]);
        assert_eq!(a.data, vec![1, 2, 3, 4]);
    }

    #[test]
    fn zero_sized_dimension_is_fine() {
        let a = IdxArray::parse(&idx(&[0, 28, 28], &[]), "f").unwrap();
        assert_eq!(a.dims, vec![0, 28, 28]);
        assert!(a.data.is_empty());
    }

    #[test]
    fn rejects_bad_headers_with_file_name() {
        assert!(err(&[]).starts_with("f.idx: empty file"));
        assert!(err(&[0, 0]).contains("truncated header"));
        assert!(err(&[1, 2, 8, 1, 0, 0, 0, 0]).contains("bad magic number"));
        assert!(err(&[0, 0, 0x0d, 1, 0, 0, 0, 0]).contains("unsupported element type 0x0d"));
        assert!(err(&[0, 0, 8, 0]).contains("at least one dimension"));
        assert!(err(&[0, 0, 8, 3, 0, 0, 0, 1]).contains("truncated header"));
    }

    #[test]
    fn rejects_truncated_and_oversized_bodies() {
        assert!(err(&idx(&[3], &[1, 2])).contains("truncated data"));
        assert!(err(&idx(&[3], &[1, 2, 3, 4])).contains("1 trailing bytes"));
        assert!(err(&idx(&[1_000_000, 1_000_000], &[1])).contains("promises 1000000000000"));
    }

    #[test]
    fn rejects_element_count_overflow() {
        let dims = [u32::MAX; 4];
        assert!(err(&idx(&dims, &[])).contains("overflow"));
    }
}
