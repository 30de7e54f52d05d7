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
