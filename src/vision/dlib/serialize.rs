//! dlib's binary serialization format (`dlib/serialize.h`), read and written byte for byte.
//!
//! * Integers are packed: one control byte (low 4 bits: byte count 1..=8, bit 0x80: negative
//!   for signed types) followed by the magnitude, least significant byte first.
//! * Floats are `float_details`: a packed `int64` mantissa and a packed `int16` exponent,
//!   value = mantissa · 2^exponent (exponents 32000..=32002 mean +inf, -inf and NaN).
//! * Strings: a packed length, then the bytes. Bools: the ASCII byte `'1'` or `'0'`.
//! * `resizable_tensor` (`dlib/cuda/tensor.h`): version 2, four packed sizes
//!   (`num_samples, k, nr, nc`), then the values as little-endian IEEE `f32`.
//! * `alias_tensor`: version 1 and the four sizes, no data.
//! * `matrix<float,0,1>` (`dlib/matrix/matrix.h`): `-nr`, `-nc`, then each value as a float.

use std::fmt;

/// What went wrong while reading a dlib file, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason} (at byte {offset})")]
pub struct DatError {
    /// The byte offset where reading failed.
    pub offset: usize,
    /// What is wrong, for a human.
    pub reason: String,
}

/// A dlib tensor: its four sizes (`num_samples, k, nr, nc`) and its values in that order.
#[derive(Clone, PartialEq)]
pub struct DlibTensor {
    /// `[num_samples, k, nr, nc]`.
    pub shape: [usize; 4],
    /// The values, row-major over the shape.
    pub data: Vec<f32>,
}

impl fmt::Debug for DlibTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DlibTensor{:?}", self.shape)
    }
}

/// The largest number of values one tensor or matrix may claim (a damaged size must not
/// allocate gigabytes).
const MAX_VALUES: usize = 64 * 1024 * 1024;

