//! The `kymo` command line: argument parsing, dispatch, presentation and exit codes.
//!
//! Exit codes: 0 success, 1 bad input (unreadable or invalid file, bad option), 2 internal
//! error (a bug in kymo). All work is done by the `kymo` library; this crate only turns
//! arguments into library calls and results into text.
#![deny(unsafe_code)]

mod args;
mod commands;
mod malloc;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

fn main() -> ExitCode {
    malloc::fix_mmap_threshold();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; a bad option is bad input (1),
            // not clap's default 2, which kymo keeps for internal errors.
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // A panic is a bug: report it as an internal error (2), never as bad input.
    let outcome = std::panic::catch_unwind(|| run(cli));
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(err)) => {
            if is_broken_pipe(&err) {
                // `kymo info x.edf | head`: the reader went away; that is not a failure (Unix convention).
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "kymo: {err:#}");
            ExitCode::from(exit_code_for(&err))
        }
        Err(_) => {
            let _ = writeln!(
                std::io::stderr(),
                "kymo: internal error (this is a bug in kymo; please report it with the command and file)"
            );
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Info(a) => commands::info::run(&a),
        Command::Simulate(a) => commands::simulate::run(&a),
        Command::Analyze(a) => commands::analyze::run(&a),
        Command::Eval(a) => commands::eval::run(&a),
        Command::Demo(a) => commands::demo::run(&a),
    }
}

/// Bad input (any library error, or an I/O error on an output) is 1; anything else is a bug (2).
fn exit_code_for(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<kymo::Error>().is_some() || err.downcast_ref::<std::io::Error>().is_some()
    {
        1
    } else {
        2
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
