//! Open-loop clients: each sends its next operation on a fixed beat,
//! whether or not the last one has been answered, up to a bound on
//! operations in flight, and records every one in the history.
//!
//! The register is the scheduler configuration. Eight of its fields
//! round-trip (the algorithm and seven booleans), so a write carries an
//! 8-bit marker: bits 0-4 are the low bits of the client's counter (bit 0
//! is the algorithm, binpack or spread), bits 5-7 the client.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use ureq::RequestExt as _;

use super::history::{Clock, History, Marker, Observed, Op, Outcome, Request};

/// How long one request may take before it counts as indeterminate.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest reply body read.
const BODY_MAX_BYTES: u64 = 1 << 20;
const SCHEDULER: &str = "/v1/operator/scheduler/configuration";

/// What every client shares: the servers' addresses, the management token
/// and where to record.
pub struct Workload {
    pub ips: Vec<String>,
    pub token: String,
    pub clock: Clock,
    pub history: Arc<History>,
    pub stop: AtomicBool,
    /// Beats on which a client had its bound of operations in flight and
    /// sent nothing.
    pub skipped: AtomicUsize,
}

/// One client's state, shared with the threads that carry its requests.
struct Client {
    id: usize,
    workload: Arc<Workload>,
    http: ureq::Agent,
    in_flight: AtomicUsize,
    /// The names of the policies this client has sent a write for.
    written: Mutex<Vec<String>>,
    sequence: AtomicUsize,
}

