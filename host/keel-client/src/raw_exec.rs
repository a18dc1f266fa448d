//! The `raw_exec` driver: a task's `command` with its `args`, run as the
//! agent's user without isolation, in the task's directory, with the
//! task's environment and its output appended to the allocation's logs.
//!
//! Each task leads its own process group, so that stopping it reaches
//! whatever it started; and it is killed if the agent dies, so that no
//! task outlives the client that answers for it (a client that starts
//! again runs its allocations' tasks again).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub dir: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit status, or `None` when a signal ended it.
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
}

impl Exit {
    pub fn successful(self) -> bool {
        self.code == Some(0)
    }
}

/// The `command` and `args` of a task's `config`, with `${NAME}` replaced
/// by the task's environment variable `NAME`.
pub fn command_of(
    config: &BTreeMap<String, Value>,
    env: &BTreeMap<String, String>,
) -> Result<(String, Vec<String>), String> {
    let command = match config.get("command") {
        Some(Value::String(command)) if !command.is_empty() => command,
        Some(_) => return Err("config \"command\" must be a non-empty string".to_owned()),
        None => return Err("missing required config \"command\"".to_owned()),
    };
    let args = match config.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(args)) => args
            .iter()
            .map(|arg| arg.as_str().map(|arg| interpolate(arg, env)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| "config \"args\" must be a list of strings".to_owned())?,
        Some(_) => return Err("config \"args\" must be a list of strings".to_owned()),
    };
    if let Some(unknown) = config.keys().find(|key| !["command", "args"].contains(&key.as_str())) {
        return Err(format!("unknown config {unknown:?} for the raw_exec driver"));
    }
    Ok((interpolate(command, env), args))
}

/// Replaces each `${NAME}` whose `NAME` is in `env`; others stay as written.
pub(crate) fn interpolate(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}').and_then(|end| env.get(&after[..end]).map(|value| (end, value))) {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The number of a kill signal as a task names it (`SIGINT` when empty).
pub fn signal_number(name: &str) -> Option<i32> {
    let name = name.strip_prefix("SIG").unwrap_or(name);
    Some(match name {
        "" | "INT" => libc::SIGINT,
        "TERM" => libc::SIGTERM,
        "HUP" => libc::SIGHUP,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        _ => return None,
    })
}

/// A running task.
#[derive(Debug)]
pub struct Process {
    child: tokio::process::Child,
    group: i32,
}

impl Process {
    /// Starts `spec` in a process group of its own.
    pub fn start(spec: &Spec) -> io::Result<Self> {
        let log = |path: &PathBuf| OpenOptions::new().create(true).append(true).open(path);
        let mut command = std::process::Command::new(&spec.command);
        command
            .args(&spec.args)
            .envs(&spec.env)
            .current_dir(&spec.dir)
            .stdin(Stdio::null())
            .stdout(log(&spec.stdout)?)
            .stderr(log(&spec.stderr)?)
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and
        // only makes one async-signal-safe system call.
        unsafe {
            command.pre_exec(|| match libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) {
                0 => Ok(()),
                _ => Err(io::Error::last_os_error()),
            });
        }
        let child = tokio::process::Command::from(command).kill_on_drop(true).spawn()?;
        let group = child.id().and_then(|id| i32::try_from(id).ok()).unwrap_or(0);
        Ok(Self { child, group })
    }

    /// The process id, which is also its group's.
    pub fn pid(&self) -> i32 {
        self.group
    }

    /// Waits for the process to exit, then kills what is left of its group.
    pub async fn wait(&mut self) -> Exit {
        let status = self.child.wait().await;
        self.signal_group(libc::SIGKILL);
        match status {
            Ok(status) => Exit { code: status.code(), signal: status.signal() },
            Err(error) => {
                tracing::warn!(pid = self.group, "could not wait for a task: {error}");
                Exit { code: None, signal: None }
            }
        }
    }

    /// Sends `signal` to the process's group.
    pub fn signal_group(&self, signal: i32) {
        if self.group > 0 {
            // SAFETY: kill has no memory-safety preconditions; a group that
            // is gone answers ESRCH, which is what it should.
            unsafe {
                libc::kill(-self.group, signal);
            }
        }
    }
}

