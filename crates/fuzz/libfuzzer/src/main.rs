//! libFuzzer over one of Harbour's fuzz targets, chosen by `HARBOUR_FUZZ_TARGET`.
//!
//! With `HARBOUR_FUZZ_SEEDS_TO=DIR`, writes the target's seeds into DIR (the starting corpus)
//! and exits. Built and run by `tests/fuzz.sh`.

#![no_main]

use std::sync::OnceLock;

use harbour_fuzz::Target;
use libfuzzer_sys::fuzz_target;

fn target() -> &'static Target {
    static TARGET: OnceLock<&'static Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let name = std::env::var("HARBOUR_FUZZ_TARGET").unwrap_or_default();
        harbour_fuzz::target(&name).unwrap_or_else(|| {
            let names: Vec<&str> = harbour_fuzz::TARGETS.iter().map(|target| target.name).collect();
            eprintln!("HARBOUR_FUZZ_TARGET must name a target: {}", names.join(", "));
            std::process::exit(2)
        })
    })
}

fuzz_target!(
    init: {
        let target = target();
        if let Some(dir) = std::env::var_os("HARBOUR_FUZZ_SEEDS_TO") {
            std::fs::create_dir_all(&dir).expect("the corpus folder can be made");
            for (index, seed) in (target.seeds)().iter().enumerate() {
                let path = std::path::Path::new(&dir).join(format!("seed-{index}"));
                std::fs::write(path, seed).expect("a seed can be written");
            }
            std::process::exit(0);
        }
    },
    |data: &[u8]| {
        (target().run)(data);
    }
);
