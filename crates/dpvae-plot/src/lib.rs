//! Figures as PNG and SVG through plotters. Each figure is drawn once per backend by the same generic code and
//! written atomically ([`dpvae_core::atomic`]), so a failed plot never leaves a half-written image.
//!
//! - [`scatter`]: side-by-side scatter panels ([`scatter_panels`]).
//! - [`charts`]: line, band and category charts ([`line_chart`], [`band_chart`], [`category_chart`]).
//! - [`heatmap`]: matrices of values as coloured cells ([`heatmaps`]).
//! - `figure`: what every figure shares: the font and rendering to both files (colours, bounds and legends
//!   are in the private `style` module).

pub mod charts;
mod error;
mod figure;
pub mod heatmap;
pub mod scatter;
mod style;

pub use charts::{BandSeries, CategorySeries, Series, band_chart, category_chart, line_chart};
pub use error::{Error, Result};
pub use heatmap::{Heatmap, heatmaps};
pub use scatter::{Colouring, Panel, ScatterStyle, robust_range, scatter_panels};

#[cfg(test)]
mod tests;
