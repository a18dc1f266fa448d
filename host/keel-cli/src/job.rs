//! `keel job run FILE | plan FILE | status [ID] | stop ID [--purge]`: jobs as `nomad
//! job` handles them. A job file is JSON as the API takes it, `{"Job":
//! {...}}` or the job alone. `run` follows the evaluation it creates until
//! it settles, as Nomad's monitor does, unless `--detach`.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use keel_api::job::{
    Allocation, Evaluation, Job, JobListStub, JobPlanResponse, JobRegisterResponse, JobSummary, eval_status,
};
use serde_json::Value;

use super::http::{Client, ClientArgs, with_query};
use super::table::{key_values, short_id, table};

/// How long `job run` follows its evaluation.
const MONITOR_FOR: Duration = Duration::from_secs(120);
const MONITOR_POLL: Duration = Duration::from_millis(250);

#[derive(Debug, clap::Args)]
pub struct JobArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The job's namespace.
    #[arg(long, global = true, default_value = "default")]
    namespace: String,
    #[command(subcommand)]
    command: JobCommand,
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// Registers the job in FILE and follows its evaluation.
    Run {
        /// A JSON job: `{"Job": {...}}` or the job alone.
        file: std::path::PathBuf,
        /// Print the evaluation's ID and return at once.
        #[arg(long)]
        detach: bool,
    },
    /// Shows what running the job in FILE would do, writing nothing.
    Plan {
        /// A JSON job: `{"Job": {...}}` or the job alone.
        file: std::path::PathBuf,
    },
    /// Lists the jobs, or shows one with its allocations.
    Status {
        /// The job's ID.
        id: Option<String>,
    },
    /// Stops a job's allocations (and forgets it, with `--purge`).
    Stop {
        id: String,
        #[arg(long)]
        purge: bool,
        /// Print the evaluation's ID and return at once.
        #[arg(long)]
        detach: bool,
    },
}

pub fn run(args: JobArgs) -> anyhow::Result<()> {
    let client = args.client.client()?;
    let namespace = args.namespace.as_str();
    let json = args.client.json;
    match args.command {
        JobCommand::Run { file, detach } => {
            let body = registration(&file)?;
            let reply = client.put(&with_query("/v1/jobs", &[("namespace", namespace)]), body.as_bytes())?;
            let answer: JobRegisterResponse = reply.decode()?;
            follow(&client, &answer.eval_id, detach || json)
        }
        JobCommand::Plan { file } => {
            let body = registration(&file)?;
            let id = serde_json::from_str::<Value>(&body)?["Job"]["ID"].as_str().unwrap_or_default().to_owned();
            let path =
                with_query(&format!("/v1/job/{}/plan", super::http::path_segment(&id)), &[("namespace", namespace)]);
            let reply = client.post(&path, body.as_bytes()).with_context(|| format!("plan job {id:?}"))?;
            match json {
                true => println!("{}", reply.pretty()),
                false => print!("{}", render_plan(&id, &reply.decode::<JobPlanResponse>()?)),
            }
            Ok(())
        }
        JobCommand::Status { id: None } => {
            let reply = client.get(&with_query("/v1/jobs", &[("namespace", namespace)])).context("list the jobs")?;
            match json {
                true => println!("{}", reply.pretty()),
                false => print!("{}", render_jobs(&reply.decode::<Vec<JobListStub>>()?)),
            }
            Ok(())
        }
        JobCommand::Status { id: Some(id) } => {
            let path = |tail: &str| {
                with_query(&format!("/v1/job/{}{tail}", super::http::path_segment(&id)), &[("namespace", namespace)])
            };
            let job = client.get(&path("")).with_context(|| format!("read job {id:?}"))?;
            if json {
                println!("{}", job.pretty());
                return Ok(());
            }
            let summary: JobSummary = client.get(&path("/summary"))?.decode()?;
            let allocs: Vec<Allocation> = client.get(&path("/allocations"))?.decode()?;
            print!("{}", render_job(&job.decode::<Job>()?, &summary, &allocs));
            Ok(())
        }
        JobCommand::Stop { id, purge, detach } => {
            let mut query = vec![("namespace", namespace)];
            if purge {
                query.push(("purge", "true"));
            }
            let path = with_query(&format!("/v1/job/{}", super::http::path_segment(&id)), &query);
            let answer: JobRegisterResponse =
                client.delete(&path).with_context(|| format!("stop job {id:?}"))?.decode()?;
            follow(&client, &answer.eval_id, detach || json)
        }
    }
}

