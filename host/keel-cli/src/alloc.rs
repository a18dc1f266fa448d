//! `keel alloc status ID | logs ID [TASK] [--stderr]`: allocations as
//! `nomad alloc` shows them. An ID may be given by any unique prefix; a
//! task may be left out when the allocation has only one.

use std::io::Write as _;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use keel_api::job::Allocation;

use super::http::{Client, ClientArgs, path_segment, with_query};
use super::table::{key_values, table};

#[derive(Debug, clap::Args)]
pub struct AllocArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The allocation's namespace.
    #[arg(long, global = true, default_value = "default")]
    namespace: String,
    #[command(subcommand)]
    command: AllocCommand,
}

#[derive(Debug, Subcommand)]
enum AllocCommand {
    /// Shows an allocation and its tasks' events.
    Status {
        /// The allocation's ID or a unique prefix of it.
        id: String,
    },
    /// Prints a task's stdout (or stderr).
    Logs {
        /// The allocation's ID or a unique prefix of it.
        id: String,
        /// The task; needed when the allocation has more than one.
        task: Option<String>,
        #[arg(long)]
        stderr: bool,
    },
}

pub fn run(args: AllocArgs) -> anyhow::Result<()> {
    let client = args.client.client()?;
    let namespace = args.namespace.as_str();
    match args.command {
        AllocCommand::Status { id } => {
            let id = resolve(&client, namespace, &id)?;
            let reply = client.get(&with_query(&format!("/v1/allocation/{id}"), &[("namespace", namespace)]))?;
            match args.client.json {
                true => println!("{}", reply.pretty()),
                false => print!("{}", render_alloc(&reply.decode::<Allocation>()?)),
            }
        }
        AllocCommand::Logs { id, task, stderr } => {
            let id = resolve(&client, namespace, &id)?;
            let alloc: Allocation =
                client.get(&with_query(&format!("/v1/allocation/{id}"), &[("namespace", namespace)]))?.decode()?;
            let task = match task {
                Some(task) => task,
                None => only_task(&alloc)?,
            };
            let kind = if stderr { "stderr" } else { "stdout" };
            let query = [("task", task.as_str()), ("type", kind), ("plain", "true"), ("namespace", namespace)];
            let reply = client
                .get(&with_query(&format!("/v1/client/fs/logs/{}", path_segment(&id)), &query))
                .with_context(|| format!("read the {kind} of task {task:?}"))?;
            std::io::stdout().write_all(&reply.body).context("write the log")?;
        }
    }
    Ok(())
}

/// The one allocation whose ID starts with `prefix`.
fn resolve(client: &Client, namespace: &str, prefix: &str) -> anyhow::Result<String> {
    let query = [("prefix", prefix), ("namespace", namespace)];
    let allocs: Vec<Allocation> = client.get(&with_query("/v1/allocations", &query))?.decode()?;
    match allocs.as_slice() {
        [] => bail!("no allocation with an ID starting with {prefix:?}"),
        [alloc] => Ok(alloc.id.clone()),
        several => {
            let ids: Vec<&str> = several.iter().map(|alloc| alloc.id.as_str()).collect();
            bail!("prefix {prefix:?} matches several allocations: {}", ids.join(", "))
        }
    }
}

/// The allocation's task, when it has exactly one.
fn only_task(alloc: &Allocation) -> anyhow::Result<String> {
    let tasks: Vec<&String> = alloc.task_states.keys().collect();
    match tasks.as_slice() {
        [task] => Ok((*task).clone()),
        [] => bail!("allocation {} has no task running yet; name the task", alloc.id),
        _ => bail!(
            "allocation {} has several tasks; name one of: {}",
            alloc.id,
            alloc.task_states.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Nomad's `alloc status`: the allocation, then each task's recent events.
fn render_alloc(alloc: &Allocation) -> String {
    let mut out = key_values(&[
        ("ID", alloc.id.clone()),
        ("Eval ID", alloc.eval_id.clone()),
        ("Name", alloc.name.clone()),
        ("Node ID", alloc.node_id.clone()),
        ("Job ID", alloc.job_id.clone()),
        ("Job Version", alloc.job_version.to_string()),
        ("Client Status", alloc.client_status.clone()),
        ("Client Description", alloc.client_description.clone()),
        ("Desired Status", alloc.desired_status.clone()),
        ("Desired Description", alloc.desired_description.clone()),
    ]);
    for (name, task) in &alloc.task_states {
        out.push_str(&format!("\nTask \"{name}\" is \"{}\"\n", task.state));
        let rows: Vec<Vec<String>> = task
            .events
            .iter()
            .rev()
            .map(|event| {
                let time = keel_api::time::rfc3339_ms(event.time / 1_000_000);
                vec![time, event.event_type.clone(), event.display_message.clone()]
            })
            .collect();
        out.push_str("Recent Events:\n");
        out.push_str(&table(&["Time", "Type", "Description"], &rows));
    }
    out
}

#[cfg(test)]
mod tests {
    use keel_api::task::{TaskEvent, TaskState};

    use super::*;

    #[test]
    fn an_allocation_shows_its_tasks_newest_event_first_and_a_lone_task_is_found() {
        let events = vec![
            TaskEvent::new("Received", 1_000_000_000, "Task received by client"),
            TaskEvent::new("Terminated", 2_000_000_000, "Exit Code: 0"),
        ];
        let task = TaskState { state: "dead".into(), events, ..TaskState::default() };
        let alloc = Allocation {
            id: "a1".into(),
            client_status: "complete".into(),
            task_states: [("t".to_owned(), task)].into(),
            ..Allocation::default()
        };
        let shown = render_alloc(&alloc);
        assert!(shown.contains("Client Status       = complete"), "{shown}");
        assert!(shown.contains("Task \"t\" is \"dead\""), "{shown}");
        let terminated = shown.find("Exit Code: 0").expect("the exit");
        assert!(terminated < shown.find("Task received by client").expect("the receipt"), "newest first: {shown}");
        assert_eq!(only_task(&alloc).expect("one task"), "t");
        assert!(only_task(&Allocation::default()).is_err());
    }
}