/// Reads dlib-serialized values from a byte slice.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// The current byte offset.
    #[must_use]
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Whether every byte has been read.
    #[must_use]
    pub fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// An error at the current offset.
    pub fn error(&self, reason: impl Into<String>) -> DatError {
        DatError {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DatError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.error("the file ends too early"));
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// A packed signed integer.
    pub fn int(&mut self) -> Result<i64, DatError> {
        let start = self.pos;
        let control = self.take(1)?[0];
        let size = usize::from(control & 0x0F);
        if size == 0 || size > 8 {
            self.pos = start;
            return Err(self.error(format!("bad integer control byte 0x{control:02x}")));
        }
        let mut magnitude = 0u64;
        for (i, &b) in self.take(size)?.iter().enumerate() {
            magnitude |= u64::from(b) << (8 * i);
        }
        let value = i64::try_from(magnitude).map_err(|_| self.error("integer out of range"))?;
        Ok(if control & 0x80 != 0 { -value } else { value })
    }

    /// A packed signed integer without consuming it.
    pub fn peek_int(&mut self) -> Result<i64, DatError> {
        let start = self.pos;
        let value = self.int();
        self.pos = start;
        value
    }

    /// A packed integer that must lie in `0..=max`.
    pub fn count(&mut self, what: &str, max: usize) -> Result<usize, DatError> {
        let start = self.pos;
        let v = self.int()?;
        match usize::try_from(v) {
            Ok(v) if v <= max => Ok(v),
            _ => {
                self.pos = start;
                Err(self.error(format!("{what} is {v}, expected 0..={max}")))
            }
        }
    }

    /// A version number that must be one of `allowed`.
    pub fn version(&mut self, what: &str, allowed: &[i64]) -> Result<i64, DatError> {
        let start = self.pos;
        let v = self.int()?;
        if allowed.contains(&v) {
            Ok(v)
        } else {
            self.pos = start;
            Err(self.error(format!(
                "{what} has version {v}, expected one of {allowed:?}"
            )))
        }
    }

    /// A floating-point value in dlib's `float_details` form, as `f64`.
    pub fn float64(&mut self) -> Result<f64, DatError> {
        if self.bytes.get(self.pos).is_some_and(|b| b & 0x70 != 0) {
            return Err(self.error("old text-format float (dlib before 2013) is not supported"));
        }
        let mantissa = self.int()?;
        let exponent = self.int()?;
        Ok(match exponent {
            32000 => f64::INFINITY,
            32001 => f64::NEG_INFINITY,
            32002 => f64::NAN,
            e => {
                let e = i32::try_from(e).map_err(|_| self.error("float exponent out of range"))?;
                mantissa as f64 * 2f64.powi(e)
            }
        })
    }

    /// A floating-point value as `f32` (dlib converts the same way: mantissa · 2^exponent).
    pub fn float(&mut self) -> Result<f32, DatError> {
        Ok(self.float64()? as f32)
    }

    /// A length-prefixed string.
    pub fn string(&mut self) -> Result<String, DatError> {
        let len = self.count("string length", 4096)?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.error("a name is not UTF-8"))
    }

    /// A bool (`'1'` or `'0'`).
    pub fn bool(&mut self) -> Result<bool, DatError> {
        match self.take(1)?[0] {
            b'1' => Ok(true),
            b'0' => Ok(false),
            other => {
                self.pos -= 1;
                Err(self.error(format!("bad bool byte 0x{other:02x}")))
            }
        }
    }

    fn four_sizes(&mut self) -> Result<[usize; 4], DatError> {
        let mut shape = [0usize; 4];
        for s in &mut shape {
            *s = self.count("tensor size", MAX_VALUES)?;
        }
        let total = shape.iter().try_fold(1usize, |acc, &s| acc.checked_mul(s));
        match total {
            Some(t) if t <= MAX_VALUES => Ok(shape),
            _ => Err(self.error(format!("tensor of shape {shape:?} is too large"))),
        }
    }

    /// A `resizable_tensor`.
    pub fn tensor(&mut self) -> Result<DlibTensor, DatError> {
        self.version("tensor", &[2])?;
        let shape = self.four_sizes()?;
        let n = shape.iter().product::<usize>();
        let raw = self.take(n * 4)?;
        let data = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(DlibTensor { shape, data })
    }

    /// An `alias_tensor` (sizes only).
    pub fn alias_tensor(&mut self) -> Result<[usize; 4], DatError> {
        self.version("alias_tensor", &[1])?;
        self.four_sizes()
    }

    /// A column vector `matrix<float,0,1>`.
    pub fn float_column(&mut self) -> Result<Vec<f32>, DatError> {
        let nr = self.int()?.unsigned_abs();
        let nc = self.int()?.unsigned_abs();
        if nc != 1 && nr != 0 {
            return Err(self.error(format!("expected a column vector, found {nr}x{nc}")));
        }
        let n = usize::try_from(nr)
            .ok()
            .filter(|&n| n <= MAX_VALUES)
            .ok_or_else(|| self.error("matrix too large"))?;
        (0..n).map(|_| self.float()).collect()
    }
}

/// Writes values in dlib's serialization format (used to build files in tests and tools).
#[derive(Default)]
pub struct Writer {
    /// The bytes written so far.
    pub bytes: Vec<u8>,
}

impl Writer {
    /// A packed signed integer.
    pub fn int(&mut self, v: i64) -> &mut Self {
        let mut magnitude = v.unsigned_abs();
        let mut buf = Vec::new();
        loop {
            buf.push((magnitude & 0xFF) as u8);
            magnitude >>= 8;
            if magnitude == 0 {
                break;
            }
        }
        let neg = if v < 0 { 0x80 } else { 0 };
        self.bytes.push(buf.len() as u8 | neg);
        self.bytes.extend(buf);
        self
    }

