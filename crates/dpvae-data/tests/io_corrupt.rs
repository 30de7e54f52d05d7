//! Bad input gets a typed error naming the file, the object and the problem, never a panic. The corrupted files
//! are made here, in a temp dir: from a small dataset this test writes, and from copies of real files when
//! `DPVAE_DATA` is set (edited with hdf5-pure's in-place editing API, or byte-flipped / truncated).

use std::path::{Path, PathBuf};

use dpvae_data::io::h5ad::{read_h5ad, read_h5ad_bytes, write_h5ad};
use dpvae_data::io::tenx::read_10x_h5_bytes;
use dpvae_data::io::{self, ReadOptions};
use dpvae_data::testdata::require;
use dpvae_data::{DataError, Matrix, SpatialData};
use hdf5_pure::{AttrValue, File};
use ndarray::array;

fn small_h5ad(dir: &Path) -> PathBuf {
    let x = array![
        [1.0f32, 0.0, 2.0, 0.0],
        [0.0, 3.0, 0.0, 4.0],
        [5.0, 0.0, 0.0, 6.0]
    ];
    let d = SpatialData::new(
        Matrix::Csr(dpvae_data::CsrMatrix::from_dense(&x)),
        vec!["a".into(), "b".into(), "c".into()],
        vec!["g1".into(), "g2".into(), "g3".into(), "g4".into()],
        Some(array![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
    )
    .unwrap();
    let p = dir.join("small.h5ad");
    write_h5ad(&p, &d).unwrap();
    p
}

/// Copy `src` to a fresh temp path and apply `edit` to it in place. The copy is made with hdf5-pure's `repack`,
/// which rewrites it in the latest HDF5 format (h5py's older object headers cannot be edited in place).
fn corrupted(dir: &Path, src: &Path, name: &str, edit: impl FnOnce(&File)) -> PathBuf {
    let dst = dir.join(name);
    hdf5_pure::repack(src, &dst, &hdf5_pure::RepackOptions::default()).unwrap();
    let f = File::open_rw(&dst).unwrap();
    edit(&f);
    f.commit().unwrap();
    dst
}

/// Replace the dataset at `path` (parent/name) with one built by `build`.
fn replace(f: &File, parent: &str, name: &str, build: impl FnOnce(&mut hdf5_pure::DatasetBuilder)) {
    let g = f.group(parent).unwrap();
    g.delete(name).unwrap();
    f.commit().unwrap();
    let g = f.group(parent).unwrap();
    g.create_dataset(name, build).unwrap();
}

fn expect_invalid(
    result: dpvae_data::Result<SpatialData>,
    file: &Path,
    object: &str,
    words: &[&str],
) {
    let err = result.expect_err("a corrupted file was accepted");
    let msg = err.to_string();
    assert!(
        msg.contains(&file.display().to_string()),
        "error does not name the file: {msg}"
    );
    assert!(
        msg.contains(object),
        "error does not name '{object}': {msg}"
    );
    for w in words {
        assert!(msg.contains(w), "error lacks '{w}': {msg}");
    }
}

#[test]
fn typed_errors_for_each_kind_of_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let good = small_h5ad(dir);
    assert_eq!(read_h5ad(&good).unwrap().n_obs(), 3);

    let p = corrupted(dir, &good, "enc.h5ad", |f| {
        f.group("X")
            .unwrap()
            .set_attr(
                "encoding-type",
                AttrValue::VarLenString("coo_matrix".into()),
            )
            .unwrap();
    });
    expect_invalid(
        read_h5ad(&p),
        &p,
        "X",
        &["unknown encoding-type 'coo_matrix'"],
    );

    let p = corrupted(dir, &good, "indptr.h5ad", |f| {
        replace(f, "X", "indptr", |b| {
            b.with_i64_data(&[0, 3, 1, 6]);
        });
    });
    expect_invalid(read_h5ad(&p), &p, "X/indptr", &["not monotone"]);

    let p = corrupted(dir, &good, "indices.h5ad", |f| {
        replace(f, "X", "indices", |b| {
            b.with_i32_data(&[0, 2, 1, 9, 0, 3]);
        });
    });
    expect_invalid(read_h5ad(&p), &p, "X/indices", &["9", "only 4 columns"]);

    let p = corrupted(dir, &good, "negative.h5ad", |f| {
        replace(f, "X", "indices", |b| {
            b.with_i32_data(&[0, 2, 1, -3, 0, 3]);
        });
    });
    expect_invalid(read_h5ad(&p), &p, "X/indices", &["negative"]);

    let p = corrupted(dir, &good, "nan.h5ad", |f| {
        replace(f, "X", "data", |b| {
            b.with_f32_data(&[1.0, 2.0, f32::NAN, 4.0, 5.0, 6.0]);
        });
    });
    expect_invalid(read_h5ad(&p), &p, "X/data", &["finite"]);

    let p = corrupted(dir, &good, "inf_spatial.h5ad", |f| {
        replace(f, "obsm", "spatial", |b| {
            b.with_f64_data(&[0.0, 0.0, f64::INFINITY, 0.0, 0.0, 1.0])
                .with_shape(&[3, 2]);
        });
    });
    expect_invalid(read_h5ad(&p), &p, "obsm['spatial']", &["finite"]);

    let p = corrupted(dir, &good, "dup.h5ad", |f| {
        replace(f, "obs", "_index", |b| {
            b.with_vlen_strings(&["a", "b", "a"]);
        });
    });
    expect_invalid(read_h5ad(&p), &p, "obs_names", &["'a'", "more than once"]);

    let p = corrupted(dir, &good, "shape.h5ad", |f| {
        replace(f, "obs", "_index", |b| {
            b.with_vlen_strings(&["a", "b"]);
        });
    });
    expect_invalid(
        read_h5ad(&p),
        &p,
        "obs",
        &["shape mismatch", "2 rows", "3 rows"],
    );

    let p = corrupted(dir, &good, "varshape.h5ad", |f| {
        f.group("X")
            .unwrap()
            .set_attr("shape", AttrValue::I64Array(vec![3, 5]))
            .unwrap();
    });
    expect_invalid(read_h5ad(&p), &p, "var", &["shape mismatch"]);

    let p = corrupted(dir, &good, "empty.h5ad", |f| {
        f.root().delete("X").unwrap();
        f.commit().unwrap();
        f.root()
            .create_dataset("X", |b| {
                b.with_dtype(hdf5_pure::make_f32_type()).with_shape(&[0, 4]);
            })
            .unwrap();
        replace(f, "obs", "_index", |b| {
            b.with_vlen_strings(&[]);
        });
        f.commit().unwrap();
        f.root().delete("obsm").unwrap();
    });
    expect_invalid(read_h5ad(&p), &p, "X", &["empty"]);

    let p = corrupted(dir, &good, "nospatial.h5ad", |f| {
        f.group("obsm").unwrap().delete("spatial").unwrap();
    });
    assert!(read_h5ad(&p).unwrap().spatial.is_none());
    let err = io::read_with(&p, &ReadOptions::default().require_spatial(true)).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err}");
    expect_invalid(Err(err), &p, "obsm['spatial']", &["coordinates"]);

    let p = corrupted(dir, &good, "noX.h5ad", |f| {
        f.root().delete("X").unwrap();
    });
    expect_invalid(read_h5ad(&p), &p, "X", &["missing"]);

    let p = dir.join("not_hdf5.h5ad");
    std::fs::write(&p, b"this is not an HDF5 file at all").unwrap();
    expect_invalid(read_h5ad(&p), &p, "file", &["not an HDF5 file"]);
}

