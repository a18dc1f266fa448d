//! The shape check every component passes before the host compiles it.

use wasmparser::{Encoding, Parser, Payload};

use crate::{Contract, ContractError, Kind};

/// What a component imports and exports at its top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

impl Shape {
    /// The kind whose interface the component exports, if exactly one, and
    /// the contract version it speaks.
    pub fn kind(&self) -> Result<(Kind, Contract), ContractError> {
        the_one(self.exports.iter().filter_map(|export| Contract::of_interface(export)), &self.exports)
    }

    /// Checks that the component fits `kind`'s world of the contract version
    /// it speaks: it imports nothing but that version's `host`, and exports
    /// that version's `lifecycle` and `kind`'s interface. Returns the version.
    pub fn check(&self, kind: Kind) -> Result<Contract, ContractError> {
        let contract = match self.kind() {
            Ok((found, contract)) if found == kind => contract,
            _ => Contract::CURRENT,
        };
        let host = contract.host_interface();
        if let Some(import) = self.imports.iter().find(|import| **import != host) {
            return Err(ContractError::ForbiddenImport { import: import.clone(), allowed: host });
        }
        let needs = [contract.lifecycle_interface(), contract.interface(kind)];
        if needs.iter().all(|need| self.exports.contains(need)) {
            Ok(contract)
        } else {
            Err(ContractError::WrongWorld {
                expected: kind.world(),
                found: self.exports.clone(),
                needs: needs.to_vec(),
            })
        }
    }
}

/// The one kind and contract version among `found`, the kind interfaces a
/// module or component exports (repeats allowed), or why there is not one.
pub(crate) fn the_one(
    found: impl Iterator<Item = (Kind, Contract)>,
    exports: &[String],
) -> Result<(Kind, Contract), ContractError> {
    let mut found: Vec<(Kind, Contract)> = found.collect();
    found.sort_unstable();
    found.dedup();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(ContractError::UnknownWorld(exports.to_vec())),
        several => Err(ContractError::SeveralWorlds(several.iter().map(|(kind, _)| kind.world()).collect())),
    }
}

/// Reads the top-level imports and exports of a component without compiling it.
pub fn inspect(bytes: &[u8]) -> Result<Shape, ContractError> {
    let mut shape = Shape { imports: Vec::new(), exports: Vec::new() };
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| ContractError::NotAComponent(e.message().to_owned()))?;
        match payload {
            Payload::Version { encoding: Encoding::Module, .. } if depth == 0 => {
                return Err(ContractError::CoreModule);
            }
            Payload::Version { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 1 => {
                for import in section {
                    let import = import.map_err(|e| ContractError::NotAComponent(e.message().to_owned()))?;
                    shape.imports.push(import.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(section) if depth == 1 => {
                for export in section {
                    let export = export.map_err(|e| ContractError::NotAComponent(e.message().to_owned()))?;
                    shape.exports.push(export.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(shape)
}
