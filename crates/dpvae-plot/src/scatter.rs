//! Side-by-side scatter panels: points coloured by category or value, optional marks and radius rings.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::Result;
use crate::figure::{Figure, render_both};
use crate::style::{Drawn, bounds, category_colour, err, ramp};

/// How points are coloured.
#[derive(Debug, Clone)]
pub enum Colouring {
    /// One colour per category; `labels[i]` indexes `names`.
    Category {
        labels: Vec<usize>,
        names: Vec<String>,
    },
    /// A continuous value per point, shown with a blue-to-red ramp.
    Continuous { values: Vec<f64>, name: String },
    /// One colour for every point.
    Plain,
}

/// One scatter panel.
#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub points: Vec<(f64, f64)>,
    pub colouring: Colouring,
    /// Points to mark with a black cross (e.g. anchors).
    pub marked: Vec<usize>,
    /// Per point, a radius in data units drawn as a circle around it (e.g. dpvae_radius_50); empty: none.
    pub radii: Vec<f64>,
}

/// Side-by-side scatter panels (e.g. truth vs reconstructions). Image y grows downwards as in tissue images,
/// so `invert_y` draws pixel coordinates the way the tissue looks.
pub fn scatter_panels(stem: &Path, panels: &[Panel], invert_y: bool) -> Result<Vec<PathBuf>> {
    let width = 420 * panels.len().max(1) as u32;
    render_both(stem, (width, 440), &Figure::Panels { panels, invert_y })
}

pub(crate) fn draw_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[Panel],
    invert_y: bool,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((1, panels.len()));
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel, invert_y)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// One panel: axes, points, radius rings, marks, then its colour key.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    invert_y: bool,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let ((x0, x1), (y0, y1)) = bounds(&panel.points);
    let (ya, yb) = if invert_y { (y1, y0) } else { (y0, y1) };
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(44)
        .build_cartesian_2d(x0..x1, ya..yb)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(5)
        .y_labels(5)
        .label_style(("sans-serif", 11))
        .draw()
        .map_err(err)?;
    let (lo, hi) = match &panel.colouring {
        Colouring::Continuous { values, .. } => values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |a, &v| {
                (a.0.min(v), a.1.max(v))
            }),
        _ => (0.0, 1.0),
    };
    let colour_of = |i: usize| -> RGBColor {
        match &panel.colouring {
            Colouring::Category { labels, .. } => category_colour(labels[i]),
            Colouring::Continuous { values, .. } => ramp((values[i] - lo) / (hi - lo).max(1e-300)),
            Colouring::Plain => category_colour(0),
        }
    };
    chart
        .draw_series(
            panel
                .points
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| Circle::new((x, y), 2, colour_of(i).filled())),
        )
        .map_err(err)?;
    if !panel.radii.is_empty() {
        chart
            .draw_series(panel.points.iter().zip(&panel.radii).enumerate().map(
                |(i, (&(x, y), &r))| {
                    let ring: Vec<(f64, f64)> = (0..=24)
                        .map(|k| {
                            let a = std::f64::consts::TAU * k as f64 / 24.0;
                            (x + r * a.cos(), y + r * a.sin())
                        })
                        .collect();
                    PathElement::new(ring, colour_of(i).mix(0.25).stroke_width(1))
                },
            ))
            .map_err(err)?;
    }
    chart
        .draw_series(
            panel
                .marked
                .iter()
                .map(|&i| Cross::new(panel.points[i], 6, BLACK.stroke_width(2))),
        )
        .map_err(err)?;
    draw_key(area, &panel.colouring, (lo, hi))
}

/// The colour key in the panel's corner: up to 12 categories present, or the value range of the ramp.
fn draw_key<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    colouring: &Colouring,
    (lo, hi): (f64, f64),
) -> Drawn
where
    DB::ErrorType: 'static,
{
    if let Colouring::Category { names, labels } = colouring {
        let present: std::collections::BTreeSet<usize> = labels.iter().copied().collect();
        for (row, &c) in present.iter().enumerate().take(12) {
            let y = 30 + row as i32 * 14;
            area.draw(&Circle::new((60, y), 4, category_colour(c).filled()))
                .map_err(err)?;
            area.draw(&Text::new(
                names.get(c).cloned().unwrap_or_default(),
                (68, y - 6),
                ("sans-serif", 11),
            ))
            .map_err(err)?;
        }
    }
    if let Colouring::Continuous { name, .. } = colouring {
        area.draw(&Text::new(
            format!("{name}: {lo:.3} (blue) .. {hi:.3} (red)"),
            (56, 26),
            ("sans-serif", 11),
        ))
        .map_err(err)?;
    }
    Ok(())
}