/// Flip bytes all over a file and truncate it: every outcome is Ok or a typed error, never a panic.
fn shake(
    bytes: &[u8],
    reader: fn(&[u8]) -> dpvae_data::Result<SpatialData>,
    rounds: usize,
) -> (usize, usize) {
    let (mut ok, mut err) = (0, 0);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..rounds {
        let mut b = bytes.to_vec();
        if round % 5 == 4 {
            let cut = (next() as usize) % b.len();
            b.truncate(cut);
        } else {
            for _ in 0..1 + round % 4 {
                let pos = (next() as usize) % b.len();
                b[pos] ^= 1 << (next() % 8);
            }
        }
        match reader(&b) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                err += 1;
            }
        }
    }
    (ok, err)
}

#[test]
fn byte_flips_and_truncation_never_panic_on_a_written_file() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(small_h5ad(tmp.path())).unwrap();
    let (ok, err) = shake(&bytes, read_h5ad_bytes, 300);
    assert_eq!(ok + err, 300);
    assert!(err > 0, "no corruption was detected at all");
}

#[test]
fn corrupted_copies_of_real_files() {
    let Some(squidpy) = require(
        "corrupted_copies_of_real_files",
        "raw/squidpy_test_data.h5ad",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // Byte flips of a real h5ad (gzip-compressed, categorical columns) and a real 10x file.
    let bytes = std::fs::read(&squidpy).unwrap();
    let (_, err) = shake(&bytes, read_h5ad_bytes, 120);
    assert!(err > 0);
    if let Some(h5) = require(
        "corrupted_copies_of_real_files",
        "raw/visium_scanpy_fixture/filtered_feature_bc_matrix.h5",
    ) {
        let bytes = std::fs::read(h5).unwrap();
        let (_, err) = shake(&bytes, read_10x_h5_bytes, 120);
        assert!(err > 0);
    }

    // Structural edits of the real file.
    let p = corrupted(dir, &squidpy, "cat.h5ad", |f| {
        f.group("obs/leiden")
            .unwrap()
            .set_attr("encoding-type", AttrValue::VarLenString("mystery".into()))
            .unwrap();
    });
    expect_invalid(
        read_h5ad(&p),
        &p,
        "obs/leiden",
        &["unknown encoding-type 'mystery'"],
    );

    let p = corrupted(dir, &squidpy, "codes.h5ad", |f| {
        replace(f, "obs/leiden", "codes", |b| {
            b.with_i8_data(&[9; 49]);
        });
    });
    expect_invalid(
        read_h5ad(&p),
        &p,
        "obs/leiden/codes",
        &["only 5 categories"],
    );

    let p = corrupted(dir, &squidpy, "indptr.h5ad", |f| {
        let mut ptr: Vec<i32> = (0..50).map(|i| i * 400).collect();
        ptr[49] = 22372;
        ptr[10] = 99_999;
        replace(f, "X", "indptr", |b| {
            b.with_i32_data(&ptr);
        });
    });
    expect_invalid(read_h5ad(&p), &p, "X/indptr", &["not monotone"]);

    if let Some(csc) = require(
        "corrupted_copies_of_real_files",
        "panel/st_mouse_brain_hippo8.h5ad",
    ) {
        // A CSC file whose indices run past the row count.
        let p = corrupted(dir, &csc, "csc.h5ad", |f| {
            f.group("X")
                .unwrap()
                .set_attr("shape", AttrValue::I64Array(vec![10, 10000]))
                .unwrap();
        });
        expect_invalid(read_h5ad(&p), &p, "X/indices", &["column-compressed"]);
    }
}

/// Invalid UTF-8 in a barcode used to come back as U+FFFD, so two barcodes could collide or a join silently miss.
/// The file is written by dpvae, then one byte of the barcode's heap text is replaced by 0xFF.
#[test]
fn invalid_utf8_in_names_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let x = array![[1.0f32, 2.0], [3.0, 4.0]];
    let d = SpatialData::new(
        Matrix::Dense(x),
        vec!["BARCODE_QQQQ_1".into(), "BARCODE_2".into()],
        vec!["g1".into(), "g2".into()],
        None,
    )
    .unwrap();
    let p = dir.path().join("names.h5ad");
    write_h5ad(&p, &d).unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == b"QQQQ")
        .expect("the barcode text is in the file");
    bytes[at] = 0xFF;
    let msg = read_h5ad_bytes(&bytes).unwrap_err().to_string();
    assert!(
        msg.contains("obs") && msg.contains("not valid UTF-8"),
        "{msg}"
    );
}

