//! IDX files, the format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a
//! type byte, a dimension count, then each dimension as u32) followed by the values. Plain or
//! gzipped. Only unsigned bytes (type 0x08) are read, which is what those datasets use.

use std::io::Read as _;
use std::path::Path;

/// The most values one IDX file may declare (a guard against a hostile header).
pub const MAX_VALUES: usize = 1 << 31;

/// Why an IDX file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The file could not be read.
    #[error("could not read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The gzip stream is damaged or cut short.
    #[error("{path}: the gzip data is damaged or incomplete ({reason})")]
    BadGzip {
        /// The file.
        path: String,
        /// What the decoder said.
        reason: String,
    },
    /// Not an IDX file, or not one of unsigned bytes.
    #[error("{path}: not an IDX file of unsigned bytes ({reason})")]
    BadHeader {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Fewer or more bytes than the header declares.
    #[error(
        "{path}: the header declares {expected} values but the file holds {found} (truncated or damaged)"
    )]
    WrongLength {
        /// The file.
        path: String,
        /// Values declared.
        expected: usize,
        /// Values present.
        found: usize,
    },
}

/// An IDX array of bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Decodes IDX bytes (gzipped or not); `name` is used in error messages.
pub fn parse(bytes: &[u8], name: &str) -> Result<IdxArray, IdxError> {
    let raw;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_VALUES as u64 + 64)
            .read_to_end(&mut out)
            .map_err(|e| IdxError::BadGzip {
                path: name.to_owned(),
                reason: e.to_string(),
            })?;
        raw = out;
        &raw[..]
    } else {
        bytes
    };
    let bad = |reason: &str| IdxError::BadHeader {
        path: name.to_owned(),
        reason: reason.to_owned(),
    };
    if bytes.len() < 4 {
        return Err(bad("shorter than the 4-byte magic number"));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad("the magic number does not start with two zero bytes"));
    }
    if bytes[2] != 0x08 {
        return Err(bad(&format!(
            "value type 0x{:02x}, expected 0x08 (unsigned byte)",
            bytes[2]
        )));
    }
    let ndim = usize::from(bytes[3]);
    if ndim == 0 || ndim > 4 {
        return Err(bad(&format!("{ndim} dimensions")));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(bad("the header is cut short"));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_VALUES);
    let Some(expected) = expected else {
        return Err(bad(&format!("dimensions {dims:?} are too large")));
    };
    let found = bytes.len() - header;
    if found != expected {
        return Err(IdxError::WrongLength {
            path: name.to_owned(),
            expected,
            found,
        });
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Reads an IDX file, plain or gzipped.
pub fn read(path: &Path) -> Result<IdxArray, IdxError> {
    let bytes = std::fs::read(path).map_err(|source| IdxError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&bytes, &path.display().to_string())
}

/// Reads `DIR/NAME` or `DIR/NAME.gz`, whichever exists.
pub fn read_in(dir: &Path, name: &str) -> Result<IdxArray, IdxError> {
    let plain = dir.join(name);
    if plain.is_file() {
        return read(&plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return read(&gz);
    }
    Err(IdxError::Io {
        path: plain.display().to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("neither {name} nor {name}.gz is there"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            out.extend(d.to_be_bytes());
        }
        out.extend(data);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn reads_plain_and_gzipped() {
        let bytes = idx(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let a = parse(&bytes, "x").unwrap();
        assert_eq!(a.dims, [2, 3]);
        assert_eq!(a.data, [1, 2, 3, 4, 5, 6]);
        assert_eq!(parse(&gzip(&bytes), "x").unwrap(), a);
    }

    #[test]
    fn corrupt_and_truncated_files_are_clear_errors() {
        let bytes = idx(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let err = parse(&bytes[..8], "t.idx").unwrap_err().to_string();
        assert!(err.contains("cut short"), "{err}");
        let err = parse(&bytes[..bytes.len() - 1], "t.idx")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("declares 6 values but the file holds 5"),
            "{err}"
        );
        let gz = gzip(&bytes);
        let err = parse(&gz[..gz.len() - 6], "t.gz").unwrap_err().to_string();
        assert!(err.contains("gzip data is damaged"), "{err}");
        let mut floats = bytes.clone();
        floats[2] = 0x0d;
        assert!(
            parse(&floats, "f")
                .unwrap_err()
                .to_string()
                .contains("0x0d")
        );
        assert!(
            parse(b"PK\x03\x04zip", "z")
                .unwrap_err()
                .to_string()
                .contains("two zero bytes")
        );
        let huge = idx(&[u32::MAX, u32::MAX], &[]);
        assert!(
            parse(&huge, "h")
                .unwrap_err()
                .to_string()
                .contains("too large")
        );
        assert!(matches!(
            read_in(Path::new("/nonexistent"), "a"),
            Err(IdxError::Io { .. })
        ));
    }
}
