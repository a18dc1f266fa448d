//! Turning a core module built for `wasm32-unknown-unknown` into a component.

use wasmparser::{Parser, Payload};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::Resolve;

use crate::{Contract, ContractError, Kind};

/// Builds a plugin component from a core module.
///
/// The module's world and contract version are found from its exports
/// (`keel:plugin/acl@0.3.0#...` means `acl-policy` of 0.3.0), any
/// component-type metadata the module carries is replaced with that world
/// from the version's WIT, and a module that imports anything but that
/// version's `host` interface is refused. The output depends only on the input
/// bytes, so a reproducible module gives a reproducible component.
pub fn componentize(module: &[u8]) -> Result<(Kind, Contract, Vec<u8>), ContractError> {
    let core = read_core_module(module)?;
    let (kind, contract) = kind_of_core_module(&core.exports)?;
    let host = contract.host_interface();
    for module_name in &core.import_modules {
        let own_resources = format!("[export]{}", contract.interface(kind));
        if *module_name != host && *module_name != own_resources {
            return Err(ContractError::ForbiddenImport { import: module_name.clone(), allowed: host });
        }
    }

    let mut resolve = Resolve::default();
    let package = resolve
        .push_str("plugin.wit", contract.wit())
        .map_err(|e| ContractError::Encode(format!("parse contract: {e:#}")))?;
    let world = resolve
        .select_world(&[package], Some(kind.world()))
        .map_err(|e| ContractError::Encode(format!("select world: {e:#}")))?;
    let mut bytes = core.without_component_types;
    wit_component::embed_component_metadata(&mut bytes, &resolve, world, StringEncoding::UTF8)
        .map_err(|e| ContractError::Encode(format!("embed world metadata: {e:#}")))?;
    let component = encode(&bytes)?;
    Ok((kind, contract, component))
}

/// Builds a component from a core module using the WIT the module itself
/// embeds, with no check of what it imports or exports.
///
/// Only for test fixtures that must break the contract on purpose, so that
/// the host's own load-time checks can be tested against them.
pub fn componentize_with_embedded_wit(module: &[u8]) -> Result<Vec<u8>, ContractError> {
    encode(module)
}

fn encode(module: &[u8]) -> Result<Vec<u8>, ContractError> {
    ComponentEncoder::default()
        .validate(true)
        .module(module)
        .and_then(|encoder| encoder.encode())
        .map_err(|e| ContractError::Encode(format!("{e:#}")))
}

/// A core module's import module names and export names, and its bytes with
/// every `component-type` custom section removed.
struct CoreModule {
    import_modules: Vec<String>,
    exports: Vec<String>,
    without_component_types: Vec<u8>,
}

fn read_core_module(module: &[u8]) -> Result<CoreModule, ContractError> {
    let malformed = |e: wasmparser::BinaryReaderError| ContractError::NotAComponent(e.message().to_owned());
    let mut core = CoreModule {
        import_modules: Vec::new(),
        exports: Vec::new(),
        without_component_types: module.get(..8).unwrap_or_default().to_vec(),
    };
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(malformed)?;
        match &payload {
            Payload::Version { encoding: wasmparser::Encoding::Component, .. } => {
                return Err(ContractError::NotAComponent("already a component, expected a core module".into()));
            }
            Payload::ImportSection(section) => {
                for import in section.clone().into_imports() {
                    let module_name = import.map_err(malformed)?.module.to_owned();
                    if !core.import_modules.contains(&module_name) {
                        core.import_modules.push(module_name);
                    }
                }
            }
            Payload::ExportSection(section) => {
                for export in section.clone() {
                    core.exports.push(export.map_err(malformed)?.name.to_owned());
                }
            }
            _ => {}
        }
        // Copy every section but component-type metadata, byte for byte.
        if let Some((id, range)) = payload.as_section() {
            let is_component_type = matches!(&payload, Payload::CustomSection(custom)
                if custom.name().starts_with("component-type"));
            if !is_component_type {
                core.without_component_types.push(id);
                let body = usize::try_from(range.start)
                    .ok()
                    .zip(usize::try_from(range.end).ok())
                    .and_then(|(start, end)| module.get(start..end))
                    .unwrap_or_default();
                leb128_u32(&mut core.without_component_types, body.len());
                core.without_component_types.extend_from_slice(body);
            }
        }
    }
    Ok(core)
}

fn kind_of_core_module(exports: &[String]) -> Result<(Kind, Contract), ContractError> {
    let interfaces = exports.iter().filter_map(|export| export.split_once('#')).map(|(interface, _)| interface);
    crate::inspect::the_one(interfaces.filter_map(Contract::of_interface), exports)
}

fn leb128_u32(out: &mut Vec<u8>, value: usize) {
    let mut value = value;
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
