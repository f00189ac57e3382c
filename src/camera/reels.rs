//! The reels of file replays: a folder of images, one image, an animated GIF/PNG/WebP; and
//! image decoding with limits (a hostile or broken file is an error, never a panic or a huge
//! allocation), EXIF orientation applied.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::time::Duration;

use image::codecs::gif::GifDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::{
    AnimationDecoder, DynamicImage, ImageDecoder as _, ImageFormat, ImageReader, RgbImage,
};

use super::error::CameraError;

/// What a replay plays: a fixed number of frames, made on demand.
pub(crate) trait Reel: Send {
    /// How many frames one pass has.
    fn len(&self) -> usize;
    /// Frame `index` (< `len`); [`CameraError::CorruptFrame`] skips it.
    fn frame(&mut self, index: usize) -> Result<RgbImage, CameraError>;
    /// How long frame `index` stays up by the file's own timing (animations), if it has one.
    fn natural_interval(&self, _index: usize) -> Option<Duration> {
        None
    }
    /// The name of the source.
    fn name(&self) -> String;
}

/// The largest image file a replay reads, bytes.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The largest side a replay decodes, pixels.
pub const MAX_SIDE_PX: u32 = 12_000;
/// The most memory one decode may allocate, and the most an animation may hold decoded.
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;
/// Animation frames shorter than this play at [`SHORT_DELAY_REPLACEMENT`] (browsers do the
/// same: a 0 ms GIF delay means "default").
const MIN_NATURAL_DELAY: Duration = Duration::from_millis(20);
const SHORT_DELAY_REPLACEMENT: Duration = Duration::from_millis(100);

/// The image format of `path` by its extension, when it is one rollcall decodes.
#[must_use]
pub fn image_format_of(path: &Path) -> Option<ImageFormat> {
    let format = ImageFormat::from_path(path).ok()?;
    matches!(
        format,
        ImageFormat::Jpeg
            | ImageFormat::Png
            | ImageFormat::Bmp
            | ImageFormat::Gif
            | ImageFormat::Tiff
            | ImageFormat::WebP
            | ImageFormat::Pnm
    )
    .then_some(format)
}

fn limits() -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(MAX_SIDE_PX);
    l.max_image_height = Some(MAX_SIDE_PX);
    l.max_alloc = Some(MAX_DECODE_BYTES);
    l
}

/// Decodes image bytes of any enabled format within the limits, EXIF orientation applied.
pub fn decode_bytes(bytes: &[u8]) -> Result<RgbImage, String> {
    if bytes.is_empty() {
        return Err("the file is empty".to_owned());
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    image.apply_orientation(orientation);
    if image.width() == 0 || image.height() == 0 {
        return Err(format!(
            "the image has no pixels ({}x{})",
            image.width(),
            image.height()
        ));
    }
    Ok(image.into_rgb8())
}

/// Reads and decodes one image file; the error text says what went wrong.
pub fn decode_file(path: &Path) -> Result<RgbImage, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "the file is too large ({} MB; the limit is {} MB)",
            size / (1024 * 1024),
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    decode_bytes(&bytes)
}

/// Orders file names the way people number frames: digit runs compare as numbers
/// ("frame2" before "frame10"), the rest by characters, case-insensitively; names equal that
/// way ("frame02", "frame2") fall back to plain byte order so the order is total.
#[must_use]
pub fn natural_cmp(a_name: &str, b_name: &str) -> Ordering {
    let (mut a, mut b) = (a_name.as_bytes(), b_name.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return a_name.cmp(b_name),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (trim_zeros(&a[..da]), trim_zeros(&b[..db]));
                let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                let order = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros.min(digits.len().saturating_sub(1))..]
}

/// A folder of images, sorted in natural order; each is decoded when its turn comes.
pub struct FolderReel {
    folder: PathBuf,
    files: Vec<PathBuf>,
}

impl FolderReel {
    /// Lists the images of `folder` (hidden files, subfolders and other files are left out).
    pub fn open(folder: &Path) -> Result<Self, CameraError> {
        let shown = folder.display().to_string();
        if !folder.exists() {
            return Err(CameraError::ReplayNotFound { path: shown });
        }
        let entries = std::fs::read_dir(folder).map_err(|e| CameraError::Replay {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                let hidden = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_none_or(|n| n.starts_with('.'));
                !hidden && path.is_file() && image_format_of(path).is_some()
            })
            .collect();
        if files.is_empty() {
            return Err(CameraError::EmptyFolder { path: shown });
        }
        files.sort_by(|a, b| {
            natural_cmp(
                &a.file_name().unwrap_or_default().to_string_lossy(),
                &b.file_name().unwrap_or_default().to_string_lossy(),
            )
        });
        log::debug!("replay of {shown}: {} images", files.len());
        Ok(Self {
            folder: folder.to_owned(),
            files,
        })
    }
}

impl Reel for FolderReel {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn frame(&mut self, index: usize) -> Result<RgbImage, CameraError> {
        let path = &self.files[index];
        decode_file(path).map_err(|message| CameraError::CorruptFrame {
            what: path.display().to_string(),
            message,
        })
    }

    fn name(&self) -> String {
        format!("replay of {}", self.folder.display())
    }
}

/// One image, decoded once.
pub struct StillReel {
    path: PathBuf,
    image: RgbImage,
}

