//! Line, band and category charts.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::Result;
use crate::figure::{Figure, render_both};
use crate::style::{Drawn, bounds, category_colour, draw_legend, err, legend_corner};

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// One series of a category chart: a value per category, optionally with an interval (drawn as a whisker).
#[derive(Debug, Clone)]
pub struct CategorySeries {
    pub name: String,
    pub values: Vec<f64>,
    pub intervals: Option<Vec<(f64, f64)>>,
}

/// One line with a shaded band (e.g. a mean and its spread over sections).
#[derive(Debug, Clone)]
pub struct BandSeries {
    pub name: String,
    /// `(x, centre, low, high)`.
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// A line chart (training curves).
pub fn line_chart(
    stem: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<Vec<PathBuf>> {
    // Points without a finite value (an epoch whose loss was not recorded) are left out of the line.
    let lines: Vec<BandSeries> = series
        .iter()
        .map(|s| BandSeries {
            name: s.name.clone(),
            points: s
                .points
                .iter()
                .filter(|p| p.1.is_finite())
                .map(|&(x, y)| (x, y, y, y))
                .collect(),
        })
        .collect();
    render_bands(stem, [title, x_label, y_label], &lines, false)
}

/// Values per category with optional intervals (e.g. a correlation and its 95% interval per section), several
/// series side by side, with a dashed zero line.
pub fn category_chart(
    stem: &Path,
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[CategorySeries],
) -> Result<Vec<PathBuf>> {
    // Labels are drawn horizontally (rotated text is unreliable in the bitmap backend), so each category
    // gets room for its name (about 7 px a character at the 12 px label font).
    let longest = categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0) as u32;
    let per_category = (7 * longest + 24).max(120);
    let width = (160 + per_category * categories.len() as u32).max(560);
    render_both(
        stem,
        (width, 520),
        &Figure::Categories {
            title,
            y_label,
            categories,
            series,
        },
    )
}

/// Lines with shaded bands (a mean and its spread).
pub fn band_chart(
    stem: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[BandSeries],
) -> Result<Vec<PathBuf>> {
    render_bands(stem, [title, x_label, y_label], series, true)
}

/// Line and band charts share one size and one drawing function.
fn render_bands(
    stem: &Path,
    [title, x_label, y_label]: [&str; 3],
    series: &[BandSeries],
    shaded: bool,
) -> Result<Vec<PathBuf>> {
    render_both(
        stem,
        (760, 460),
        &Figure::Bands {
            title,
            x_label,
            y_label,
            series,
            shaded,
        },
    )
}

/// Dots with whiskers per category, series side by side, and a dashed zero line when zero is in range.
pub(crate) fn draw_categories<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[CategorySeries],
) -> Drawn
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let mut ys: Vec<f64> = vec![0.0];
    for s in series {
        ys.extend(s.values.iter().copied());
        if let Some(iv) = &s.intervals {
            ys.extend(iv.iter().flat_map(|&(a, b)| [a, b]));
        }
    }
    let pts: Vec<(f64, f64)> = ys.iter().map(|&y| (0.0, y)).collect();
    let (_, (y0, y1)) = bounds(&pts);
    let n = categories.len().max(1);
    let labels = categories.to_vec();
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(y_label)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    if y0 < 0.0 && y1 > 0.0 {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(-0.5, 0.0), (n as f64 - 0.5, 0.0)],
                6,
                4,
                BLACK.stroke_width(1),
            ))
            .map_err(err)?;
    }
    let width = 0.6 / series.len().max(1) as f64;
    // Where marks land, to keep the legend off them.
    let mut drawn: Vec<(f64, f64)> = Vec::new();
    for (k, s) in series.iter().enumerate() {
        let colour = category_colour(k);
        let offset = -0.3 + width * (k as f64 + 0.5);
        drawn.extend(
            s.values
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as f64 + offset, v)),
        );
        if let Some(iv) = &s.intervals {
            drawn.extend(
                iv.iter()
                    .enumerate()
                    .flat_map(|(i, &(lo, hi))| [(i as f64 + offset, lo), (i as f64 + offset, hi)]),
            );
            chart
                .draw_series(iv.iter().enumerate().map(|(i, &(lo, hi))| {
                    PathElement::new(
                        vec![(i as f64 + offset, lo), (i as f64 + offset, hi)],
                        colour.stroke_width(2),
                    )
                }))
                .map_err(err)?;
        }
        chart
            .draw_series(
                s.values
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| Circle::new((i as f64 + offset, v), 4, colour.filled())),
            )
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
    }
    draw_legend(
        &mut chart,
        legend_corner(&drawn, (-0.5, n as f64 - 0.5), (y0, y1)),
    )?;
    root.present().map_err(err)?;
    Ok(())
}

/// Lines, with their bands shaded when `shaded` (a plain line chart passes bands of zero width).
pub(crate) fn draw_bands<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[BandSeries],
    shaded: bool,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .flat_map(|&(x, _, lo, hi)| [(x, lo), (x, hi)])
        })
        .collect();
    let ((x0, x1), (y0, y1)) = bounds(&all);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let colour = category_colour(i);
        if shaded {
            let mut outline: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.3)).collect();
            outline.extend(s.points.iter().rev().map(|p| (p.0, p.2)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    colour.mix(0.18).filled(),
                )))
                .map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(
                s.points.iter().map(|p| (p.0, p.1)),
                colour.stroke_width(2),
            ))
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
    }
    draw_legend(&mut chart, legend_corner(&all, (x0, x1), (y0, y1)))?;
    root.present().map_err(err)?;
    Ok(())
}
