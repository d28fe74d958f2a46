//! `portico`: the command-line front of Portico.
//!
//! * `portico serve` — the data plane (default `0.0.0.0:8080`) and the management listener
//!   (default `127.0.0.1:9090`) on the embedded SQLite store, optionally importing OpenAPI files first;
//! * `portico import FILE` — create or update an API from OpenAPI and deploy it to a stage;
//! * `portico routes` — print every served route in match order.

mod aws;
mod cli;
mod cors;
mod import;
mod serve;

use clap::Parser;

/// mimalloc: measurably cheaper than glibc malloc for the many small per-request allocations of
/// the HTTP stack (see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    cli::init_tracing(&cli.log_format);
    let workers = match &cli.command {
        cli::Command::Serve(s) => s.workers,
        _ => Some(1),
    };
    let runtime = match build_runtime(workers) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("portico: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => serve::run(*args).await,
            cli::Command::Import(args) => import::run(args).await,
            cli::Command::Routes(args) => serve::routes(args).await,
            cli::Command::Cors(cli::CorsCommand::Enable(args)) => cors::enable(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portico: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// One worker runs a `current_thread` runtime (the cheapest per request); more use the
/// multi-threaded scheduler.
fn build_runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let workers = workers
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
}