/// The registration body for the job in `file`.
fn registration(file: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?;
    let value: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let Value::Object(fields) = &value else { bail!("{} does not hold a JSON object", file.display()) };
    Ok(match fields.contains_key("Job") {
        true => value.to_string(),
        false => serde_json::json!({ "Job": value }).to_string(),
    })
}

/// Prints the evaluation's ID, or follows it as Nomad's monitor does.
fn follow(client: &Client, eval_id: &str, detach: bool) -> anyhow::Result<()> {
    if detach {
        println!("Evaluation ID: {eval_id}");
        return Ok(());
    }
    println!("==> Monitoring evaluation \"{}\"", short_id(eval_id));
    let deadline = Instant::now() + MONITOR_FOR;
    let eval = loop {
        let eval: Evaluation = client.get(&format!("/v1/evaluation/{eval_id}"))?.decode()?;
        if eval.status != eval_status::PENDING {
            break eval;
        }
        if Instant::now() > deadline {
            bail!("evaluation {eval_id} is still pending after {}s", MONITOR_FOR.as_secs());
        }
        std::thread::sleep(MONITOR_POLL);
    };
    println!("    Evaluation triggered by job \"{}\"", eval.job_id);
    let allocs: Vec<Allocation> = client.get(&format!("/v1/evaluation/{eval_id}/allocations"))?.decode()?;
    for alloc in &allocs {
        println!(
            "    Allocation \"{}\" created: node \"{}\", group \"{}\"",
            short_id(&alloc.id),
            short_id(&alloc.node_id),
            alloc.task_group
        );
    }
    println!("    Evaluation status changed: \"pending\" -> \"{}\"", eval.status);
    print!("{}", render_failures(&eval));
    println!("==> Evaluation \"{}\" finished with status \"{}\"", short_id(eval_id), eval.status);
    if eval.status == eval_status::FAILED {
        bail!("evaluation failed: {}", eval.status_description);
    }
    Ok(())
}

/// Nomad's "failed to place" block for each group the plugin could not place.
fn render_failures(eval: &Evaluation) -> String {
    let mut out = String::new();
    if eval.failed_tg_allocs.is_empty() {
        return out;
    }
    out.push_str("==> Failed to place all allocations:\n");
    for (group, metric) in &eval.failed_tg_allocs {
        let count = metric.coalesced_failures + 1;
        let noun = if count == 1 { "allocation" } else { "allocations" };
        out.push_str(&format!("    Task Group \"{group}\" (failed to place {count} {noun}):\n"));
        for (constraint, filtered) in &metric.constraint_filtered {
            out.push_str(&format!("      * Constraint \"{constraint}\": {filtered} nodes excluded by filter\n"));
        }
        for (dimension, exhausted) in &metric.dimension_exhausted {
            out.push_str(&format!("      * Resources exhausted on {exhausted} nodes\n"));
            out.push_str(&format!("      * Dimension \"{dimension}\" exhausted on {exhausted} nodes\n"));
        }
    }
    if !eval.blocked_eval.is_empty() {
        out.push_str(&format!(
            "    Evaluation \"{}\" waiting for additional capacity to place remainder\n",
            short_id(&eval.blocked_eval)
        ));
    }
    out
}

/// Nomad's `job plan` summary: each group's changes, then the dry run.
fn render_plan(id: &str, plan: &JobPlanResponse) -> String {
    let mut out = format!("+/- Job: \"{id}\"\n");
    for (group, updates) in &plan.annotations.desired_tg_updates {
        let mut changes = Vec::new();
        for (count, what) in [(updates.place, "create"), (updates.stop, "destroy"), (updates.ignore, "ignore")] {
            if count > 0 {
                changes.push(format!("{count} {what}"));
            }
        }
        out.push_str(&format!("    Task Group: \"{group}\" ({})\n", changes.join(", ")));
    }
    out.push_str("\nScheduler dry-run:\n");
    match plan.failed_tg_allocs.is_empty() {
        true => out.push_str("- All tasks successfully allocated.\n"),
        false => {
            let eval = Evaluation { failed_tg_allocs: plan.failed_tg_allocs.clone(), ..Evaluation::default() };
            out.push_str(&render_failures(&eval));
        }
    }
    out.push_str(&format!("\nJob Modify Index: {}\n", plan.job_modify_index));
    out
}

