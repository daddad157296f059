//! The `mcp-gateway` binary: parse the command line, run it, exit with its status.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A backend shim (`backend::shim`) leaves before any runtime, logging or config.
    if let Some(code) = mcp_gateway::backend::shim::run_if_asked() {
        return code;
    }
    mcp_gateway::sys::tune_allocator();
    let cli = mcp_gateway::cli::Cli::parse();
    let log = mcp_gateway::cli::init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mcp-gateway: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(mcp_gateway::cli::run(cli));
    // When stdin is not a pipe (a terminal), its reader is a blocking read that cannot be
    // cancelled; don't wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    // Queued log lines first, so the final error comes last.
    drop(log);
    result.unwrap_or_else(|e| {
        eprintln!("mcp-gateway: {e:#}");
        ExitCode::from(2)
    })
}