impl StillReel {
    /// Decodes the image at `path`; a broken file is an error here (there is nothing to skip to).
    pub fn open(path: &Path) -> Result<Self, CameraError> {
        let shown = path.display().to_string();
        if !path.exists() {
            return Err(CameraError::ReplayNotFound { path: shown });
        }
        let image = decode_file(path).map_err(|message| CameraError::Replay {
            path: shown,
            message,
        })?;
        Ok(Self {
            path: path.to_owned(),
            image,
        })
    }
}

impl Reel for StillReel {
    fn len(&self) -> usize {
        1
    }

    fn frame(&mut self, _index: usize) -> Result<RgbImage, CameraError> {
        Ok(self.image.clone())
    }

    fn name(&self) -> String {
        format!("replay of {}", self.path.display())
    }
}

/// The frames of an animated GIF, PNG (APNG) or WebP, decoded up front (within
/// [`MAX_DECODE_BYTES`]) with their delays.
pub struct AnimationReel {
    path: PathBuf,
    frames: Vec<(RgbImage, Duration)>,
}

impl AnimationReel {
    /// The animation at `path`, or `None` when the file is not an animation of more than one
    /// frame (then it is replayed as a still image).
    pub fn open(path: &Path) -> Result<Option<Self>, CameraError> {
        let shown = path.display().to_string();
        let fail = |message: String| CameraError::Replay {
            path: shown.clone(),
            message,
        };
        let format = image_format_of(path);
        if !matches!(
            format,
            Some(ImageFormat::Gif | ImageFormat::Png | ImageFormat::WebP)
        ) {
            return Ok(None);
        }
        let reader = || -> Result<BufReader<File>, CameraError> {
            File::open(path)
                .map(BufReader::new)
                .map_err(|e| fail(e.to_string()))
        };
        let frames = match format {
            Some(ImageFormat::Gif) => {
                let mut decoder = GifDecoder::new(reader()?).map_err(|e| fail(e.to_string()))?;
                decoder
                    .set_limits(limits())
                    .map_err(|e| fail(e.to_string()))?;
                collect_frames(decoder.into_frames()).map_err(fail)?
            }
            Some(ImageFormat::Png) => {
                let mut decoder = PngDecoder::new(reader()?).map_err(|e| fail(e.to_string()))?;
                decoder
                    .set_limits(limits())
                    .map_err(|e| fail(e.to_string()))?;
                if !decoder.is_apng().map_err(|e| fail(e.to_string()))? {
                    return Ok(None);
                }
                let apng = decoder.apng().map_err(|e| fail(e.to_string()))?;
                collect_frames(apng.into_frames()).map_err(fail)?
            }
            _ => {
                let decoder = WebPDecoder::new(reader()?).map_err(|e| fail(e.to_string()))?;
                if !decoder.has_animation() {
                    return Ok(None);
                }
                collect_frames(decoder.into_frames()).map_err(fail)?
            }
        };
        if frames.len() < 2 {
            return Ok(None);
        }
        log::debug!("replay of {shown}: an animation of {} frames", frames.len());
        Ok(Some(Self {
            path: path.to_owned(),
            frames,
        }))
    }
}

fn collect_frames(frames: image::Frames<'_>) -> Result<Vec<(RgbImage, Duration)>, String> {
    let mut out = Vec::new();
    let mut bytes = 0_u64;
    for frame in frames {
        let frame = frame.map_err(|e| e.to_string())?;
        let delay = Duration::from(frame.delay());
        let rgb = DynamicImage::ImageRgba8(frame.into_buffer()).into_rgb8();
        bytes += rgb.as_raw().len() as u64;
        if bytes > MAX_DECODE_BYTES {
            return Err(format!(
                "the animation is too long to hold in memory (over {} MB decoded); save its \
                 frames as an image folder instead",
                MAX_DECODE_BYTES / (1024 * 1024)
            ));
        }
        out.push((rgb, delay));
    }
    Ok(out)
}

impl Reel for AnimationReel {
    fn len(&self) -> usize {
        self.frames.len()
    }

    fn frame(&mut self, index: usize) -> Result<RgbImage, CameraError> {
        Ok(self.frames[index].0.clone())
    }

    fn natural_interval(&self, index: usize) -> Option<Duration> {
        let delay = self.frames[index].1;
        Some(if delay < MIN_NATURAL_DELAY {
            SHORT_DELAY_REPLACEMENT
        } else {
            delay
        })
    }

    fn name(&self) -> String {
        format!("replay of {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_puts_numbers_in_numeric_order() {
        let mut names = vec![
            "frame10.jpg",
            "frame2.jpg",
            "Frame1.jpg",
            "frame002b.jpg",
            "a.png",
            "frame02.jpg",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "a.png",
                "Frame1.jpg",
                "frame02.jpg",
                "frame2.jpg",
                "frame002b.jpg",
                "frame10.jpg"
            ]
        );
    }

    #[test]
    fn formats_are_recognised_by_extension() {
        assert_eq!(
            image_format_of(Path::new("a/B.JPG")),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            image_format_of(Path::new("x.webp")),
            Some(ImageFormat::WebP)
        );
        assert_eq!(image_format_of(Path::new("notes.txt")), None);
        // Formats the build does not decode are not offered for replay.
        assert_eq!(image_format_of(Path::new("x.exr")), None);
    }

    #[test]
    fn broken_bytes_are_an_error_not_a_panic() {
        assert!(decode_bytes(b"").is_err());
        assert!(decode_bytes(b"not an image at all").is_err());
        // A PNG signature followed by garbage.
        assert!(decode_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRgarbage").is_err());
    }
}
