//! The unit tests of the whole crate: every kind of chart writes both files.

use crate::*;

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

/// The centres (cx, cy) of the SVG circles drawn in `colour` left of `max_x` (the plot, not its legend).
fn circles(svg: &str, colour: &str, max_x: f64) -> Vec<(f64, f64)> {
    let attr = |tag: &str, name: &str| -> f64 {
        let at = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        tag[at..].split('"').next().unwrap().parse().unwrap()
    };
    svg.split("<circle")
        .skip(1)
        .map(|t| t.split("/>").next().unwrap())
        .filter(|t| t.to_ascii_uppercase().contains(colour))
        .map(|t| (attr(t, "cx"), attr(t, "cy")))
        .filter(|p| p.0 < max_x)
        .collect()
}

/// One rule for tissue coordinates, as sc.pl.spatial draws them: y grows downwards; latent axes grow up.
#[test]
fn tissue_panels_draw_y_downwards_and_latent_panels_upwards() {
    let dir = tempfile::tempdir().unwrap();
    let panel = Panel {
        title: "t".into(),
        points: vec![(0.0, 0.0), (0.0, 100.0)],
        colouring: Colouring::Category {
            labels: vec![0, 1],
            names: vec!["low".into(), "high".into()],
        },
        marked: vec![],
        radii: vec![],
    };
    for (style, low_on_top) in [
        (ScatterStyle::tissue(), true),
        (ScatterStyle::latent(("z1", "z2")), false),
    ] {
        scatter_panels(&dir.path().join("p"), std::slice::from_ref(&panel), &style).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("p.svg")).unwrap();
        let low = circles(&svg, "#1F77B4", 420.0);
        let high = circles(&svg, "#FF7F0E", 420.0);
        assert_eq!((low.len(), high.len()), (1, 1), "{svg}");
        assert_eq!(low[0].1 < high[0].1, low_on_top, "{style:?}");
        assert!(
            svg.contains("low") && svg.contains("high"),
            "legend beside the plot"
        );
    }
}

/// A few outliers no longer stretch the colour scale over everything else.
#[test]
fn the_colour_range_ignores_outliers() {
    let mut values: Vec<f64> = (0..1000).map(|i| i as f64 / 10.0).collect();
    values.extend([1e4, 2e4, f64::NAN]);
    let (lo, hi) = robust_range(&values);
    assert!(lo <= 1.0 && (98.0..100.0).contains(&hi), "{lo} {hi}");
    assert_eq!(robust_range(&[3.0, 3.0]), (3.0, 3.0));
}
