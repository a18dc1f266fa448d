//! The shape check every component passes before the host compiles it.

use wasmparser::{Encoding, Parser, Payload};

use crate::{ContractError, HOST_INTERFACE, Kind, LIFECYCLE_INTERFACE};

/// What a component imports and exports at its top level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

impl Shape {
    /// The kind whose interface the component exports, if exactly one.
    pub fn kind(&self) -> Result<Kind, ContractError> {
        let kinds: Vec<Kind> =
            Kind::ALL.into_iter().filter(|kind| self.exports.iter().any(|e| e == kind.interface())).collect();
        match kinds.as_slice() {
            [kind] => Ok(*kind),
            [] => Err(ContractError::UnknownWorld(self.exports.clone())),
            several => Err(ContractError::SeveralWorlds(several.iter().map(|k| k.world()).collect())),
        }
    }

    /// Checks that the component fits `kind`'s world: it imports nothing but
    /// `host`, and exports `lifecycle` and the kind's interface.
    pub fn check(&self, kind: Kind) -> Result<(), ContractError> {
        if let Some(import) = self.imports.iter().find(|import| *import != HOST_INTERFACE) {
            return Err(ContractError::ForbiddenImport(import.clone()));
        }
        let needs = [LIFECYCLE_INTERFACE, kind.interface()];
        if needs.iter().all(|need| self.exports.iter().any(|e| e == need)) {
            Ok(())
        } else {
            Err(ContractError::WrongWorld {
                expected: kind.world(),
                found: self.exports.clone(),
                needs: needs.iter().map(|n| n.to_string()).collect(),
            })
        }
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
