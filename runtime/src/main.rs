use clap::error::{ContextKind, ContextValue, ErrorKind};
use std::io::IsTerminal;

use clap::Parser;

use runtime::cli::Cli;
use runtime::error::EXIT_RUNTIME;
use runtime::stage;

fn main() {
    let cli = Cli::try_parse().unwrap_or_else(|err| exit_on_parse_error(err));
    init_logging(&cli.log_level);
    let code = match runtime::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("mydocker: {}", describe(&err));
            err.exit_code()
        }
    };
    std::process::exit(code);
}

/// The error and its causes. Our own variants already show their direct
/// source, so the chain starts one level further down.
fn describe(err: &runtime::error::Error) -> String {
    use std::error::Error as _;
    let mut text = err.to_string();
    let mut cause = err.source().and_then(|s| s.source());
    while let Some(c) = cause {
        let shown = c.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        cause = c.source();
    }
    text
}

/// Diagnostics go to stderr, filtered by --log-level / MYDOCKER_LOG.
fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| {
        eprintln!("mydocker: unknown log level {level:?}: using warn");
        tracing_subscriber::EnvFilter::new("warn")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Like clap's own handling, but a flag or command from a later chapter
/// says which chapter brings it, and usage errors exit 125 as Docker's do.
fn exit_on_parse_error(err: clap::Error) -> ! {
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        err.exit();
    }
    let offending = [ContextKind::InvalidArg, ContextKind::InvalidSubcommand]
        .into_iter()
        .find_map(|kind| match err.get(kind) {
            Some(ContextValue::String(arg)) => Some(arg.clone()),
            _ => None,
        });
    if let Some(hint) = offending.as_deref().and_then(stage::later_stage_hint) {
        eprintln!("mydocker: {hint}");
    } else {
        let _ = err.print();
    }
    std::process::exit(EXIT_RUNTIME);
}
