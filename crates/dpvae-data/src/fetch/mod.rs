//! The paper's 27 Visium sections: a registry of their public 10x Genomics URLs, sizes and md5 sums, and a
//! fetcher that downloads a section's filtered matrix and spatial archive into a cache, verified.
//!
//! The cache never holds a corrupt file: every download goes to a temporary file in the cache directory, is
//! checked against the registry's byte count and md5, and only then renamed into place; the spatial archive is
//! unpacked into a temporary folder that is renamed into place when complete. A cached section is an ordinary
//! Space Ranger outs folder (`<cache>/<sample_id>/filtered_feature_bc_matrix.h5` + `spatial/`), so
//! [`crate::io::read`] reads it.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::{Digest, Md5};

use crate::error::{DataError, Result};

/// File name of the paper's registry inside a data directory (`$DPVAE_DATA/visium27.tsv`).
pub const REGISTRY_FILE: &str = "visium27.tsv";

/// A file on a server, with the size and md5 it must have.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Remote {
    pub url: String,
    pub md5: String,
    pub bytes: u64,
}

/// One Visium section of the registry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistryEntry {
    pub sample_id: String,
    pub spaceranger: String,
    pub species: String,
    pub tissue: String,
    pub spots_under_tissue: usize,
    pub filtered_h5: Remote,
    pub spatial_tgz: Remote,
}

/// A set of downloadable sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    entries: Vec<RegistryEntry>,
}

const COLUMNS: [&str; 11] = [
    "sample_id",
    "spaceranger",
    "species",
    "tissue",
    "spots_under_tissue",
    "filtered_h5_url",
    "filtered_h5_md5",
    "filtered_h5_bytes",
    "spatial_tgz_url",
    "spatial_tgz_md5",
    "spatial_tgz_bytes",
];

impl Registry {
    /// The paper's 27 sections, from `visium27.tsv` in a data directory (the registry is data the project
    /// reads, not a file it ships).
    pub fn from_data_dir(dir: &Path) -> Result<Registry> {
        Registry::from_tsv_path(&dir.join(REGISTRY_FILE))
    }

    /// A registry from a TSV file with the columns of `visium27.tsv`.
    pub fn from_tsv_path(path: &Path) -> Result<Registry> {
        let text = fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        Registry::parse(&text, path)
    }

