//! Which sections the reproduction runs on: the rows of a data directory's MANIFEST.tsv (the panel on these
//! machines), or the paper's 27 Visium sections downloaded through the data layer's registry and cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use dpvae_data::fetch::{Fetcher, Registry};
use serde::Serialize;

/// One tissue section with coordinates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    pub name: String,
    pub path: PathBuf,
    pub tech: String,
    pub species: String,
    /// Whether the paper itself used this section.
    pub paper_dataset: bool,
    /// Spots, as the manifest or registry states it (0 when unknown).
    pub n_obs: usize,
}

/// Sections related closely enough to transfer a model between them (the paper's Figure 11).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub name: String,
    pub sections: Vec<String>,
}

/// The sections of one reproduction run.
#[derive(Debug, Clone, Serialize)]
pub struct Panel {
    /// Where they came from (a MANIFEST.tsv or a registry file).
    pub source: PathBuf,
    pub sections: Vec<Section>,
}

/// Families of related sections, recognised by name, in the order their members sort.
const GROUPS: [(&str, &str); 3] = [
    ("dlpfc", "dlpfc"),
    ("mouse_brain_st", "st_mouse_brain_hippo"),
    ("mouse_brain_sagittal", "Mouse_Brain_Sagittal"),
];

impl Panel {
    /// Sections listed in `<dir>/MANIFEST.tsv`: every h5ad row under `panel/` (processed sections with
    /// coordinates); raw folders are for the reader tests.
    pub fn from_manifest(dir: &Path) -> Result<Panel> {
        let path = dir.join("MANIFEST.tsv");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "could not read {}; --data must name a directory with a MANIFEST.tsv (like ../shared/data)",
                path.display()
            )
        })?;
        let sections = parse_manifest(&text, dir, &path, Rows::Panel)?;
        if sections.is_empty() {
            bail!(
                "{} lists no h5ad section under panel/, so there is nothing to reproduce on",
                path.display()
            );
        }
        Ok(Panel {
            source: path,
            sections,
        })
    }

    /// Every section with coordinates and expression that the placement benchmark runs on: the h5ad rows of
    /// each directory's MANIFEST.tsv (any folder: `panel/`, `extra/`, ...), the raw instrument folders in
    /// [`PLACEMENT_RAW`], and the same for every subfolder of a directory that has a MANIFEST.tsv of its own
    /// (`extra/`). A section named twice is kept once (the first).
    pub fn for_placement(dirs: &[PathBuf]) -> Result<Panel> {
        let mut sections: Vec<Section> = Vec::new();
        let mut manifests = Vec::new();
        for dir in dirs {
            manifests.push((dir.clone(), dir.join("MANIFEST.tsv")));
            let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
                .with_context(|| format!("could not list {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("MANIFEST.tsv").is_file())
                .collect();
            subs.sort();
            manifests.extend(
                subs.into_iter()
                    .map(|d| (d.clone(), d.join("MANIFEST.tsv"))),
            );
        }
        for (dir, path) in &manifests {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "could not read {}; --data must name directories with a MANIFEST.tsv (like ../shared/data)",
                    path.display()
                )
            })?;
            for s in parse_manifest(&text, dir, path, Rows::Placement)? {
                if !sections.iter().any(|x| x.name == s.name) {
                    sections.push(s);
                }
            }
        }
        if sections.is_empty() {
            bail!("the data directories list no section to place");
        }
        Ok(Panel {
            source: manifests[0].1.clone(),
            sections,
        })
    }

    /// The paper's 27 sections from a registry file (visium27.tsv), downloaded into `cache` when missing.
    pub fn from_registry(registry: &Path, cache: &Path) -> Result<Panel> {
        let reg = Registry::from_tsv_path(registry)?;
        let fetcher = Fetcher::new(cache);
        let mut sections = Vec::new();
        for e in reg.entries() {
            tracing::info!(section = %e.sample_id, "fetching (cached sections are reused)");
            let outs = fetcher.fetch(e).with_context(|| {
                format!(
                    "could not fetch {}; with no network, pass --data DIR with local sections instead",
                    e.sample_id
                )
            })?;
            sections.push(Section {
                name: e.sample_id.clone(),
                path: outs,
                tech: "Visium".into(),
                species: e.species.clone(),
                paper_dataset: true,
                n_obs: e.spots_under_tissue,
            });
        }
        Ok(Panel {
            source: registry.to_path_buf(),
            sections,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// Families of at least two related sections, each cut to its first `size` members.
    pub fn groups(&self, size: usize) -> Vec<Group> {
        GROUPS
            .iter()
            .filter_map(|(name, pattern)| {
                let mut members: Vec<String> = self
                    .sections
                    .iter()
                    .filter(|s| s.name.contains(pattern))
                    .map(|s| s.name.clone())
                    .collect();
                members.sort();
                members.truncate(size);
                (members.len() >= 2).then(|| Group {
                    name: name.to_string(),
                    sections: members,
                })
            })
            .collect()
    }

    /// The `k` sections with the fewest spots (ties by name), for quick runs.
    pub fn smallest(&self, k: usize) -> Vec<String> {
        let mut s: Vec<&Section> = self.sections.iter().collect();
        s.sort_by(|a, b| a.n_obs.cmp(&b.n_obs).then(a.name.cmp(&b.name)));
        s.into_iter().take(k).map(|s| s.name.clone()).collect()
    }
}

/// Raw instrument folders the placement benchmark reads directly (other raw rows are reader fixtures, sections
/// the panel already has in h5ad, or positions without expression), with their technology.
pub const PLACEMENT_RAW: [(&str, &str); 2] = [
    ("raw/visium_cytassist_mouse", "Visium"),
    ("raw/xenium_mouse_brain", "Xenium"),
];

/// Which manifest rows are sections.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rows {
    /// h5ad rows under `panel/` (the reproduction's panel).
    Panel,
    /// Every h5ad row and the raw folders of [`PLACEMENT_RAW`].
    Placement,
}

/// A manifest path: relative to the manifest's folder, or to its parent when a sub-manifest names its rows
/// from the data root (`extra/x.h5ad` in extra/MANIFEST.tsv).
fn resolve(dir: &Path, rel: &str) -> PathBuf {
    let here = dir.join(rel);
    match dir.parent() {
        Some(up) if !here.exists() && up.join(rel).exists() => up.join(rel),
        _ => here,
    }
}

fn parse_manifest(text: &str, dir: &Path, label: &Path, rows: Rows) -> Result<Vec<Section>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .with_context(|| format!("{} is empty", label.display()))?
        .split('\t')
        .collect();
    let col: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (*h, i)).collect();
    for needed in [
        "name",
        "path",
        "format",
        "tech",
        "species",
        "paper_dataset",
        "n_obs",
    ] {
        if !col.contains_key(needed) {
            bail!("{} has no column `{needed}`", label.display());
        }
    }
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        let get = |c: &str| f.get(col[c]).copied().unwrap_or("").trim();
        let h5ad = get("format") == "h5ad";
        let raw_tech = PLACEMENT_RAW
            .iter()
            .find(|(p, _)| *p == get("path"))
            .map(|(_, t)| *t);
        let wanted = match rows {
            Rows::Panel => h5ad && get("path").starts_with("panel/"),
            Rows::Placement => (h5ad && !get("path").starts_with("raw/")) || raw_tech.is_some(),
        };
        if !wanted {
            continue;
        }
        // Raw folders state no size: 0 until the benchmark reads them.
        let n_obs = if raw_tech.is_some() && get("n_obs").is_empty() {
            Ok(0)
        } else {
            get("n_obs").parse::<usize>()
        };
        let n_obs = n_obs.with_context(|| {
            format!(
                "{} row {}: n_obs `{}` is not a count",
                label.display(),
                i + 2,
                get("n_obs")
            )
        })?;
        let path = resolve(dir, get("path"));
        if !path.exists() {
            bail!(
                "{} row {} names {}, which does not exist",
                label.display(),
                i + 2,
                path.display()
            );
        }
        let name = get("name");
        out.push(Section {
            name: name.strip_prefix("raw/").unwrap_or(name).to_string(),
            path,
            tech: raw_tech.unwrap_or(get("tech")).to_string(),
            species: get("species").to_string(),
            paper_dataset: get("paper_dataset").eq_ignore_ascii_case("true"),
            n_obs,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel_in(dir: &Path, rows: &[(&str, &str, usize)]) -> String {
        let mut text = "name\tpath\tformat\ttech\tspecies\tpaper_dataset\tn_obs\n".to_string();
        std::fs::create_dir_all(dir.join("panel")).unwrap();
        for (name, format, n) in rows {
            let rel = format!("panel/{name}.h5ad");
            std::fs::write(dir.join(&rel), b"x").unwrap();
            text.push_str(&format!("{name}\t{rel}\t{format}\tST\tmouse\tFalse\t{n}\n"));
        }
        text.push_str("raw/x\traw/x\t10x-visium\t\t\t\t\n");
        text
    }

    #[test]
    fn manifest_rows_become_sections_and_groups() {
        let dir = tempfile::tempdir().unwrap();
        let text = panel_in(
            dir.path(),
            &[
                ("st_mouse_brain_hippo2", "h5ad", 900),
                ("st_mouse_brain_hippo1", "h5ad", 1000),
                ("visium_dlpfc_151673", "h5ad", 3000),
                ("other", "h5ad", 10),
            ],
        );
        let s = parse_manifest(&text, dir.path(), Path::new("M"), Rows::Panel).unwrap();
        assert_eq!(s.len(), 4);
        let panel = Panel {
            source: "M".into(),
            sections: s,
        };
        let g = panel.groups(4);
        assert_eq!(g.len(), 1, "one dlpfc section is not a group");
        assert_eq!(
            g[0].sections,
            vec!["st_mouse_brain_hippo1", "st_mouse_brain_hippo2"]
        );
        assert_eq!(panel.smallest(2), vec!["other", "st_mouse_brain_hippo2"]);
    }

    #[test]
    fn bad_manifests_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = parse_manifest("name\tpath\n", dir.path(), Path::new("M.tsv"), Rows::Panel)
            .unwrap_err()
            .to_string();
        assert!(err.contains("M.tsv") && err.contains("format"), "{err}");
        let text = "name\tpath\tformat\ttech\tspecies\tpaper_dataset\tn_obs\na\tpanel/a.h5ad\th5ad\tST\tm\tFalse\t5\n";
        let err = parse_manifest(text, dir.path(), Path::new("M.tsv"), Rows::Panel)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
        let text = "name\tpath\tformat\ttech\tspecies\tpaper_dataset\tn_obs\na\tpanel/a.h5ad\th5ad\tST\tm\tFalse\tmany\n";
        let err = parse_manifest(text, dir.path(), Path::new("M.tsv"), Rows::Panel)
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 2") && err.contains("many"), "{err}");
    }

    #[test]
    fn the_placement_panel_adds_sub_manifests_and_raw_sections() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = panel_in(dir.path(), &[("a", "h5ad", 100)]);
        std::fs::create_dir_all(dir.path().join("raw/xenium_mouse_brain")).unwrap();
        text.push_str("raw/xenium_mouse_brain\traw/xenium_mouse_brain\t10x-xenium\t\t\t\t\t\n");
        std::fs::write(dir.path().join("MANIFEST.tsv"), &text).unwrap();
        let extra = dir.path().join("extra");
        std::fs::create_dir_all(&extra).unwrap();
        std::fs::write(extra.join("b.h5ad"), b"x").unwrap();
        std::fs::write(
            extra.join("MANIFEST.tsv"),
            "name\tpath\tformat\ttech\tspecies\tpaper_dataset\tn_obs\nb\textra/b.h5ad\th5ad\tosmFISH\tmouse\tFalse\t50\n",
        )
        .unwrap();
        let p = Panel::for_placement(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<(&str, &str, usize)> = p
            .sections
            .iter()
            .map(|s| (s.name.as_str(), s.tech.as_str(), s.n_obs))
            .collect();
        assert_eq!(
            names,
            vec![
                ("a", "ST", 100),
                ("xenium_mouse_brain", "Xenium", 0),
                ("b", "osmFISH", 50)
            ]
        );
        assert_eq!(p.sections[2].path, extra.join("b.h5ad"));
        // The reproduction's panel is unchanged: panel/ rows only.
        let r = Panel::from_manifest(dir.path()).unwrap();
        assert_eq!(r.sections.len(), 1);
    }
}
