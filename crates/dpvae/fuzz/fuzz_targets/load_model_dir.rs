//! A model directory with one file damaged (a JSON value replaced, removed or shortened, a weights file
//! truncated or overwritten) loads with Ok or a typed error, and a model that loads places a query without a
//! panic. The intact directory is trained once per process on a small simulated section.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use dpvae::data::SpatialData;
use dpvae::data::simulate::SimulateParams;
use dpvae::data::split::train_test_split;
use dpvae::{Model, TrainSettings, train_reference};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

struct Seed {
    files: Vec<(String, Vec<u8>)>,
    query: SpatialData,
}

fn seed() -> &'static Seed {
    static SEED: OnceLock<Seed> = OnceLock::new();
    SEED.get_or_init(|| {
        // libfuzzer-sys aborts on any panic through its hook, even one the code catches on purpose (burn's
        // record loader asserts, and `FittedModel::to_module` turns that into an error). Back to the default
        // hook: a caught panic is then an error, and an uncaught one still aborts the input as a crash.
        drop(std::panic::take_hook());
        let t = SimulateParams {
            n_spots: 200,
            n_genes: 60,
            seed: 1,
            ..Default::default()
        }
        .simulate()
        .unwrap();
        let split = train_test_split(t.n_obs(), 0.2, 0).unwrap();
        let mut s = TrainSettings::recommended();
        s.train.epochs = 3;
        s.placement.members = 2;
        s.placement.auto.enabled = false;
        s.preprocess.hvg.as_mut().unwrap().n_top_genes = 40;
        let reference = t.select_obs(&split.train).unwrap();
        let trained = train_reference(&reference, &s, "fuzz", None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model");
        trained.model.save(&path).unwrap();
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.file_name().to_string_lossy().into_owned();
                (name, std::fs::read(e.path()).unwrap())
            })
            .collect();
        files.sort();
        Seed {
            files,
            query: t.select_obs(&split.test).unwrap(),
        }
    })
}

/// Every JSON pointer in `v`, depth first.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        _ => {}
    }
}

fn number(bytes: &[u8]) -> Value {
    let mut b = [0u8; 8];
    for (d, s) in b.iter_mut().zip(bytes) {
        *d = *s;
    }
    let x = f64::from_le_bytes(b);
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// Replace, remove or reshape the value at a pointer chosen by `data`.
fn mutate_json(bytes: &[u8], data: &[u8]) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(bytes) else {
        return bytes.to_vec();
    };
    let mut all = Vec::new();
    pointers(&v, String::new(), &mut all);
    if all.is_empty() || data.len() < 3 {
        return data.to_vec();
    }
    let at = &all[(usize::from(data[0]) << 8 | usize::from(data[1])) % all.len()];
    let rest = &data[3..];
    let new = match data[2] % 10 {
        0 => number(rest),
        1 => Value::from(-(i64::from(rest.first().copied().unwrap_or(1)))),
        2 => Value::Array(vec![]),
        3 => Value::Null,
        4 => Value::Bool(rest.first().is_some_and(|b| b % 2 == 0)),
        5 => Value::String(String::from_utf8_lossy(rest).into_owned()),
        6 => Value::from(u64::MAX),
        7 => {
            // Shorten an array (or drop the value from its parent object).
            if let Some(Value::Array(a)) = v.pointer_mut(at) {
                let keep = usize::from(rest.first().copied().unwrap_or(0)) % (a.len() + 1);
                a.truncate(keep);
            } else if let Some((parent, key)) = at.rsplit_once('/')
                && let Some(Value::Object(m)) = v.pointer_mut(parent)
            {
                m.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
            return serde_json::to_vec(&v).unwrap();
        }
        8 => {
            // Lengthen an array by repeating its last element.
            if let Some(Value::Array(a)) = v.pointer_mut(at)
                && let Some(last) = a.last().cloned()
            {
                a.push(last);
            }
            return serde_json::to_vec(&v).unwrap();
        }
        _ => Value::from(f64::from(rest.first().copied().unwrap_or(0)) * 1e300),
    };
    if let Some(slot) = v.pointer_mut(at) {
        *slot = new;
    }
    serde_json::to_vec(&v).unwrap()
}

/// Truncate, flip a byte of, or overwrite a weights file.
fn mutate_bytes(bytes: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let pos = data.get(1..5).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    match data.first().map_or(0, |m| m % 3) {
        0 => out.truncate(pos % (out.len() + 1)),
        1 if !out.is_empty() => {
            let i = pos % out.len();
            out[i] ^= data.get(5).copied().unwrap_or(0xff) | 1;
        }
        _ => out = data.get(5..).unwrap_or_default().to_vec(),
    }
    out
}

fn write_dir(dir: &Path, files: &[(String, Vec<u8>)], damaged: usize, data: &[u8]) {
    std::fs::create_dir(dir).unwrap();
    for (k, (name, bytes)) in files.iter().enumerate() {
        let bytes = match (k == damaged, name.ends_with(".json")) {
            (false, _) => bytes.clone(),
            (true, true) => mutate_json(bytes, data),
            (true, false) => mutate_bytes(bytes, data),
        };
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else {
        return;
    };
    let seed = seed();
    let damaged = usize::from(which) % seed.files.len();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    write_dir(&dir, &seed.files, damaged, data);
    if let Ok(model) = Model::load(&dir) {
        let _ = model.place(&seed.query);
    }
});
