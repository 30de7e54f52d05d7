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

/// How scatter panels are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterStyle {
    /// y grows downwards, as in tissue images and scanpy's `sc.pl.spatial` (the rule for coordinates in the
    /// tissue's frame); `false` for latent spaces and other mathematical axes.
    pub y_down: bool,
    /// Marker radius in pixels; `None` picks one from the number of points (4 for a few hundred, 1 for tens
    /// of thousands, so a Xenium section is not one blot).
    pub point_size: Option<u32>,
    /// Axis titles (x, y).
    pub axes: (String, String),
}

impl ScatterStyle {
    /// Tissue coordinates: y downwards, as `sc.pl.spatial` draws them.
    pub fn tissue() -> Self {
        ScatterStyle {
            y_down: true,
            point_size: None,
            axes: ("x".into(), "y".into()),
        }
    }

    /// A latent space or other mathematical axes: y upwards.
    pub fn latent(axes: (&str, &str)) -> Self {
        ScatterStyle {
            y_down: false,
            point_size: None,
            axes: (axes.0.into(), axes.1.into()),
        }
    }

    fn radius(&self, n_points: usize) -> u32 {
        self.point_size.unwrap_or_else(|| {
            (7.0 / (n_points.max(1) as f64 / 1000.0).sqrt()).clamp(1.0, 4.0) as u32
        })
    }
}

/// Width of the strip right of each panel that holds its colour bar or category legend.
const KEY_WIDTH: u32 = 110;

/// Side-by-side scatter panels (e.g. truth vs reconstructions), each with its colour bar or legend beside it.
pub fn scatter_panels(stem: &Path, panels: &[Panel], style: &ScatterStyle) -> Result<Vec<PathBuf>> {
    let width = (420 + KEY_WIDTH) * panels.len().max(1) as u32;
    render_both(stem, (width, 440), &Figure::Panels { panels, style })
}

pub(crate) fn draw_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[Panel],
    style: &ScatterStyle,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((1, panels.len()));
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel, style)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// The value range a ramp spans: the 1st to 99th percentile of the finite values, so a few outliers (a
/// handful of badly placed spots) do not turn the whole map blue. Values outside are drawn at the ends.
pub fn robust_range(values: &[f64]) -> (f64, f64) {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = (at(0.01), at(0.99));
    if hi > lo {
        (lo, hi)
    } else {
        (v[0], v[v.len() - 1])
    }
}

/// A tick label without a trailing `.0`, and with no more digits than the axis needs.
fn tick(v: f64) -> String {
    if v == v.round() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// One panel: axes, points, radius rings, marks, then its colour key in the strip to the right.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    style: &ScatterStyle,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let (w, _) = area.dim_in_pixel();
    let (plot_area, key_area) = area.split_horizontally(w.saturating_sub(KEY_WIDTH));
    let ((x0, x1), (y0, y1)) = bounds(&panel.points);
    let (ya, yb) = if style.y_down { (y1, y0) } else { (y0, y1) };
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(&panel.title, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(38)
        .y_label_area_size(54)
        .build_cartesian_2d(x0..x1, ya..yb)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(5)
        .y_labels(5)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .x_desc(style.axes.0.as_str())
        .y_desc(style.axes.1.as_str())
        .label_style(("sans-serif", 11))
        .axis_desc_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    let (lo, hi) = match &panel.colouring {
        Colouring::Continuous { values, .. } => robust_range(values),
        _ => (0.0, 1.0),
    };
    let colour_of = |i: usize| -> RGBColor {
        match &panel.colouring {
            Colouring::Category { labels, .. } => category_colour(labels[i]),
            Colouring::Continuous { values, .. } => ramp((values[i] - lo) / (hi - lo).max(1e-300)),
            Colouring::Plain => category_colour(0),
        }
    };
    let size = style.radius(panel.points.len());
    chart
        .draw_series(
            panel
                .points
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| Circle::new((x, y), size, colour_of(i).filled())),
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
    draw_key(&key_area, &panel.colouring, (lo, hi))
}

/// The colour key beside the panel: a colour bar with its range (the ends marked when values lie beyond
/// them), or up to 24 categories present.
fn draw_key<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    colouring: &Colouring,
    (lo, hi): (f64, f64),
) -> Drawn
where
    DB::ErrorType: 'static,
{
    let font = ("sans-serif", 11);
    match colouring {
        Colouring::Category { names, labels } => {
            let present: std::collections::BTreeSet<usize> = labels.iter().copied().collect();
            for (row, &c) in present.iter().enumerate().take(24) {
                let y = 40 + row as i32 * 15;
                area.draw(&Circle::new((8, y), 4, category_colour(c).filled()))
                    .map_err(err)?;
                let mut name = names.get(c).cloned().unwrap_or_default();
                if name.chars().count() > 14 {
                    name = name.chars().take(13).collect::<String>() + "…";
                }
                area.draw(&Text::new(name, (16, y - 6), font))
                    .map_err(err)?;
            }
            if present.len() > 24 {
                area.draw(&Text::new(
                    format!("+{} more", present.len() - 24),
                    (16, 40 + 24 * 15 - 6),
                    font,
                ))
                .map_err(err)?;
            }
        }
        Colouring::Continuous { name, values } => {
            let (top, bottom) = (60i32, 380i32);
            let steps = 64;
            for k in 0..steps {
                let t = 1.0 - k as f64 / (steps - 1) as f64;
                let y = top + (bottom - top) * k / steps;
                let y2 = top + (bottom - top) * (k + 1) / steps;
                area.draw(&Rectangle::new([(8, y), (22, y2)], ramp(t).filled()))
                    .map_err(err)?;
            }
            area.draw(&Rectangle::new(
                [(8, top), (22, bottom)],
                BLACK.stroke_width(1),
            ))
            .map_err(err)?;
            let beyond = |above: bool| {
                values
                    .iter()
                    .any(|&v| v.is_finite() && if above { v > hi } else { v < lo })
            };
            let ends = [
                (hi, top, if beyond(true) { "≥ " } else { "" }),
                ((lo + hi) / 2.0, (top + bottom) / 2, ""),
                (lo, bottom, if beyond(false) { "≤ " } else { "" }),
            ];
            for (v, y, mark) in ends {
                area.draw(&Text::new(
                    format!("{mark}{}", value_label(v, hi - lo)),
                    (26, y - 6),
                    font,
                ))
                .map_err(err)?;
            }
            area.draw(&Text::new(name.clone(), (4, 36), font))
                .map_err(err)?;
        }
        Colouring::Plain => {}
    }
    Ok(())
}

/// A colour-bar label with as many digits as the bar's span needs.
fn value_label(v: f64, span: f64) -> String {
    let digits = if span >= 100.0 {
        0
    } else if span >= 1.0 {
        2
    } else {
        (2.0 - span.max(1e-12).log10().floor()).clamp(2.0, 6.0) as usize
    };
    format!("{v:.digits$}")
}
