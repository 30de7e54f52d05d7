//! Matrices of values drawn as coloured cells, several side by side on one colour scale.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::figure::{Figure, render_both};
use crate::style::{Drawn, err, ramp};

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

/// One or more heatmaps side by side (e.g. a train-section x test-section disparity matrix per tissue).
pub fn heatmaps(stem: &Path, maps: &[Heatmap]) -> Result<Vec<PathBuf>> {
    for m in maps {
        if m.values.len() != m.row_labels.len() * m.col_labels.len() {
            return Err(Error::HeatmapShape {
                path: stem.to_path_buf(),
                title: m.title.clone(),
                values: m.values.len(),
                rows: m.row_labels.len(),
                cols: m.col_labels.len(),
            });
        }
    }
    let width = 460 * maps.len().max(1) as u32;
    render_both(stem, (width, 480), &Figure::Heatmaps(maps))
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
pub(crate) fn draw_heatmaps<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    maps: &[Heatmap],
) -> Drawn
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
