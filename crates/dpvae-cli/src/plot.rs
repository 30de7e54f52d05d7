//! Figures as PNG and SVG through plotters. Each figure is drawn once per backend by the same generic code,
//! written to temporary files and renamed into place, so a failed plot never leaves a half-written image.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

static FONT: Once = Once::new();

/// plotters draws PNG text with ab_glyph from a font we ship, so no system fonts are needed.
fn register_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, bytes);
    });
}

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

/// A matrix of values drawn as coloured cells with the value written in each.
#[derive(Debug, Clone)]
pub struct Heatmap {
    pub title: String,
    pub row_labels: Vec<String>,
    pub col_labels: Vec<String>,
    /// Row-major, `row_labels.len() x col_labels.len()`.
    pub values: Vec<f64>,
    pub row_desc: String,
    pub col_desc: String,
}

const PALETTE: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 128),
    RGBColor(128, 128, 0),
];

fn category_colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn ramp(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // blue -> light grey -> red
    let (r, g, b) = if t < 0.5 {
        let u = t / 0.5;
        (
            49.0 + u * (221.0 - 49.0),
            54.0 + u * (221.0 - 54.0),
            149.0 + u * (221.0 - 149.0),
        )
    } else {
        let u = (t - 0.5) / 0.5;
        (
            221.0 + u * (165.0 - 221.0),
            221.0 + u * (0.0 - 221.0),
            221.0 + u * (38.0 - 221.0),
        )
    };
    RGBColor(r as u8, g as u8, b as u8)
}

fn bounds(points: &[(f64, f64)]) -> ((f64, f64), (f64, f64)) {
    let mut xb = (f64::INFINITY, f64::NEG_INFINITY);
    let mut yb = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
        xb = (xb.0.min(x), xb.1.max(x));
        yb = (yb.0.min(y), yb.1.max(y));
    }
    let pad = |(lo, hi): (f64, f64)| {
        if !lo.is_finite() {
            return (0.0, 1.0);
        }
        let d = ((hi - lo) * 0.05).max(1e-9);
        (lo - d, hi + d)
    };
    (pad(xb), pad(yb))
}

/// The corner of the plot area with the fewest data points near it (within 40% of the width and 30% of the
/// height), so the legend hides as little as possible.
fn legend_corner(points: &[(f64, f64)], x: (f64, f64), y: (f64, f64)) -> SeriesLabelPosition {
    let near = |v: f64, (lo, hi): (f64, f64), low_side: bool, share: f64| {
        let t = (v - lo) / (hi - lo);
        if low_side {
            t <= share
        } else {
            t >= 1.0 - share
        }
    };
    [
        (SeriesLabelPosition::UpperRight, false, false),
        (SeriesLabelPosition::UpperLeft, true, false),
        (SeriesLabelPosition::LowerRight, false, true),
        (SeriesLabelPosition::LowerLeft, true, true),
    ]
    .into_iter()
    .min_by_key(|&(_, left, bottom)| {
        points
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .filter(|p| near(p.0, x, left, 0.4) && near(p.1, y, bottom, 0.3))
            .count()
    })
    .map(|(pos, _, _)| pos)
    .expect("four corners")
}

fn draw_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[Panel],
    invert_y: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((1, panels.len()));
    for (area, panel) in areas.iter().zip(panels) {
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
                Colouring::Continuous { values, .. } => {
                    ramp((values[i] - lo) / (hi - lo).max(1e-300))
                }
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
        if let Colouring::Category { names, labels } = &panel.colouring {
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
        if let Colouring::Continuous { name, .. } = &panel.colouring {
            area.draw(&Text::new(
                format!("{name}: {lo:.3} (blue) .. {hi:.3} (red)"),
                (56, 26),
                ("sans-serif", 11),
            ))
            .map_err(err)?;
        }
    }
    root.present().map_err(err)?;
    Ok(())
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

/// Dots with whiskers per category, series side by side, and a dashed zero line when zero is in range.
fn draw_categories<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[CategorySeries],
) -> Result<()>
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

/// The series legend at `position`, on a white box so it stays readable over the data.
fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(err)
}

/// Lines, with their bands shaded when `shaded` (a plain line chart passes bands of zero width).
fn draw_bands<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[BandSeries],
    shaded: bool,
) -> Result<()>
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

