//! Safe image decoding: any format the image crate reads, with limits on size and memory so a
//! hostile or broken file gives an error instead of a panic or a huge allocation, and with the
//! EXIF orientation applied (phone photos are often stored sideways).

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder as _, ImageReader, RgbImage};

/// The largest photo accepted, in bytes on disk.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The largest side accepted, in pixels.
pub const MAX_SIDE_PX: u32 = 12_000;
/// The most memory one decode may allocate.
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageLoadError {
    /// The file could not be read.
    #[error("could not read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("the image file is empty")]
    Empty,
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("the image file is too large ({0} MB; the limit is 64 MB)")]
    TooLarge(u64),
    /// The format is not recognised.
    #[error("not an image format rollcall can read (JPEG, PNG, BMP, GIF, TIFF, WebP, PNM)")]
    UnknownFormat,
    /// The image is larger than the limits.
    #[error("the image is too large to decode ({0})")]
    LimitsExceeded(String),
    /// The file is damaged or truncated.
    #[error("the image is damaged or incomplete: {0}")]
    Corrupt(String),
    /// The image has no pixels.
    #[error("the image has no pixels ({0}x{1})")]
    NoPixels(u32, u32),
}

fn limits() -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(MAX_SIDE_PX);
    l.max_image_height = Some(MAX_SIDE_PX);
    l.max_alloc = Some(MAX_DECODE_BYTES);
    l
}

fn map_err(err: image::ImageError) -> ImageLoadError {
    match err {
        image::ImageError::Limits(e) => ImageLoadError::LimitsExceeded(e.to_string()),
        image::ImageError::Unsupported(e) => {
            if matches!(e.kind(), image::error::UnsupportedErrorKind::Format(_)) {
                ImageLoadError::UnknownFormat
            } else {
                ImageLoadError::Corrupt(e.to_string())
            }
        }
        other => ImageLoadError::Corrupt(other.to_string()),
    }
}

/// Decodes image bytes of any supported format, within the limits, with EXIF orientation applied.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, ImageLoadError> {
    if bytes.is_empty() {
        return Err(ImageLoadError::Empty);
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ImageLoadError::TooLarge(bytes.len() as u64 / (1024 * 1024)));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageLoadError::Corrupt(e.to_string()))?;
    if reader.format().is_none() {
        return Err(ImageLoadError::UnknownFormat);
    }
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(map_err)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(map_err)?;
    if image.width() == 0 || image.height() == 0 {
        return Err(ImageLoadError::NoPixels(image.width(), image.height()));
    }
    image.apply_orientation(orientation);
    Ok(image)
}

/// Decodes image bytes to 8-bit RGB (grey, alpha, 16-bit and CMYK are converted).
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage, ImageLoadError> {
    Ok(decode(bytes)?.to_rgb8())
}

/// Reads a file, refusing files over [`MAX_FILE_BYTES`] before reading them.
pub fn read_file(path: &Path) -> Result<Vec<u8>, ImageLoadError> {
    let io = |source| ImageLoadError::Io {
        path: path.display().to_string(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(ImageLoadError::TooLarge(len / (1024 * 1024)));
    }
    std::fs::read(path).map_err(io)
}

/// Reads and decodes an image file to RGB.
pub fn load_rgb(path: &Path) -> Result<RgbImage, ImageLoadError> {
    decode_rgb(&read_file(path)?)
}

/// The short name of the format of encoded image bytes ("jpeg", "png", ...).
#[must_use]
pub fn format_name(bytes: &[u8]) -> Option<&'static str> {
    image::guess_format(bytes)
        .ok()
        .map(|f| f.extensions_str().first().copied().unwrap_or("image"))
}

/// Encodes an RGB image as PNG.
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, ImageLoadError> {
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| ImageLoadError::Corrupt(e.to_string()))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_of(img: &DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        assert!(matches!(decode(&[]), Err(ImageLoadError::Empty)));
        assert!(matches!(
            decode(b"hello world, not an image"),
            Err(ImageLoadError::UnknownFormat)
        ));
        let png = png_of(&DynamicImage::new_rgb8(64, 48));
        assert!(matches!(
            decode(&png[..png.len() / 2]),
            Err(ImageLoadError::Corrupt(_))
        ));
    }

    #[test]
    fn a_header_claiming_a_huge_image_hits_the_limits() {
        // A PNG header (IHDR) claiming 20000 x 20000 pixels with no data behind it.
        let mut png = png_of(&DynamicImage::new_rgb8(1, 1));
        png[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(
            matches!(decode(&png), Err(ImageLoadError::LimitsExceeded(_))),
            "{:?}",
            decode(&png).err()
        );
    }

    #[test]
    fn grey_alpha_and_16_bit_images_become_rgb() {
        let grey = png_of(&DynamicImage::new_luma8(5, 4));
        assert_eq!(decode_rgb(&grey).unwrap().dimensions(), (5, 4));
        let rgba = png_of(&DynamicImage::new_rgba8(3, 2));
        assert_eq!(decode_rgb(&rgba).unwrap().dimensions(), (3, 2));
        let wide = png_of(&DynamicImage::new_rgb16(2, 2));
        assert_eq!(decode_rgb(&wide).unwrap().dimensions(), (2, 2));
        assert_eq!(format_name(&grey), Some("png"));
        assert_eq!(
            decode_rgb(&png_of(&DynamicImage::new_rgb8(1, 1)))
                .unwrap()
                .dimensions(),
            (1, 1)
        );
    }

    #[test]
    fn a_cmyk_jpeg_becomes_rgb() {
        // tests/data/images/cmyk.jpg: `convert -size 16x12 gradient:red-blue -colorspace CMYK cmyk.jpg`.
        let bytes =
            std::fs::read(crate::testdata::repo_file("tests/data/images/cmyk.jpg")).unwrap();
        let rgb = decode_rgb(&bytes).unwrap();
        assert_eq!(rgb.dimensions(), (16, 12));
        // The top row is red, the bottom row blue (within JPEG and CMYK round-trip error).
        let (top, bottom) = (rgb.get_pixel(8, 0), rgb.get_pixel(8, 11));
        assert!(top[0] > 150 && top[2] < 100, "{top:?}");
        assert!(bottom[2] > 150 && bottom[0] < 100, "{bottom:?}");
    }

    /// CRC-32 (IEEE) for patching PNG chunks in tests.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