/// Runs client `id` until the workload is stopped, sending an operation
/// every `beat` with at most `in_flight_max` unanswered; returns once every
/// request it sent is answered or timed out.
pub fn run(workload: Arc<Workload>, id: usize, beat: Duration, in_flight_max: usize) {
    let http = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(REQUEST_TIMEOUT))
        .build()
        .new_agent();
    let client = Arc::new(Client {
        id,
        workload,
        http,
        in_flight: AtomicUsize::new(0),
        written: Mutex::new(Vec::new()),
        sequence: AtomicUsize::new(0),
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(id as u64);
    while !client.workload.stop.load(Ordering::Relaxed) {
        std::thread::sleep(beat);
        if client.in_flight.load(Ordering::SeqCst) >= in_flight_max {
            client.workload.skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        client.in_flight.fetch_add(1, Ordering::SeqCst);
        let choice = rng.gen_range(0..10);
        let seed = rng.r#gen::<u64>();
        let sender = Arc::clone(&client);
        std::thread::spawn(move || {
            sender.operate(choice, seed);
            sender.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
    // Every request has its own timeout, so this wait is bounded too.
    while client.in_flight.load(Ordering::SeqCst) > 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Client {
    /// Four in ten operations create a policy, three read one back, three
    /// run a check-and-set on the register.
    fn operate(&self, choice: u32, seed: u64) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let servers = self.workload.ips.len();
        let own = {
            let written = self.written.lock().expect("no client panics holding its names");
            (!written.is_empty()).then(|| written[rng.gen_range(0..written.len())].clone())
        };
        match (choice, own) {
            (4..=6, Some(name)) => {
                self.call(rng.gen_range(0..servers), Request::GetPolicy { name });
            }
            (7..=9, _) => self.check_and_set(rng.gen_range(0..servers), rng.gen_range(0..servers)),
            _ => self.put_policy(rng.gen_range(0..servers)),
        }
    }

    fn put_policy(&self, server: usize) {
        let name = format!("fault-c{}-{}", self.id, self.sequence.fetch_add(1, Ordering::SeqCst));
        let rules = format!("namespace \"{name}\" {{ policy = \"read\" }}");
        self.written.lock().expect("no client panics holding its names").push(name.clone());
        self.call(server, Request::PutPolicy { name, rules });
    }

    /// Reads the register from one server, then writes a new marker with
    /// `?cas` set to the index it read, through another.
    fn check_and_set(&self, reader: usize, writer: usize) {
        let Outcome::Ok(Observed::Register { modify_index, .. }) = self.call(reader, Request::ReadRegister) else {
            return;
        };
        let sequence = self.sequence.fetch_add(1, Ordering::SeqCst);
        let value = (((self.id & 0x7) << 5) | (sequence & 0x1f)) as Marker;
        self.call(writer, Request::CasRegister { cas: modify_index, value });
    }

    /// Sends `request` to `server`, records it, and answers its outcome.
    fn call(&self, server: usize, request: Request) -> Outcome {
        let invoked = self.workload.clock.now();
        let outcome = match self.send(server, &request) {
            Ok((status, body)) => classify(&request, status, &body),
            Err(error) => Outcome::Indeterminate(error),
        };
        let completed = self.workload.clock.now();
        let op = Op { client: self.id, server, invoked, completed, request, outcome: outcome.clone() };
        self.workload.history.record(op);
        outcome
    }

    fn send(&self, server: usize, request: &Request) -> Result<(u16, Vec<u8>), String> {
        let (method, path, body) = match request {
            Request::PutPolicy { name, rules } => {
                let body = json!({"Name": name, "Description": "fault harness", "Rules": rules});
                ("PUT", format!("/v1/acl/policy/{name}"), body.to_string())
            }
            Request::GetPolicy { name } => ("GET", format!("/v1/acl/policy/{name}"), String::new()),
            Request::ReadRegister => ("GET", SCHEDULER.to_owned(), String::new()),
            Request::CasRegister { cas, value } => {
                ("PUT", format!("{SCHEDULER}?cas={cas}"), encode(*value).to_string())
            }
        };
        let uri = format!("http://{}:4646{path}", self.workload.ips[server]);
        let http_request = ureq::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("X-Nomad-Token", &self.workload.token)
            .body(body.into_bytes())
            .map_err(|e| format!("build the request: {e}"))?;
        let mut response = http_request.with_agent(&self.http).run().map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.body_mut().with_config().limit(BODY_MAX_BYTES).read_to_vec().map_err(|e| e.to_string())?;
        Ok((status, body))
    }
}

/// Sorts an answer into ok, a definite failure or indeterminate. A 5xx
/// other than "No cluster leader" may come from a write that was applied
/// but whose answer was lost on the way back through a follower.
fn classify(request: &Request, status: u16, body: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(body).into_owned();
    match status {
        200 => observe(request, body).map_or_else(|| Outcome::Indeterminate(format!("200 but {text}")), Outcome::Ok),
        404 if matches!(request, Request::GetPolicy { .. }) => Outcome::Ok(Observed::Policy(None)),
        400..=499 => Outcome::Failed(format!("{status} {text}")),
        _ if text.contains("No cluster leader") => Outcome::Failed(format!("{status} {text}")),
        _ => Outcome::Indeterminate(format!("{status} {text}")),
    }
}

fn observe(request: &Request, body: &[u8]) -> Option<Observed> {
    // A policy write answers 200 with no JSON worth reading, as Nomad does.
    if matches!(request, Request::PutPolicy { .. }) {
        return Some(Observed::Written);
    }
    let json: Value = serde_json::from_slice(body).ok()?;
    match request {
        Request::PutPolicy { .. } => Some(Observed::Written),
        Request::GetPolicy { .. } => Some(Observed::Policy(Some(json["Rules"].as_str()?.to_owned()))),
        Request::ReadRegister => decode(&json["SchedulerConfig"]),
        Request::CasRegister { .. } => {
            Some(Observed::Cas { updated: json["Updated"].as_bool()?, index: json["Index"].as_u64()? })
        }
    }
}

/// The scheduler configuration that carries `value`.
pub fn encode(value: Marker) -> Value {
    let bit = |n: u8| value & (1 << n) != 0;
    json!({
        "SchedulerAlgorithm": if bit(0) { "spread" } else { "binpack" },
        "MemoryOversubscriptionEnabled": bit(1),
        "RejectJobRegistration": bit(2),
        "PauseEvalBroker": bit(3),
        "PreemptionConfig": {
            "SystemSchedulerEnabled": bit(4),
            "SysBatchSchedulerEnabled": bit(5),
            "BatchSchedulerEnabled": bit(6),
            "ServiceSchedulerEnabled": bit(7),
        },
    })
}

/// The marker and `ModifyIndex` a `SchedulerConfig` object carries.
pub fn decode(config: &Value) -> Option<Observed> {
    let preemption = &config["PreemptionConfig"];
    let bits = [
        config["SchedulerAlgorithm"].as_str()? == "spread",
        config["MemoryOversubscriptionEnabled"].as_bool()?,
        config["RejectJobRegistration"].as_bool()?,
        config["PauseEvalBroker"].as_bool()?,
        preemption["SystemSchedulerEnabled"].as_bool()?,
        preemption["SysBatchSchedulerEnabled"].as_bool()?,
        preemption["BatchSchedulerEnabled"].as_bool()?,
        preemption["ServiceSchedulerEnabled"].as_bool()?,
    ];
    let value = bits.iter().enumerate().fold(0u8, |value, (n, set)| value | (u8::from(*set) << n));
    Some(Observed::Register { value, modify_index: config["ModifyIndex"].as_u64()? })
}