/// The label of the heatmap cell centred at `at` (cells span [i, i+1)); ticks between cells stay blank.
fn cell_label(labels: &[String], at: f64) -> String {
    let i = at - 0.5;
    if (i - i.round()).abs() < 1e-6 && i >= 0.0 {
        labels.get(i.round() as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Heatmaps side by side, each cell coloured on one shared blue-to-red ramp and labelled with its value.
fn draw_heatmaps<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, maps: &[Heatmap]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let (lo, hi) = maps
        .iter()
        .flat_map(|m| m.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |a, v| {
            (a.0.min(v), a.1.max(v))
        });
    let areas = root.split_evenly((1, maps.len().max(1)));
    for (area, m) in areas.iter().zip(maps) {
        let (nr, nc) = (m.row_labels.len(), m.col_labels.len());
        let rows = m.row_labels.clone();
        let cols = m.col_labels.clone();
        let mut chart = ChartBuilder::on(area)
            .caption(&m.title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..nc as f64, nr as f64..0.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(nc * 2 + 1)
            .y_labels(nr * 2 + 1)
            .x_label_formatter(&|x: &f64| cell_label(&cols, *x))
            .y_label_formatter(&|y: &f64| cell_label(&rows, *y))
            .label_style(("sans-serif", 11))
            .x_desc(m.col_desc.as_str())
            .y_desc(m.row_desc.as_str())
            .draw()
            .map_err(err)?;
        // (top-left corner, value) of every cell, row-major as `values` is stored.
        let cells: Vec<((f64, f64), f64)> = (0..nr)
            .flat_map(|r| (0..nc).map(move |c| ((c as f64, r as f64), m.values[r * nc + c])))
            .collect();
        chart
            .draw_series(cells.iter().map(|&((x, y), v)| {
                Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    ramp((v - lo) / (hi - lo).max(1e-300)).filled(),
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(cells.iter().map(|&((x, y), v)| {
                Text::new(format!("{v:.3}"), (x + 0.3, y + 0.45), ("sans-serif", 12))
            }))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// What to draw; one generic drawing routine serves both the PNG and the SVG backend.
enum Figure<'a> {
    Panels {
        panels: &'a [Panel],
        invert_y: bool,
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
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        match self {
            Figure::Panels { panels, invert_y } => draw_panels(root, panels, *invert_y),
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
fn render_both(stem: &Path, size: (u32, u32), figure: &Figure) -> Result<Vec<PathBuf>> {
    register_font();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    if let Some(dir) = png.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp_png = png.with_file_name(format!(
        ".{}.tmp.png",
        png.file_name().unwrap_or_default().to_string_lossy()
    ));
    let drawn = {
        let root = BitMapBackend::new(&tmp_png, size).into_drawing_area();
        figure.draw(&root)
    };
    if let Err(e) = drawn {
        let _ = std::fs::remove_file(&tmp_png);
        return Err(e.context(format!("drawing {}", png.display())));
    }
    std::fs::rename(&tmp_png, &png).with_context(|| format!("writing {}", png.display()))?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        figure
            .draw(&root)
            .with_context(|| format!("drawing {}", svg.display()))?;
    }
    dpvae_data::atomic::write_bytes_atomic(&svg, text.as_bytes())?;
    Ok(vec![png, svg])
}

/// Side-by-side scatter panels (e.g. truth vs reconstructions). Image y grows downwards as in tissue images,
/// so `invert_y` draws pixel coordinates the way the tissue looks.
pub fn scatter_panels(stem: &Path, panels: &[Panel], invert_y: bool) -> Result<Vec<PathBuf>> {
    let width = 420 * panels.len().max(1) as u32;
    render_both(stem, (width, 440), &Figure::Panels { panels, invert_y })
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

/// One or more heatmaps side by side (e.g. a train-section x test-section disparity matrix per tissue).
pub fn heatmaps(stem: &Path, maps: &[Heatmap]) -> Result<Vec<PathBuf>> {
    for m in maps {
        if m.values.len() != m.row_labels.len() * m.col_labels.len() {
            return Err(anyhow!(
                "heatmap '{}' has {} values for {} x {} cells",
                m.title,
                m.values.len(),
                m.row_labels.len(),
                m.col_labels.len()
            ));
        }
    }
    let width = 460 * maps.len().max(1) as u32;
    render_both(stem, (width, 480), &Figure::Heatmaps(maps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_chart_kinds_write_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let cats: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let files = category_chart(
            &dir.path().join("cat"),
            "t",
            "r",
            &cats,
            &[CategorySeries {
                name: "r".into(),
                values: vec![0.1, -0.2, 0.3],
                intervals: Some(vec![(0.0, 0.2), (-0.3, -0.1), (0.2, 0.4)]),
            }],
        )
        .unwrap();
        let bands = band_chart(
            &dir.path().join("band"),
            "t",
            "x",
            "y",
            &[BandSeries {
                name: "s".into(),
                points: vec![(0.0, 1.0, 0.9, 1.1), (1.0, 0.5, 0.4, 0.6)],
            }],
        )
        .unwrap();
        let map = Heatmap {
            title: "m".into(),
            row_labels: vec!["r1".into(), "r2".into()],
            col_labels: vec!["c1".into(), "c2".into()],
            values: vec![0.1, 0.2, 0.3, 0.4],
            row_desc: "train".into(),
            col_desc: "test".into(),
        };
        let maps = heatmaps(&dir.path().join("heat"), std::slice::from_ref(&map)).unwrap();
        for f in files.iter().chain(&bands).chain(&maps) {
            let len = std::fs::metadata(f).unwrap().len();
            assert!(len > 500, "{} is only {len} bytes", f.display());
        }
        let svg = std::fs::read_to_string(dir.path().join("heat.svg")).unwrap();
        assert!(
            svg.contains("0.400"),
            "cell values are written in the heatmap"
        );
        let bad = Heatmap {
            values: vec![0.1],
            ..map
        };
        assert!(heatmaps(&dir.path().join("bad"), &[bad]).is_err());
    }
}
