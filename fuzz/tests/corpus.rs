//! Replays every committed corpus input through its target's body: the fuzz targets'
//! invariants, checked on stable Rust by `cargo test` (`scripts/fuzz smoke`).

use std::path::Path;

#[test]
fn every_corpus_input_holds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut replayed = 0;
    for (name, run) in beckon_fuzz::TARGETS {
        let dir = root.join(name);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a readable entry").path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{}: no corpus", dir.display());
        for input in &inputs {
            // A fuzzer running on the same corpus replaces inputs with smaller ones.
            let data = match std::fs::read(input) {
                Ok(data) => data,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("{}: {e}", input.display()),
            };
            let outcome = std::panic::catch_unwind(|| run(&data));
            if outcome.is_err() {
                panic!("{name}: {} breaks an invariant", input.display());
            }
        }
        println!("{name}: {} inputs", inputs.len());
        replayed += inputs.len();
    }
    println!("replayed {replayed} corpus inputs");
}
