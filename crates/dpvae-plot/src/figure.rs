//! What every figure shares: the font, one description of what to draw ([`Figure`]) and its rendering to
//! `<stem>.png` and `<stem>.svg`, each written atomically.

use std::path::{Path, PathBuf};
use std::sync::Once;

use image::ImageEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::charts::{BandSeries, CategorySeries, draw_bands, draw_categories};
use crate::error::{Error, Result};
use crate::heatmap::{Heatmap, draw_heatmaps};
use crate::scatter::{Panel, ScatterStyle, draw_panels};
use crate::style::Drawn;

static FONT: Once = Once::new();

/// plotters draws PNG text with ab_glyph from a font we ship, so no system fonts are needed.
fn register_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, bytes);
    });
}

/// What to draw; one generic drawing routine serves both the PNG and the SVG backend.
pub(crate) enum Figure<'a> {
    Panels {
        panels: &'a [Panel],
        style: &'a ScatterStyle,
    },
    Categories {
        title: &'a str,
        y_label: &'a str,
        categories: &'a [String],
        series: &'a [CategorySeries],
    },
    Bands {
        title: &'a str,
        x_label: &'a str,
        y_label: &'a str,
        series: &'a [BandSeries],
        shaded: bool,
    },
    Heatmaps(&'a [Heatmap]),
}

impl Figure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn
    where
        DB::ErrorType: 'static,
    {
        match self {
            Figure::Panels { panels, style } => draw_panels(root, panels, style),
            Figure::Categories {
                title,
                y_label,
                categories,
                series,
            } => draw_categories(root, title, y_label, categories, series),
            Figure::Bands {
                title,
                x_label,
                y_label,
                series,
                shaded,
            } => draw_bands(root, title, x_label, y_label, series, *shaded),
            Figure::Heatmaps(maps) => draw_heatmaps(root, maps),
        }
    }
}

/// Render a figure to `<stem>.png` and `<stem>.svg`, each atomically. Returns the two paths.
pub(crate) fn render_both(stem: &Path, size: (u32, u32), figure: &Figure) -> Result<Vec<PathBuf>> {
    register_font();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    let bytes = render_png(&png, size, figure)?;
    write(&png, &bytes)?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        figure.draw(&root).map_err(|message| Error::Draw {
            path: svg.clone(),
            message,
        })?;
    }
    write(&svg, text.as_bytes())?;
    Ok(vec![png, svg])
}

/// Draw `figure` for `png` on an RGB bitmap and encode it as PNG, byte for byte as plotters' file backend
/// would (image's PNG encoder with its defaults).
fn render_png(png: &Path, size: (u32, u32), figure: &Figure) -> Result<Vec<u8>> {
    let (width, height) = size;
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        figure.draw(&root).map_err(|message| Error::Draw {
            path: png.to_path_buf(),
            message,
        })?;
    }
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(&pixels, width, height, image::ColorType::Rgb8)
        .map_err(|e| Error::Encode {
            path: png.to_path_buf(),
            message: e.to_string(),
        })?;
    Ok(bytes)
}

/// Write one image through the data layer's atomic write (temporary file, fsync, rename).
fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    dpvae_core::atomic::write_bytes_atomic(path, bytes).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}