/// Negative values in X are refused by the steps that read X as counts, naming spot and gene; with
/// normalize_total and log1p off (already-normalised data) they pass.
#[test]
fn negative_values_are_refused_where_counts_are_expected() {
    use dpvae_data::preprocess::Preprocess;
    let x = array![[1.0f32, 2.0, 0.0], [3.0, -4.0, 1.0], [0.0, 2.0, 5.0]];
    let d = SpatialData::new(
        Matrix::Dense(x),
        vec!["s1".into(), "s2".into(), "s3".into()],
        vec!["g1".into(), "g2".into(), "g3".into()],
        None,
    )
    .unwrap();
    let msg = Preprocess::default().fit(&d).unwrap_err().to_string();
    assert!(
        msg.contains("-4")
            && msg.contains("'s2'")
            && msg.contains("'g2'")
            && msg.contains("raw counts"),
        "{msg}"
    );
    let processed = Preprocess {
        normalize_total: false,
        log1p: false,
        hvg: None,
        ..Preprocess::default()
    };
    assert!(processed.fit(&d).is_ok());
}

/// Coordinates stored as strings were skipped without a word, and a categorical code of -2 read as missing.
#[test]
fn string_coordinates_and_bad_category_codes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut d = read_h5ad(&small_h5ad(dir)).unwrap();
    d.obs = polars::prelude::DataFrame::new(
        3,
        vec![polars::prelude::Column::new(
            "domain".into(),
            ["L1", "L1", "WM"],
        )],
    )
    .unwrap();
    let good = dir.join("labelled.h5ad");
    write_h5ad(&good, &d).unwrap();
    assert_eq!(
        read_h5ad(&good)
            .unwrap()
            .obs
            .column("domain")
            .unwrap()
            .null_count(),
        0
    );

    let p = corrupted(dir, &good, "code.h5ad", |f| {
        replace(f, "obs/domain", "codes", |b| {
            b.with_i8_data(&[0, -2, 1]);
        });
    });
    expect_invalid(
        read_h5ad(&p),
        &p,
        "obs/domain/codes",
        &["entry 1 is -2", "-1 (missing)"],
    );

    let p = corrupted(dir, &good, "missing.h5ad", |f| {
        replace(f, "obs/domain", "codes", |b| {
            b.with_i8_data(&[0, -1, 1]);
        });
    });
    assert_eq!(
        read_h5ad(&p)
            .unwrap()
            .obs
            .column("domain")
            .unwrap()
            .null_count(),
        1
    );

    let p = corrupted(dir, &good, "strings.h5ad", |f| {
        replace(f, "obsm", "spatial", |b| {
            b.with_vlen_strings(&["0", "0", "1", "0", "0", "1"])
                .with_shape(&[3, 2]);
        });
    });
    expect_invalid(
        read_h5ad(&p),
        &p,
        "obsm/spatial",
        &["not numbers", "coordinates"],
    );
}