    /// A float in `float_details` form (exact for every finite `f32`).
    pub fn float(&mut self, v: f32) -> &mut Self {
        if v == 0.0 {
            return self.int(0).int(0);
        }
        // dlib: frexp gives v = m · 2^e with 0.5 <= |m| < 1; mantissa = m · 2^24.
        let bits = f64::from(v);
        let e = bits.abs().log2().floor() as i32 + 1;
        let mut mantissa = (bits / 2f64.powi(e - 24)) as i64;
        let mut exponent = i64::from(e - 24);
        while mantissa != 0 && mantissa.trailing_zeros() >= 8 {
            mantissa >>= 8;
            exponent += 8;
        }
        self.int(mantissa).int(exponent)
    }

    /// A length-prefixed string.
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.int(s.len() as i64);
        self.bytes.extend_from_slice(s.as_bytes());
        self
    }

    /// A bool as `'1'` / `'0'`.
    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.bytes.push(if b { b'1' } else { b'0' });
        self
    }

    /// A `resizable_tensor`.
    pub fn tensor(&mut self, shape: [usize; 4], data: &[f32]) -> &mut Self {
        self.int(2);
        for s in shape {
            self.int(s as i64);
        }
        for v in data {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
        self
    }

    /// An `alias_tensor`.
    pub fn alias_tensor(&mut self, shape: [usize; 4]) -> &mut Self {
        self.int(1);
        for s in shape {
            self.int(s as i64);
        }
        self
    }

    /// A column vector `matrix<float,0,1>`.
    pub fn float_column(&mut self, values: &[f32]) -> &mut Self {
        self.int(-(values.len() as i64)).int(-1);
        for &v in values {
            self.float(v);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_floats_round_trip_and_match_dlib_bytes() {
        // Bytes of the real model file's header: version 1, "loss_metric_2", margin 0.04.
        let mut w = Writer::default();
        w.int(1).string("loss_metric_2").float(0.04);
        assert_eq!(&w.bytes[..4], &[0x01, 0x01, 0x01, 0x0d]);
        assert_eq!(&w.bytes[17..], &[0x03, 0x0a, 0xd7, 0xa3, 0x81, 0x1c]);
        let mut r = Reader::new(&w.bytes);
        assert_eq!(r.int().unwrap(), 1);
        assert_eq!(r.string().unwrap(), "loss_metric_2");
        assert_eq!(r.float().unwrap(), 0.04);
        assert!(r.at_end());

        let values = [
            0.0f32,
            -1.5,
            3.25e-7,
            122.782,
            f32::MIN_POSITIVE,
            -7.0e30,
            1.0,
        ];
        let mut w = Writer::default();
        for v in values {
            w.float(v);
        }
        w.int(-300).int(i64::from(i32::MAX)).bool(true).bool(false);
        let mut r = Reader::new(&w.bytes);
        for v in values {
            assert_eq!(r.float().unwrap(), v);
        }
        assert_eq!(r.int().unwrap(), -300);
        assert_eq!(r.int().unwrap(), i64::from(i32::MAX));
        assert!(r.bool().unwrap());
        assert!(!r.bool().unwrap());
    }

    #[test]
    fn damaged_input_is_an_error_with_an_offset() {
        assert!(Reader::new(&[]).int().is_err());
        assert_eq!(Reader::new(&[0x00]).int().unwrap_err().offset, 0);
        assert!(Reader::new(&[0x02, 0x01]).int().is_err());
        assert!(Reader::new(b"x").bool().is_err());
        // A tensor claiming 2^40 values.
        let mut w = Writer::default();
        w.int(2).int(1 << 20).int(1 << 20).int(1).int(1);
        assert!(Reader::new(&w.bytes).tensor().is_err());
        // A tensor whose data is cut short.
        let mut w = Writer::default();
        w.tensor([1, 2, 1, 1], &[1.0, 2.0]);
        let cut = &w.bytes[..w.bytes.len() - 1];
        assert!(Reader::new(cut).tensor().is_err());
        assert_eq!(
            Reader::new(&w.bytes).tensor().unwrap().data,
            vec![1.0f32, 2.0]
        );
    }
}
