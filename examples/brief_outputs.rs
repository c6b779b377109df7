//! Print the brief and the task text handoffd makes of every labelled case in the folders given,
//! one JSON line per case, in a stable order: a change meant to leave the interpreter's output
//! alone (a speed-up) must leave this output byte-identical (`tools/brief-outputs-unchanged.sh`).
//!
//! Run: `cargo run --example brief_outputs -- CONFIG DIR...` (a folder of cases or of per-language
//! folders, as `handoffd eval` reads them). Never give it the locked test splits.

use std::path::PathBuf;

use anyhow::Context;
use handoffd::interpret::Interpreter;
use handoffd::interpret::score;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let config = PathBuf::from(args.next().context("usage: brief_outputs CONFIG DIR...")?);
    let loaded = handoffd::config::load(&config)?;
    let interpreter = Interpreter::load(&loaded.config.interpret, loaded.base_dir())?;
    for dir in args {
        for (_, slice) in score::slices(dir.as_ref())? {
            for path in score::case_paths(&slice)? {
                let case = score::load_case(&path)?;
                let brief = interpreter.interpret(&case.input).with_context(|| format!("`{}`", path.display()))?;
                let task = interpreter.task_text(&brief, &case.input);
                let line = serde_json::json!({"case": path.display().to_string(), "brief": brief, "task": task});
                println!("{line}");
            }
        }
    }
    Ok(())
}
