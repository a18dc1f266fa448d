//! What every plugin kind has in common: identity, configuration, and the
//! per-instance slot the export macros keep the configured plugin in.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::thread::LocalKey;

/// A plugin's name and version, as `lifecycle.info` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// A short lowercase identifier, for example `acl-nomad`.
    pub name: String,
    /// A semantic version such as `1.2.0`.
    pub version: String,
}

impl PluginInfo {
    pub fn new(name: &str, version: &str) -> Self {
        Self { name: name.to_owned(), version: version.to_owned() }
    }
}

/// The part every plugin kind shares.
///
/// # To ensure correctness
/// - `info` must be cheap and constant.
/// - `configure` must reject unknown keys and invalid values with an error
///   that names the key, and must give the same plugin for the same settings:
///   the host calls it again whenever it replaces an instance.
///
/// # When the host calls it
/// `info` at load time and whenever it lists plugins. `configure` once per
/// instance, right after it is created and before any other call: at load
/// (so that bad settings refuse the plugin), when the host adds a warm
/// instance for concurrent calls, and after a fault threw one away.
pub trait Plugin: Sized + 'static {
    /// The plugin's name and version.
    fn info() -> PluginInfo;

    /// Builds the plugin from the operator's settings (`plugin "<kind>"
    /// { config { ... } }` in the agent configuration), in the order given.
    fn configure(settings: &[(String, String)]) -> Result<Self, String>;
}

/// The `configure` of a plugin that takes no settings: accepts none and
/// refuses any, naming every unknown key.
pub fn refuse_settings(settings: &[(String, String)]) -> Result<(), String> {
    if settings.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = settings.iter().map(|(key, _)| format!("{key:?}")).collect();
    Err(format!("unknown setting {}: this plugin takes no settings", keys.join(", ")))
}

/// Where the export macro keeps the configured plugin of one instance.
#[doc(hidden)]
pub trait Slot: Plugin {
    fn slot() -> &'static LocalKey<RefCell<Option<Self>>>;
}

/// Implements a world's generated `Guest` traits for a [`Plugin`]; the
/// export macros name `Adapter<YourPlugin>` as the exported type.
#[doc(hidden)]
pub struct Adapter<P>(PhantomData<P>);

impl<P: Slot> Adapter<P> {
    pub(crate) fn configure(settings: Vec<(String, String)>) -> Result<(), String> {
        let configured = P::configure(&settings);
        P::slot().with(|slot| {
            let mut slot = slot.borrow_mut();
            match configured {
                Ok(plugin) => {
                    *slot = Some(plugin);
                    Ok(())
                }
                Err(error) => {
                    *slot = None;
                    Err(error)
                }
            }
        })
    }

    /// Runs `f` on the configured plugin. The host always configures an
    /// instance first; should it not, the plugin is configured with no
    /// settings, and a plugin that refuses that traps.
    pub(crate) fn with<R>(f: impl FnOnce(&P) -> R) -> R {
        P::slot().with(|slot| {
            let mut slot = slot.borrow_mut();
            let plugin = slot.get_or_insert_with(|| match P::configure(&[]) {
                Ok(plugin) => plugin,
                Err(error) => panic!("plugin used before configure and refuses empty settings: {error}"),
            });
            f(plugin)
        })
    }
}

impl<P: Slot> crate::bindings::exports::keel::plugin::lifecycle::Guest for Adapter<P> {
    fn info() -> crate::bindings::exports::keel::plugin::lifecycle::PluginInfo {
        let PluginInfo { name, version } = P::info();
        crate::bindings::exports::keel::plugin::lifecycle::PluginInfo { name, version }
    }

    fn configure(settings: Vec<(String, String)>) -> Result<(), String> {
        Self::configure(settings)
    }
}

/// The body of every export macro: keeps the configured plugin in a slot
/// per instance and, on `wasm32`, exports `lifecycle` and the kind's
/// interface (`$interface`, whose generated export macro is
/// `$export_macro`) from `Adapter<$plugin>`.
#[doc(hidden)]
#[macro_export]
macro_rules! __keel_export {
    ($plugin:ty, $interface:ident, $export_macro:ident) => {
        const _: () = {
            impl $crate::__private::Slot for $plugin {
                fn slot() -> &'static ::std::thread::LocalKey<::std::cell::RefCell<Option<Self>>> {
                    ::std::thread_local! {
                        static SLOT: ::std::cell::RefCell<Option<$plugin>> =
                            const { ::std::cell::RefCell::new(None) };
                    }
                    &SLOT
                }
            }
            #[cfg(target_arch = "wasm32")]
            type KeelExport = $crate::__private::Adapter<$plugin>;
            #[cfg(target_arch = "wasm32")]
            $crate::__export_keel_plugin_lifecycle_0_3_0_cabi!(
                KeelExport with_types_in $crate::bindings::exports::keel::plugin::lifecycle
            );
            #[cfg(target_arch = "wasm32")]
    $crate::$export_macro!(KeelExport with_types_in $crate::bindings::exports::keel::plugin::$interface);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::refuse_settings;

    #[test]
    fn refuse_settings_names_every_key() {
        assert_eq!(refuse_settings(&[]), Ok(()));
        let settings = [("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())];
        assert_eq!(
            refuse_settings(&settings),
            Err("unknown setting \"a\", \"b\": this plugin takes no settings".into())
        );
    }
}