/// Nomad's `job status` table.
fn render_jobs(jobs: &[JobListStub]) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| vec![job.id.clone(), job.job_type.clone(), job.priority.to_string(), job.status.clone()])
        .collect();
    table(&["ID", "Type", "Priority", "Status"], &rows)
}

/// One job: its fields, its groups' summary and its allocations.
fn render_job(job: &Job, summary: &JobSummary, allocs: &[Allocation]) -> String {
    let mut out = key_values(&[
        ("ID", job.id.clone()),
        ("Name", job.name.clone()),
        ("Type", job.job_type.clone()),
        ("Priority", job.priority.to_string()),
        ("Datacenters", job.datacenters.join(",")),
        ("Namespace", job.namespace.clone()),
        ("Status", job.status.clone()),
    ]);
    let groups: Vec<Vec<String>> = summary
        .summary
        .iter()
        .map(|(group, s)| {
            let counts = [s.queued, s.starting, s.running, s.failed, s.complete, s.lost];
            std::iter::once(group.clone()).chain(counts.iter().map(u32::to_string)).collect()
        })
        .collect();
    out.push_str("\nSummary\n");
    out.push_str(&table(&["Task Group", "Queued", "Starting", "Running", "Failed", "Complete", "Lost"], &groups));
    let rows: Vec<Vec<String>> = allocs
        .iter()
        .map(|alloc| {
            vec![
                short_id(&alloc.id).to_owned(),
                short_id(&alloc.node_id).to_owned(),
                alloc.task_group.clone(),
                alloc.job_version.to_string(),
                alloc.desired_status.clone(),
                alloc.client_status.clone(),
            ]
        })
        .collect();
    out.push_str("\nAllocations\n");
    out.push_str(&table(&["ID", "Node ID", "Task Group", "Version", "Desired", "Status"], &rows));
    out
}

#[cfg(test)]
mod tests {
    use keel_api::job::{AllocMetric, GroupSummary};

    use super::*;

    #[test]
    fn a_job_file_is_sent_wrapped_once() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("written");
            path
        };
        let bare = registration(&write("bare.json", r#"{"ID": "web"}"#)).expect("read");
        assert_eq!(bare, r#"{"Job":{"ID":"web"}}"#);
        let wrapped = registration(&write("wrapped.json", r#"{"Job": {"ID": "web"}}"#)).expect("read");
        assert_eq!(wrapped, r#"{"Job":{"ID":"web"}}"#);
        let array = registration(&write("array.json", "[]")).expect_err("refused");
        assert!(array.to_string().contains("does not hold a JSON object"), "{array}");
        assert!(registration(&write("text.json", "job {")).is_err());
    }

    #[test]
    fn a_job_shows_its_summary_and_allocations_and_failures_name_their_dimension() {
        let job = Job { id: "web".into(), job_type: "service".into(), status: "running".into(), ..Job::default() };
        let summary = JobSummary {
            summary: [("g".to_owned(), GroupSummary { running: 2, ..GroupSummary::default() })].into(),
            ..JobSummary::default()
        };
        let alloc = Allocation {
            id: "0123456789".into(),
            task_group: "g".into(),
            client_status: "running".into(),
            ..Allocation::default()
        };
        let shown = render_job(&job, &summary, &[alloc]);
        assert!(shown.contains("Status      = running"), "{shown}");
        assert!(shown.contains("g           0       0         2"), "{shown}");
        assert!(shown.contains("01234567 "), "{shown}");

        let metric = AllocMetric { dimension_exhausted: [("memory".to_owned(), 2)].into(), ..AllocMetric::default() };
        let eval = Evaluation {
            failed_tg_allocs: [("g".to_owned(), metric)].into(),
            blocked_eval: "abcdef0123".into(),
            ..Evaluation::default()
        };
        let failures = render_failures(&eval);
        assert!(failures.contains("Task Group \"g\" (failed to place 1 allocation)"), "{failures}");
        assert!(failures.contains("Dimension \"memory\" exhausted on 2 nodes"), "{failures}");
        assert!(failures.contains("Evaluation \"abcdef01\" waiting for additional capacity"), "{failures}");
    }
}
