//! The fetcher against a local HTTP server on 127.0.0.1 serving fixture files this test makes: a good section
//! (10x HDF5 matrix + spatial tar.gz) that downloads, verifies, unpacks, caches and reads; a wrong md5; a
//! truncated download; a 404. None of the failures may leave anything in the cache.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use dpvae_data::fetch::{Fetcher, Registry, file_md5};
use hdf5_pure::{AttrValue, FileBuilder};

/// What the server answers for a path: the body, and how many bytes it claims in Content-Length.
struct Reply {
    body: Vec<u8>,
    claimed_len: usize,
}

/// Serve `routes` forever on an ephemeral port; counts requests per path.
fn serve(routes: HashMap<String, Reply>) -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(Mutex::new(HashMap::new()));
    let hits2 = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_string();
            *hits2.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
            match routes.get(&path) {
                Some(reply) => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                        reply.claimed_len
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&reply.body);
                }
                None => {
                    let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found");
                }
            }
            let _ = stream.flush();
            // Closing the stream ends a truncated body early.
        }
    });
    (base, hits)
}

/// A tiny 10x HDF5 matrix: 3 genes x 4 barcodes (one barcode not under tissue).
fn tenx_h5() -> Vec<u8> {
    let mut fb = FileBuilder::new();
    fb.set_attr(
        "library_ids",
        AttrValue::AsciiStringArray(vec!["fixture".into()]),
    );
    let mut m = fb.create_group("matrix");
    // CSC over barcodes: each barcode's genes.
    m.create_dataset("data").with_i32_data(&[1, 2, 3, 4, 5, 6]);
    m.create_dataset("indices")
        .with_i64_data(&[0, 2, 1, 0, 1, 2]);
    m.create_dataset("indptr").with_i64_data(&[0, 2, 3, 5, 6]);
    m.create_dataset("shape").with_i32_data(&[3, 4]);
    m.create_dataset("barcodes")
        .with_ascii_strings(&["AAA-1", "CCC-1", "GGG-1", "TTT-1"])
        .unwrap();
    let mut f = m.create_group("features");
    f.create_dataset("name")
        .with_ascii_strings(&["Gfap", "Mbp", "Snap25"])
        .unwrap();
    f.create_dataset("id")
        .with_ascii_strings(&["E1", "E2", "E3"])
        .unwrap();
    f.create_dataset("feature_type")
        .with_ascii_strings(&["Gene Expression", "Gene Expression", "Gene Expression"])
        .unwrap();
    m.add_group(f.finish());
    fb.add_group(m.finish());
    fb.finish().unwrap()
}