    /// Parse registry TSV text; `label` names the source in errors.
    pub fn parse(text: &str, label: &Path) -> Result<Registry> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines
            .next()
            .ok_or_else(|| DataError::invalid(label, "header", "registry is empty"))?;
        let names: Vec<&str> = header.split('\t').map(str::trim).collect();
        let col = |name: &str| {
            names.iter().position(|n| *n == name).ok_or_else(|| {
                DataError::missing(
                    label,
                    format!("column '{name}'"),
                    format!("registry columns are {COLUMNS:?}"),
                )
            })
        };
        let idx: Vec<usize> = COLUMNS.iter().map(|c| col(c)).collect::<Result<_>>()?;
        let mut entries = Vec::new();
        for (ln, line) in lines {
            let f: Vec<&str> = line.split('\t').map(str::trim).collect();
            let get = |k: usize| f.get(idx[k]).copied().unwrap_or("");
            let line_no = ln + 1;
            let num = |k: usize| -> Result<u64> {
                get(k).parse().map_err(|_| {
                    DataError::invalid(
                        label,
                        format!("line {line_no}, column {}", COLUMNS[k]),
                        format!("'{}' is not a number", get(k)),
                    )
                })
            };
            let md5 = |k: usize| -> Result<String> {
                let v = get(k).to_ascii_lowercase();
                if v.len() == 32 && v.chars().all(|c| c.is_ascii_hexdigit()) {
                    Ok(v)
                } else {
                    Err(DataError::invalid(
                        label,
                        format!("line {line_no}, column {}", COLUMNS[k]),
                        format!("'{v}' is not an md5 sum"),
                    ))
                }
            };
            let sample_id = get(0).to_string();
            if sample_id.is_empty() || sample_id.contains(['/', '\\']) || sample_id.starts_with('.')
            {
                return Err(DataError::invalid(
                    label,
                    format!("line {line_no}, sample_id"),
                    format!("'{sample_id}' is not a valid sample id"),
                ));
            }
            entries.push(RegistryEntry {
                sample_id,
                spaceranger: get(1).to_string(),
                species: get(2).to_string(),
                tissue: get(3).to_string(),
                spots_under_tissue: num(4)? as usize,
                filtered_h5: Remote {
                    url: get(5).to_string(),
                    md5: md5(6)?,
                    bytes: num(7)?,
                },
                spatial_tgz: Remote {
                    url: get(8).to_string(),
                    md5: md5(9)?,
                    bytes: num(10)?,
                },
            });
        }
        if let Some(dup) = crate::io::index_of(entries.iter().map(|e| e.sample_id.as_str())).err() {
            return Err(DataError::invalid(
                label,
                "sample_id",
                format!("'{dup}' occurs more than once"),
            ));
        }
        Ok(Registry { entries })
    }

    pub fn entries(&self) -> &[RegistryEntry] {
        &self.entries
    }

    pub fn get(&self, sample_id: &str) -> Option<&RegistryEntry> {
        self.entries.iter().find(|e| e.sample_id == sample_id)
    }

    /// The entry for `sample_id`, or an error listing the known ids.
    pub fn require(&self, sample_id: &str) -> Result<&RegistryEntry> {
        self.get(sample_id).ok_or_else(|| DataError::Data {
            object: format!("sample '{sample_id}'"),
            problem: format!(
                "is not in the registry; known samples: {}",
                self.entries
                    .iter()
                    .map(|e| e.sample_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}

/// The cache directory: `$DPVAE_CACHE`, else `$XDG_CACHE_HOME/dpvae`, else `~/.cache/dpvae`, else `.dpvae-cache`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DPVAE_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("dpvae");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache").join("dpvae");
    }
    PathBuf::from(".dpvae-cache")
}

/// Downloads registry sections into a cache directory.
#[derive(Debug, Clone)]
pub struct Fetcher {
    cache_dir: PathBuf,
    timeout: Duration,
    verify_cached: bool,
}

/// Name of the file inside `spatial/` recording the md5 of the archive it was unpacked from.
const SPATIAL_MARKER: &str = ".dpvae-source-md5";

impl Fetcher {
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Fetcher {
            cache_dir: cache_dir.into(),
            timeout: Duration::from_secs(60),
            verify_cached: false,
        }
    }

    /// Per-read network timeout (default 60 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Re-check the md5 of already cached matrices (default: size only, since cached files were verified).
    pub fn verify_cached(mut self, yes: bool) -> Self {
        self.verify_cached = yes;
        self
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// The outs folder a section is cached in.
    pub fn section_dir(&self, entry: &RegistryEntry) -> PathBuf {
        self.cache_dir.join(&entry.sample_id)
    }

    /// Whether a section is completely cached (matrix of the right size and an unpacked spatial folder from the
    /// registry's archive).
    pub fn is_cached(&self, entry: &RegistryEntry) -> bool {
        let dir = self.section_dir(entry);
        let h5 = dir.join("filtered_feature_bc_matrix.h5");
        let h5_ok = fs::metadata(&h5)
            .map(|m| m.len() == entry.filtered_h5.bytes)
            .unwrap_or(false)
            && (!self.verify_cached
                || file_md5(&h5)
                    .map(|m| m == entry.filtered_h5.md5)
                    .unwrap_or(false));
        let marker =
            fs::read_to_string(dir.join("spatial").join(SPATIAL_MARKER)).unwrap_or_default();
        h5_ok && marker.trim() == entry.spatial_tgz.md5
    }

    /// Make sure a section is in the cache (downloading what is missing) and return its outs folder.
    pub fn fetch(&self, entry: &RegistryEntry) -> Result<PathBuf> {
        let dir = self.section_dir(entry);
        fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
        let h5 = dir.join("filtered_feature_bc_matrix.h5");
        let h5_ok = fs::metadata(&h5)
            .map(|m| m.len() == entry.filtered_h5.bytes)
            .unwrap_or(false)
            && (!self.verify_cached || file_md5(&h5)? == entry.filtered_h5.md5);
        if h5_ok {
            tracing::info!(sample = %entry.sample_id, "matrix already cached");
        } else {
            self.download(&entry.filtered_h5, &h5)?;
        }
        let marker =
            fs::read_to_string(dir.join("spatial").join(SPATIAL_MARKER)).unwrap_or_default();
        if marker.trim() == entry.spatial_tgz.md5 {
            tracing::info!(sample = %entry.sample_id, "spatial folder already cached");
        } else {
            let tgz = dir.join("spatial.tar.gz");
            self.download(&entry.spatial_tgz, &tgz)?;
            let unpacked = unpack_spatial(&tgz, &dir, &entry.spatial_tgz.md5);
            let _ = fs::remove_file(&tgz);
            unpacked?;
        }
        Ok(dir)
    }

    /// Download `remote` to `dest`: stream into a temporary sibling while hashing, check size and md5, rename.
    pub fn download(&self, remote: &Remote, dest: &Path) -> Result<()> {
        let fail = |problem: String| DataError::Fetch {
            url: remote.url.clone(),
            problem,
        };
        tracing::info!(url = %remote.url, bytes = remote.bytes, "downloading");
        // Streamed into a temporary sibling that is fsynced and renamed over `dest` only once size and md5 match.
        crate::atomic::write_atomic(dest, |file| {
            let agent = ureq::AgentBuilder::new()
                .timeout_connect(self.timeout)
                .timeout_read(self.timeout)
                .build();
            let response = agent
                .get(&remote.url)
                .call()
                .map_err(|e| fail(e.to_string()))?;
            let mut reader = response.into_reader().take(remote.bytes + 1);
            let mut hasher = Md5::new();
            let mut total = 0u64;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = reader.read(&mut buf).map_err(|e| {
                    fail(format!(
                        "connection failed after {total} of {} bytes: {e}",
                        remote.bytes
                    ))
                })?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n])
                    .map_err(|e| DataError::io(dest, e))?;
                total += n as u64;
            }
            if total != remote.bytes {
                return Err(fail(format!(
                    "received {total} bytes, the registry says {} (truncated or changed download)",
                    remote.bytes
                )));
            }
            let got = hex(&hasher.finalize());
            if got != remote.md5 {
                return Err(fail(format!(
                    "md5 is {got}, the registry says {} (corrupt download)",
                    remote.md5
                )));
            }
            Ok(())
        })
    }
}

