//! `trellis-sample OUT_DIR`: writes the CRM starter pack's sample data, one
//! CSV per form, into OUT_DIR (normally `templates/crm-starter/data`).
//! `users.csv` there is written by hand and left alone.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: trellis-sample OUT_DIR\n  e.g. cargo run -p trellis-sample -- templates/crm-starter/data");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    match trellis_sample::write(&dir) {
        Ok(files) => {
            for (name, bytes, rows) in files {
                println!("{}: {rows} rows, {bytes} bytes", dir.join(name).display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trellis-sample: cannot write into {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
