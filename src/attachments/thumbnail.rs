//! Thumbnails of photos, so chat lists show a small JPEG instead of downloading a
//! 10 MB picture. Decoding runs off the async workers (`spawn_blocking`), under limits
//! on pixel dimensions and allocation so a decompression bomb fails instead of eating
//! the server's memory.

use std::io::Cursor;

use anyhow::Context;
use image::{ImageReader, Limits};

/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;

/// Refused before decoding: more pixels than this (25 MP: every phone's default photo,
/// 12 MP, and cameras up to ~6000 × 4000). The decoder's working memory grows with the
/// pixels, beyond what `Limits` counts (a progressive JPEG keeps every coefficient:
/// ~6 bytes a pixel, then 3 for the decoded image), so a bigger picture gets no
/// thumbnail rather than a quarter of a gigabyte of decoding.
pub const MAX_PIXELS: u64 = 25_000_000;

/// Refused while decoding: more memory than this for the decoded image.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// A JPEG thumbnail of the image in `bytes` (any format the binary decodes), fitting in
/// `THUMBNAIL_SIDE` × `THUMBNAIL_SIDE`, aspect kept, never larger than the picture;
/// transparency becomes white.
pub fn make(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let reader = || -> anyhow::Result<ImageReader<Cursor<&[u8]>>> {
        let mut reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .context("unreadable image")?;
        let mut limits = Limits::default();
        limits.max_alloc = Some(MAX_ALLOC);
        reader.limits(limits);
        Ok(reader)
    };
    // The header alone says how big the picture is: refuse before decoding anything.
    let (width, height) = reader()?.into_dimensions().context("unreadable image header")?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS {
        anyhow::bail!("{width} x {height} pixels is more than the {MAX_PIXELS} a thumbnail is made of");
    }
    let image = reader()?.decode().context("cannot decode the image")?;
    // A picture that already fits keeps its size (`thumbnail` would blow it up).
    let small = if width <= THUMBNAIL_SIDE && height <= THUMBNAIL_SIDE {
        image
    } else {
        image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    };
    let rgb = flatten_on_white(&small);
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&rgb)
        .context("cannot encode the thumbnail")?;
    Ok(out)
}

/// RGB of `image`, its transparent parts laid on white (JPEG has no alpha).
fn flatten_on_white(image: &image::DynamicImage) -> image::RgbImage {
    let rgba = image.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        image::Rgb([over(r), over(g), over(b)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbaImage::from_fn(width, height, |x, _| image::Rgba([(x % 256) as u8, 40, 90, 255]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgba8(image)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    0xedb8_8320 ^ (crc >> 1)
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn a_photo_becomes_a_small_jpeg_of_the_same_shape() {
        let thumb = make(&png(1200, 600)).unwrap();
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!(
            (decoded.width(), decoded.height()),
            (THUMBNAIL_SIDE, THUMBNAIL_SIDE / 2)
        );
        assert_eq!(image::guess_format(&thumb).unwrap(), image::ImageFormat::Jpeg);
    }

    #[test]
    fn a_picture_smaller_than_a_thumbnail_keeps_its_size() {
        let thumb = make(&png(40, 30)).unwrap();
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (40, 30));
    }

    #[test]
    fn garbage_and_giants_are_refused_not_decoded() {
        assert!(make(b"\x89PNG\r\n\x1a\nnot really").is_err());
        // A PNG header claiming 100,000 x 100,000 pixels: refused before any allocation,
        // and so is a plausible 6,000 x 5,000 (30 MP).
        let mut giant = png(1, 1);
        giant[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        giant[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(make(&giant).is_err());
        giant[16..20].copy_from_slice(&6_000u32.to_be_bytes());
        giant[20..24].copy_from_slice(&5_000u32.to_be_bytes());
        // A valid header this time: the IHDR chunk's CRC over its type and data.
        let crc = crc32(&giant[12..29]);
        giant[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = make(&giant).unwrap_err().to_string();
        assert!(err.contains("more than"), "{err}");
    }
}