fn temp_sibling(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dest.with_file_name(format!(".{name}.part-{}-{nanos}", std::process::id()))
}

/// Unpack a verified spatial archive into `<dir>/spatial` through a temporary folder renamed into place.
fn unpack_spatial(tgz: &Path, dir: &Path, md5: &str) -> Result<()> {
    let staging = temp_sibling(&dir.join("spatial"));
    let result = (|| -> Result<()> {
        fs::create_dir_all(&staging).map_err(|e| DataError::io(&staging, e))?;
        let file = fs::File::open(tgz).map_err(|e| DataError::io(tgz, e))?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        archive
            .unpack(&staging)
            .map_err(|e| DataError::invalid(tgz, "archive", format!("cannot unpack: {e}")))?;
        // 10x archives hold `spatial/...`; accept a flat archive too.
        let inner = staging.join("spatial");
        let src = if inner.is_dir() {
            inner
        } else {
            staging.clone()
        };
        let has_positions = [
            "tissue_positions_list.csv",
            "tissue_positions.csv",
            "tissue_positions.parquet",
        ]
        .iter()
        .any(|n| src.join(n).exists());
        if !has_positions {
            return Err(DataError::missing(
                tgz,
                "spatial/tissue_positions*",
                "the spatial archive has no spot positions",
            ));
        }
        fs::write(src.join(SPATIAL_MARKER), md5).map_err(|e| DataError::io(&src, e))?;
        let target = dir.join("spatial");
        if target.exists() {
            fs::remove_dir_all(&target).map_err(|e| DataError::io(&target, e))?;
        }
        fs::rename(&src, &target).map_err(|e| DataError::io(&target, e))
    })();
    let _ = fs::remove_dir_all(&staging);
    result
}

/// md5 of a file, lowercase hex.
pub fn file_md5(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_registry_has_the_papers_27_sections() {
        let Some(path) = crate::testdata::require(
            "data_dir_registry_has_the_papers_27_sections",
            REGISTRY_FILE,
        ) else {
            return;
        };
        let r = Registry::from_data_dir(path.parent().unwrap()).unwrap();
        assert_eq!(r.entries().len(), 27);
        let e = r.require("V1_Human_Lymph_Node").unwrap();
        assert_eq!(e.spots_under_tissue, 4035);
        assert_eq!(e.filtered_h5.md5, "3cee10e8f8f504eae537a4a6c4bdcc0f");
        assert!(e.spatial_tgz.url.ends_with("_spatial.tar.gz"));
        assert!(
            r.require("nope")
                .unwrap_err()
                .to_string()
                .contains("V1_Adult_Mouse_Brain")
        );
    }

    #[test]
    fn registry_parse_rejects_bad_rows() {
        let header = COLUMNS.join("\t");
        let bad_md5 = format!(
            "{header}\ns\t1\th\tt\t10\thttp://a\tzz\t5\thttp://b\t{}\t6\n",
            "0".repeat(32)
        );
        let e = Registry::parse(&bad_md5, Path::new("r.tsv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("filtered_h5_md5") && e.contains("line 2"), "{e}");
        let e = Registry::parse("sample_id\tx\n", Path::new("r.tsv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("spaceranger"), "{e}");
    }
}
