//! `keel-componentize IN.wasm OUT.wasm [--embedded-wit]`: turns a core module
//! built for `wasm32-unknown-unknown` into a plugin component. Used by `make
//! plugins`; `--embedded-wit` is for test fixtures that break the contract
//! on purpose.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (embedded_wit, paths): (Vec<&String>, Vec<&String>) = args.iter().partition(|a| *a == "--embedded-wit");
    let [input, output] = paths.as_slice() else {
        eprintln!("usage: keel-componentize IN.wasm OUT.wasm [--embedded-wit]");
        return ExitCode::from(2);
    };
    let module = match std::fs::read(input) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("keel-componentize: read {input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let built = if embedded_wit.is_empty() {
        keel_contract::componentize(&module).map(|(_, _, component)| component)
    } else {
        keel_contract::componentize_with_embedded_wit(&module)
    };
    let component = match built {
        Ok(component) => component,
        Err(e) => {
            eprintln!("keel-componentize: {input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(output, component) {
        eprintln!("keel-componentize: write {output}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
