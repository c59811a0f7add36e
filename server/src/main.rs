//! The `hatchery` binary: read the command line and the configuration, set up logging, then
//! serve until SIGINT/SIGTERM or run a one-off command.

use std::process::ExitCode;

use clap::Parser;
use hatchery_server::{
    Application, Config,
    audit::system_log::SystemLogIntake,
    cli::{Cli, Command},
    shutdown_signal, telemetry,
};

/// jemalloc, whose background threads give memory freed a second ago back to the system
/// (see `JEMALLOC_SYS_WITH_MALLOC_CONF` in `.cargo/config.toml`): glibc's allocator kept a
/// third of what a burst of large events had taken after the history forgot them.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    if let Err(err) = hatchery_server::runner::local::fix_thread_count() {
        eprintln!("hatchery: the model's thread count is not fixed: {err}");
    }
    let cli = Cli::parse();
    // A `.env` file is a development convenience; real environment variables win.
    let _ = dotenvy::dotenv();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("hatchery: invalid configuration: {err}");
            return ExitCode::from(2);
        }
    };
    let system_log = telemetry::init(&config.log, &config.system_log);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = config.worker_threads {
        runtime.worker_threads(threads);
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(serve(config, system_log)),
        Command::User(command) => {
            match runtime.block_on(hatchery_server::cli::run_user_command(&config, command)) {
                Ok(done) => {
                    eprintln!("hatchery: {done}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("hatchery: {err}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn serve(config: Config, system_log: SystemLogIntake) -> ExitCode {
    let app = match Application::build(&config)
        .await
        .and_then(|app| app.with_system_log(system_log))
    {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %err, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = shutdown_signal();
    tracing::info!(addr = %app.local_addr(), version = hatchery_shared::VERSION, "listening");
    match app.run_until(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            ExitCode::FAILURE
        }
    }
}