/// A spatial.tar.gz as 10x ships it: `spatial/tissue_positions_list.csv` + `spatial/scalefactors_json.json`.
fn spatial_tgz() -> Vec<u8> {
    let positions =
        b"AAA-1,1,0,0,100,200\nCCC-1,1,0,2,110,220\nGGG-1,0,1,1,120,240\nTTT-1,1,1,3,130,260\n";
    let scalefactors = br#"{"tissue_hires_scalef": 0.17, "tissue_lowres_scalef": 0.05, "spot_diameter_fullres": 89.4}"#;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, data) in [
        ("spatial/tissue_positions_list.csv", &positions[..]),
        ("spatial/scalefactors_json.json", &scalefactors[..]),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn md5_hex(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b");
    std::fs::write(&p, bytes).unwrap();
    file_md5(&p).unwrap()
}

fn registry_row(id: &str, base: &str, h5: (&str, &str, usize), tgz: (&str, &str, usize)) -> String {
    format!(
        "{id}\t1.1.0\tmouse\tbrain\t3\t{base}{}\t{}\t{}\t{base}{}\t{}\t{}\n",
        h5.0, h5.1, h5.2, tgz.0, tgz.1, tgz.2
    )
}

/// Every file under `dir`, recursively (to prove failures leave no partial files).
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn fetcher_downloads_verifies_caches_and_refuses_bad_downloads() {
    let h5 = tenx_h5();
    let tgz = spatial_tgz();
    let (h5_md5, tgz_md5) = (md5_hex(&h5), md5_hex(&tgz));
    let mut routes = HashMap::new();
    routes.insert(
        "/good.h5".to_string(),
        Reply {
            body: h5.clone(),
            claimed_len: h5.len(),
        },
    );
    routes.insert(
        "/good_spatial.tar.gz".to_string(),
        Reply {
            body: tgz.clone(),
            claimed_len: tgz.len(),
        },
    );
    // The server claims the full length but sends only half the bytes, then closes.
    routes.insert(
        "/cut.h5".to_string(),
        Reply {
            body: h5[..h5.len() / 2].to_vec(),
            claimed_len: h5.len(),
        },
    );
    let (base, hits) = serve(routes);

    let header = "sample_id\tspaceranger\tspecies\ttissue\tspots_under_tissue\tfiltered_h5_url\tfiltered_h5_md5\tfiltered_h5_bytes\tspatial_tgz_url\tspatial_tgz_md5\tspatial_tgz_bytes\n";
    let wrong_md5 = "0123456789abcdef0123456789abcdef";
    let tsv = format!(
        "{header}{}{}{}{}",
        registry_row(
            "Good",
            &base,
            ("/good.h5", &h5_md5, h5.len()),
            ("/good_spatial.tar.gz", &tgz_md5, tgz.len())
        ),
        registry_row(
            "WrongMd5",
            &base,
            ("/good.h5", wrong_md5, h5.len()),
            ("/good_spatial.tar.gz", &tgz_md5, tgz.len())
        ),
        registry_row(
            "Truncated",
            &base,
            ("/cut.h5", &h5_md5, h5.len()),
            ("/good_spatial.tar.gz", &tgz_md5, tgz.len())
        ),
        registry_row(
            "Gone",
            &base,
            ("/missing.h5", &h5_md5, h5.len()),
            ("/good_spatial.tar.gz", &tgz_md5, tgz.len())
        ),
    );
    let tmp = tempfile::tempdir().unwrap();
    let reg_path = tmp.path().join("registry.tsv");
    std::fs::write(&reg_path, tsv).unwrap();
    let registry = Registry::from_tsv_path(&reg_path).unwrap();
    let cache = tmp.path().join("cache");
    let fetcher = Fetcher::new(&cache).timeout(std::time::Duration::from_secs(10));

    // The good section: downloaded, verified, unpacked, readable as a Space Ranger folder.
    let good = registry.require("Good").unwrap();
    assert!(!fetcher.is_cached(good));
    let dir = fetcher.fetch(good).unwrap();
    assert!(fetcher.is_cached(good));
    assert_eq!(
        std::fs::read(dir.join("filtered_feature_bc_matrix.h5")).unwrap(),
        h5
    );
    let data = dpvae_data::io::read(&dir).unwrap();
    assert_eq!(
        data.obs_names,
        vec!["AAA-1", "CCC-1", "TTT-1"],
        "in-tissue spots"
    );
    assert_eq!(data.var_names, vec!["Gfap", "Mbp", "Snap25"]);
    assert_eq!(
        data.spatial.as_ref().unwrap().row(1).to_vec(),
        vec![220.0, 110.0],
        "[pxl_col, pxl_row]"
    );
    assert_eq!(data.x.to_dense().row(0).to_vec(), vec![1.0, 0.0, 2.0]);
    assert_eq!(
        data.uns["spatial"]["fixture"]["scalefactors"]["tissue_lowres_scalef"],
        0.05
    );
    // A second fetch is served from the cache.
    fetcher.fetch(good).unwrap();
    assert_eq!(
        hits.lock().unwrap()["/good.h5"],
        1,
        "cached matrix was downloaded again"
    );
    assert_eq!(hits.lock().unwrap()["/good_spatial.tar.gz"], 1);
    let good_files = files_under(&cache);

    for (id, words) in [
        ("WrongMd5", vec!["md5", "corrupt"]),
        ("Truncated", vec!["bytes"]),
        ("Gone", vec!["404"]),
    ] {
        let entry = registry.require(id).unwrap();
        let err = fetcher.fetch(entry).unwrap_err().to_string();
        for w in words {
            assert!(err.contains(w), "{id}: '{w}' not in: {err}");
        }
        assert!(
            err.contains(&base),
            "{id}: error does not name the URL: {err}"
        );
        assert!(!fetcher.is_cached(entry));
        // Nothing but the (empty) section folder was added to the cache.
        assert_eq!(
            files_under(&cache),
            good_files,
            "{id} left files in the cache"
        );
    }

    // A corrupted cached matrix is noticed when md5 verification is on, and replaced.
    std::fs::write(
        dir.join("filtered_feature_bc_matrix.h5"),
        vec![0u8; h5.len()],
    )
    .unwrap();
    assert!(
        fetcher.is_cached(good),
        "size-only check cannot see the damage"
    );
    let strict = fetcher.clone().verify_cached(true);
    assert!(!strict.is_cached(good));
    strict.fetch(good).unwrap();
    assert_eq!(
        std::fs::read(dir.join("filtered_feature_bc_matrix.h5")).unwrap(),
        h5
    );
    let mut body = Vec::new();
    std::fs::File::open(dir.join("spatial/scalefactors_json.json"))
        .unwrap()
        .read_to_end(&mut body)
        .unwrap();
    assert!(!body.is_empty());
}
