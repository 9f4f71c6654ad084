//! `nabla-cli`: see the chain rule of an expression (see `nabla-cli help`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = nabla_cli::cli::run(&args, &mut std::io::stdout().lock(), &mut std::io::stderr().lock());
    std::process::exit(code);
}
