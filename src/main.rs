//! The `t3sim` command line. Only this layer prints.

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("error: {e:#}");
            let code = e
                .downcast_ref::<t3sim::Error>()
                .map(|e| e.exit_code())
                .unwrap_or(1);
            std::process::exit(code);
        }
    }
}
