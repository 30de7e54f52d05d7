//! The user-facing option enums parse from the names the command line and config files use, and print back
//! to them.

use dpvae_geometry::{AnchorMode, Method};

#[test]
fn methods_round_trip_through_their_names() {
    for m in [Method::Direct, Method::Smacof, Method::L1] {
        assert_eq!(m.to_string().parse::<Method>().unwrap(), m);
    }
    assert_eq!("SMACOF".parse::<Method>().unwrap(), Method::Smacof);
    let e = "mds".parse::<Method>().unwrap_err().to_string();
    assert!(
        e.contains("'mds'") && e.contains("direct, smacof or l1"),
        "{e}"
    );
}

#[test]
fn anchor_modes_parse_with_an_optional_weight() {
    assert_eq!("hard".parse::<AnchorMode>().unwrap(), AnchorMode::Hard);
    assert_eq!(
        "penalty".parse::<AnchorMode>().unwrap(),
        AnchorMode::Penalty { gamma: 1.0 }
    );
    assert_eq!(
        "penalty:0.25".parse::<AnchorMode>().unwrap(),
        AnchorMode::Penalty { gamma: 0.25 }
    );
    for bad in ["soft", "penalty:0", "penalty:NaN", "penalty:x", "hard:2"] {
        assert!(bad.parse::<AnchorMode>().is_err(), "{bad}");
    }
    assert_eq!(
        AnchorMode::Penalty { gamma: 1.0 }.with_gamma(3.0),
        AnchorMode::Penalty { gamma: 3.0 }
    );
    assert_eq!(AnchorMode::Hard.with_gamma(3.0), AnchorMode::Hard);
    assert_eq!(AnchorMode::Penalty { gamma: 2.0 }.to_string(), "penalty");
}