/// Kills every process whose environment says it belongs to an allocation
/// directory under `allocs` (`NOMAD_ALLOC_DIR=<allocs>/<id>/alloc`): the
/// tasks a client that stopped without stopping them left behind. Returns
/// how many it killed.
pub fn kill_leftovers(allocs: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    let prefix = format!("NOMAD_ALLOC_DIR={}/", allocs.display());
    let mut killed = 0;
    for pid in entries.flatten().filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok()) {
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        let ours = environ.split(|byte| *byte == 0).any(|var| var.starts_with(prefix.as_bytes()));
        if ours && pid != std::process::id() as i32 {
            // SAFETY: as in `signal_group`.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            killed += 1;
        }
    }
    killed
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(value: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(value).expect("a config")
    }

    #[test]
    fn command_and_args_are_read_and_interpolated() {
        let env = BTreeMap::from([("NOMAD_TASK_DIR".to_owned(), "/d/local".to_owned())]);
        let read = command_of(
            &config(json!({"command": "/bin/sh", "args": ["-c", "echo > ${NOMAD_TASK_DIR}/x ${HOME}"]})),
            &env,
        );
        assert_eq!(read, Ok(("/bin/sh".into(), vec!["-c".into(), "echo > /d/local/x ${HOME}".into()])));
        assert_eq!(command_of(&config(json!({})), &env), Err("missing required config \"command\"".into()));
        assert!(command_of(&config(json!({"command": 7})), &env).is_err());
        assert!(command_of(&config(json!({"command": "x", "args": "-c"})), &env).is_err());
        assert!(command_of(&config(json!({"command": "x", "args": [1]})), &env).is_err());
        let unknown = command_of(&config(json!({"command": "x", "image": "redis"})), &env);
        assert_eq!(unknown, Err("unknown config \"image\" for the raw_exec driver".into()));
        assert_eq!(interpolate("${A}${B}${", &BTreeMap::from([("A".into(), "1".into())])), "1${B}${");
    }

    #[test]
    fn kill_signals_are_named_as_nomad_names_them() {
        assert_eq!(signal_number(""), Some(libc::SIGINT));
        assert_eq!(signal_number("SIGTERM"), Some(libc::SIGTERM));
        assert_eq!(signal_number("HUP"), Some(libc::SIGHUP));
        assert_eq!(signal_number("SIGWINCH"), None);
    }

    #[tokio::test]
    async fn a_process_runs_in_its_directory_with_its_env_and_logs_and_its_group_is_killed() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let spec = Spec {
            command: "/bin/sh".into(),
            args: vec!["-c".into(), "sleep 300 & echo $KEEL_TEST_VALUE $(pwd); echo oops >&2; exit 3".into()],
            env: BTreeMap::from([("KEEL_TEST_VALUE".into(), "seven".into())]),
            dir: dir.path().to_path_buf(),
            stdout: dir.path().join("out"),
            stderr: dir.path().join("err"),
        };
        let mut process = Process::start(&spec).expect("started");
        let exit = process.wait().await;
        assert_eq!(exit, Exit { code: Some(3), signal: None });
        let out = std::fs::read_to_string(dir.path().join("out")).expect("stdout");
        assert_eq!(out.trim(), format!("seven {}", dir.path().display()));
        assert_eq!(std::fs::read_to_string(dir.path().join("err")).expect("stderr"), "oops\n");
        // The backgrounded sleep was in the task's group, and is gone with it.
        let group = process.pid();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(running_in_group(group), Vec::<i32>::new(), "the task's group outlived it");
    }

    /// The processes of group `group` that are not zombies (a container's
    /// first process may never reap what it inherits).
    fn running_in_group(group: i32) -> Vec<i32> {
        let entries = std::fs::read_dir("/proc").expect("/proc");
        let pids = entries.flatten().filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok());
        pids.filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            let Some((_, fields)) = stat.rsplit_once(')') else { return false };
            let fields: Vec<&str> = fields.split_whitespace().collect();
            fields.first() != Some(&"Z") && fields.get(2) == Some(&group.to_string().as_str())
        })
        .collect()
    }
}
