//! Colours, axis bounds and legends shared by every kind of figure.

use plotters::prelude::*;

/// What the drawing routines return: plotters' errors as text, given their file by [`crate::figure`].
pub(crate) type Drawn = std::result::Result<(), String>;

/// A plotters error as the text of a [`crate::Error::Draw`].
pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
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

pub(crate) fn category_colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub(crate) fn ramp(t: f64) -> RGBColor {
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

pub(crate) fn bounds(points: &[(f64, f64)]) -> ((f64, f64), (f64, f64)) {
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
pub(crate) fn legend_corner(
    points: &[(f64, f64)],
    x: (f64, f64),
    y: (f64, f64),
) -> SeriesLabelPosition {
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

/// The series legend at `position`, on a white box so it stays readable over the data.
pub(crate) fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Drawn
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
