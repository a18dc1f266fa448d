//! Gossip: who is in the cluster, learned with SWIM over UDP on the Serf
//! port, as Nomad's servers learn it with Serf.
//!
//! [foca](https://docs.rs/foca) runs the protocol (probes, indirect probes,
//! suspicion, dissemination); this module gives it a socket and a clock, and
//! turns what it notices into Serf's view of members: a name, an address,
//! Nomad's tags and one of the statuses `alive`, `leaving`, `left` and
//! `failed`. foca itself only knows up and down, so whether a member that
//! went down *left* (gracefully, or by `force-leave`) or *failed* travels as
//! a small notice broadcast beside foca's own updates.
//!
//! One task owns the foca instance and everything it touches; the
//! [`Gossip`] handle talks to it over a channel and reads the member list
//! from a watch channel, so readers never wait for the protocol.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use foca::{BroadcastHandler, Config, Foca, Identity, Invalidates, OwnedNotification, PostcardCodec, Timer};
use rand_swim::SeedableRng;
use rand_swim::rngs::SmallRng;
use serde::{Deserialize, Serialize};

use crate::ClusterKey;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::ClusterError;

/// The Serf port a join address without a port goes to.
pub const DEFAULT_SERF_PORT: u16 = 4648;

/// How long a join waits for the other side to answer before it counts as
/// failed, and how often the announcement is repeated meanwhile (UDP may
/// drop it).
const JOIN_TIMEOUT: Duration = Duration::from_secs(3);
const JOIN_RESEND: Duration = Duration::from_millis(300);

/// How long a graceful leave gives the notice and foca's own update to go
/// out before the socket closes.
const LEAVE_LINGER: Duration = Duration::from_millis(300);

/// What a server gossips about itself.
#[derive(Debug, Clone)]
pub struct GossipConfig {
    /// The UDP address to bind, which is also the address others reach.
    pub bind: SocketAddr,
    /// The member name, `<node>.<region>` for a Nomad server.
    pub name: String,
    /// Nomad's member tags (role, region, dc, port, id, expect, ...).
    pub tags: BTreeMap<String, String>,
    /// Seals every packet (`server.encrypt`); a packet that does not open
    /// with it is dropped. `None` sends and accepts packets in the clear.
    pub key: Option<ClusterKey>,
}

/// A member's status, in Serf's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    Alive,
    /// This agent is leaving gracefully.
    Leaving,
    /// Left gracefully, or was forced to leave.
    Left,
    /// Stopped answering probes.
    Failed,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Alive => "alive",
            MemberStatus::Leaving => "leaving",
            MemberStatus::Left => "left",
            MemberStatus::Failed => "failed",
        }
    }
}

/// One member as this agent knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub addr: SocketAddr,
    pub tags: BTreeMap<String, String>,
    pub status: MemberStatus,
}

/// A member's identity on the wire: its address, the incarnation of the
/// process (start time, bumped on every rejoin), its name and tags. A
/// restarted member has a higher incarnation and replaces its old self.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct MemberId {
    addr: SocketAddr,
    incarnation: u64,
    name: String,
    tags: BTreeMap<String, String>,
}

impl Identity for MemberId {
    type Addr = SocketAddr;

    /// Declared down by others while still running (a long pause, a
    /// partition): come back under the next incarnation.
    fn renew(&self) -> Option<Self> {
        Some(Self { incarnation: self.incarnation + 1, ..self.clone() })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.incarnation > adversary.incarnation
    }
}

impl MemberId {
    /// Whom to announce to when only an address is known; foca accepts an
    /// announcement for any identity at the receiver's address.
    fn somebody_at(addr: SocketAddr) -> Self {
        Self { addr, incarnation: 0, name: String::new(), tags: BTreeMap::new() }
    }
}

/// What a notice says about one incarnation of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum Verdict {
    /// It went down on purpose: show it as `left`.
    Left,
    /// Forget it (`force-leave -prune`).
    Prune,
}

/// A notice about one member, broadcast beside foca's updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct Notice {
    addr: SocketAddr,
    incarnation: u64,
    verdict: Verdict,
}

impl Invalidates for Notice {
    /// A newer word on the same member replaces an older one in the backlog.
    fn invalidates(&self, other: &Self) -> bool {
        self.addr == other.addr
            && (self.incarnation > other.incarnation
                || (self.incarnation == other.incarnation && self.verdict == Verdict::Prune))
    }
}

/// Receives notices from foca. A notice seen before is not passed on again,
/// which is what ends its dissemination. New ones wait in `fresh` (shared
/// with the task, since foca owns the handler) until the task applies them.
#[derive(Default)]
struct Notices {
    seen: HashSet<Notice>,
    fresh: Arc<Mutex<Vec<Notice>>>,
}

/// A notice that cannot be decoded.
#[derive(Debug, thiserror::Error)]
#[error("undecodable gossip notice: {0}")]
struct NoticeError(String);

impl BroadcastHandler<MemberId> for Notices {
    type Key = Notice;
    type Error = NoticeError;

    fn receive_item(&mut self, data: &[u8], _sender: Option<&MemberId>) -> Result<Option<Notice>, NoticeError> {
        let notice: Notice = serde_json::from_slice(data).map_err(|e| NoticeError(e.to_string()))?;
        if !self.seen.insert(notice) {
            return Ok(None);
        }
        self.fresh.lock().unwrap_or_else(PoisonError::into_inner).push(notice);
        Ok(Some(notice))
    }
}

/// A request to the gossip task.
enum Request {
    Announce(SocketAddr),
    ForceLeave { name: String, prune: bool, reply: oneshot::Sender<Result<(), ClusterError>> },
    Leave { reply: oneshot::Sender<()> },
}

/// A running gossip member. Dropping it does not leave; call [`Gossip::leave`].
pub struct Gossip {
    me: SocketAddr,
    requests: mpsc::Sender<Request>,
    members: watch::Receiver<Arc<Vec<Member>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Gossip {
    /// Binds the UDP port and starts taking part in gossip, alone until a
    /// join.
    pub async fn start(config: GossipConfig) -> Result<Self, ClusterError> {
        let socket = UdpSocket::bind(config.bind)
            .await
            .map_err(|e| ClusterError::Start(format!("bind the gossip address {}: {e}", config.bind)))?;
        let incarnation = u64::try_from(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis(),
        )
        .unwrap_or(u64::MAX);
        let me = MemberId { addr: config.bind, incarnation, name: config.name, tags: config.tags };
        let (requests, inbox) = mpsc::channel(64);
        let (publish, members) = watch::channel(Arc::new(Vec::new()));
        let node = Node::new(me, socket, publish, config.key);
        node.publish();
        let task = tokio::spawn(node.run(inbox));
        Ok(Self { me: config.bind, requests, members, task: Mutex::new(Some(task)) })
    }

    /// Every member known, this agent included, sorted by name.
    pub fn members(&self) -> Arc<Vec<Member>> {
        Arc::clone(&self.members.borrow())
    }

    /// A receiver that sees every change of the member list.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Vec<Member>>> {
        self.members.clone()
    }

    /// Joins the cluster of each address; answers, per address, whether a
    /// member there answered within a few seconds.
    pub async fn join(&self, addresses: &[SocketAddr]) -> Vec<Result<(), String>> {
        let mut outcomes = Vec::with_capacity(addresses.len());
        for &address in addresses {
            outcomes.push(self.join_one(address).await);
        }
        outcomes
    }

    async fn join_one(&self, address: SocketAddr) -> Result<(), String> {
        if address == self.me {
            return Err(format!("{address} is this agent's own gossip address"));
        }
        let mut members = self.members.clone();
        let answered = |members: &[Member]| {
            members.iter().any(|member| member.addr == address && member.status == MemberStatus::Alive)
        };
        let deadline = Instant::now() + JOIN_TIMEOUT;
        while Instant::now() < deadline {
            if answered(&members.borrow_and_update()) {
                return Ok(());
            }
            self.requests.send(Request::Announce(address)).await.map_err(|_| "gossip has stopped".to_owned())?;
            let resend = (Instant::now() + JOIN_RESEND).min(deadline);
            while let Ok(Ok(())) = tokio::time::timeout_at(resend, members.changed()).await {
                if answered(&members.borrow_and_update()) {
                    return Ok(());
                }
            }
        }
        Err(format!("no member answered at {address} within {}s", JOIN_TIMEOUT.as_secs()))
    }

    /// Moves a failed member to `left` everywhere (with `prune`, forgets it).
    pub async fn force_leave(&self, name: &str, prune: bool) -> Result<(), ClusterError> {
        let (reply, answer) = oneshot::channel();
        let request = Request::ForceLeave { name: name.to_owned(), prune, reply };
        self.requests.send(request).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Leaves gracefully, so others show this agent as `left`, and stops.
    pub async fn leave(&self) {
        let (reply, answer) = oneshot::channel();
        if self.requests.send(Request::Leave { reply }).await.is_ok() {
            let _ = answer.await;
        }
        self.stop().await;
    }

    /// Stops without a word to the others, who will see this agent fail.
    pub async fn stop(&self) {
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }
}

fn stopped() -> ClusterError {
    ClusterError::Stopped("gossip has stopped".to_owned())
}

/// Parses a join address: `ip`, `ip:port` or `host:port`; the port defaults
/// to the Serf port.
pub async fn resolve_join_address(address: &str) -> Result<SocketAddr, String> {
    let with_port = crate::with_default_port(address, DEFAULT_SERF_PORT);
    if let Ok(socket) = with_port.parse::<SocketAddr>() {
        return Ok(socket);
    }
    tokio::net::lookup_host(&with_port)
        .await
        .map_err(|e| format!("resolve {}: {e}", address.trim()))?
        .next()
        .ok_or_else(|| format!("resolve {}: no address", address.trim()))
}

/// What this agent knows of another member.
struct Known {
    id: MemberId,
    up: bool,
}

/// The gossip task's state: foca, the socket, the timers foca asked for and
/// the member table published to [`Gossip`].
struct Node {
    foca: Foca<MemberId, PostcardCodec, SmallRng, Notices>,
    runtime: foca::AccumulatingRuntime<MemberId>,
    socket: UdpSocket,
    timers: BinaryHeap<Reverse<(Instant, Timer<MemberId>)>>,
    known: HashMap<SocketAddr, Known>,
    left: HashSet<(SocketAddr, u64)>,
    /// Notices received and not yet applied (see [`Notices`]).
    fresh: Arc<Mutex<Vec<Notice>>>,
    leaving: bool,
    publish: watch::Sender<Arc<Vec<Member>>>,
    key: Option<ClusterKey>,
}

impl Node {
    fn new(me: MemberId, socket: UdpSocket, publish: watch::Sender<Arc<Vec<Member>>>, key: Option<ClusterKey>) -> Self {
        let seed = uuid::Uuid::new_v4().as_u64_pair().0;
        // memberlist's LAN settings (1 s probes, suspicion of 4 probe
        // periods times log10 of the cluster size, at least one): sized for
        // up to ten servers, a dead member is declared down about five
        // seconds after it stops answering.
        let config = Config::new_lan(NonZeroU32::new(10).expect("not zero"));
        let notices = Notices::default();
        let fresh = Arc::clone(&notices.fresh);
        Self {
            foca: Foca::with_custom_broadcast(me, config, SmallRng::seed_from_u64(seed), PostcardCodec, notices),
            runtime: foca::AccumulatingRuntime::new(),
            socket,
            timers: BinaryHeap::new(),
            known: HashMap::new(),
            left: HashSet::new(),
            fresh,
            leaving: false,
            publish,
            key,
        }
    }

    async fn run(mut self, mut inbox: mpsc::Receiver<Request>) {
        let mut buffer = vec![0_u8; 64 * 1024];
        loop {
            let next_timer = self.timers.peek().map(|Reverse((at, _))| *at);
            tokio::select! {
                received = self.socket.recv_from(&mut buffer) => match received {
                    Ok((length, from)) => self.receive(&buffer[..length], from),
                    Err(error) => tracing::debug!(%error, "gossip receive"),
                },
                request = inbox.recv() => match request {
                    Some(request) => self.handle(request).await,
                    None => return,
                },
                () = sleep_until(next_timer) => self.fire_due_timers(),
            }
            self.drain().await;
        }
    }

    /// Hands a packet to foca, once it has opened with the cluster key.
    fn receive(&mut self, packet: &[u8], from: SocketAddr) {
        let opened;
        let data = match &self.key {
            None => packet,
            Some(key) => match key.open(packet) {
                Some(plain) => {
                    opened = plain;
                    &opened[..]
                }
                None => {
                    tracing::debug!(%from, "gossip packet dropped: not sealed with this cluster's key");
                    return;
                }
            },
        };
        if let Err(error) = self.foca.handle_data(data, &mut self.runtime) {
            tracing::debug!(%from, %error, "gossip packet dropped");
        }
    }

    async fn handle(&mut self, request: Request) {
        match request {
            Request::Announce(address) => {
                if let Err(error) = self.foca.announce(MemberId::somebody_at(address), &mut self.runtime) {
                    tracing::debug!(%address, %error, "gossip announce");
                }
            }
            Request::ForceLeave { name, prune, reply } => {
                let _ = reply.send(self.force_leave(&name, prune));
            }
            Request::Leave { reply } => {
                self.leave().await;
                let _ = reply.send(());
            }
        }
    }

    fn force_leave(&mut self, name: &str, prune: bool) -> Result<(), ClusterError> {
        let known = self.known.values().find(|known| known.id.name == name);
        let Some(known) = known else {
            return Err(ClusterError::PeerNotFound(format!("no member named {name:?} is known")));
        };
        if known.up {
            return Err(ClusterError::Refused(format!(
                "member {name:?} is alive; only a failed member can be forced to leave"
            )));
        }
        let notice = Notice {
            addr: known.id.addr,
            incarnation: known.id.incarnation,
            verdict: if prune { Verdict::Prune } else { Verdict::Left },
        };
        // Queuing the notice also hands it to our own handler, so the
        // next drain applies it here too.
        self.broadcast(notice);
        Ok(())
    }

    /// Tells the others this agent is leaving, then declares itself down.
    async fn leave(&mut self) {
        self.leaving = true;
        self.publish();
        let me = self.foca.identity().clone();
        let notice = Notice { addr: me.addr, incarnation: me.incarnation, verdict: Verdict::Left };
        self.broadcast(notice);
        // Gossip the notice directly before the down update, so that the
        // others know why this agent goes down when they see it go.
        if let Err(error) = self.foca.gossip(&mut self.runtime) {
            tracing::debug!(%error, "gossip the leave notice");
        }
        self.drain().await;
        if let Err(error) = self.foca.leave_cluster(&mut self.runtime) {
            tracing::warn!(%error, "leave the gossip cluster");
        }
        self.drain().await;
        tokio::time::sleep(LEAVE_LINGER).await;
    }

    fn broadcast(&mut self, notice: Notice) {
        let data = serde_json::to_vec(&notice).expect("a notice serializes");
        if let Err(error) = self.foca.add_broadcast(&data) {
            tracing::warn!(%error, "queue a gossip notice");
        }
    }

    fn fire_due_timers(&mut self) {
        let now = Instant::now();
        while self.timers.peek().is_some_and(|Reverse((at, _))| *at <= now) {
            let Reverse((_, timer)) = self.timers.pop().expect("peeked");
            if let Err(error) = self.foca.handle_timer(timer, &mut self.runtime) {
                tracing::debug!(%error, "gossip timer");
            }
        }
    }

    /// Sends what foca wants sent, schedules its timers and folds its
    /// notifications and the notices received into the member table.
    async fn drain(&mut self) {
        while let Some((to, data)) = self.runtime.to_send() {
            let data = match &self.key {
                Some(key) => key.seal(&data),
                None => data.to_vec(),
            };
            if let Err(error) = self.socket.send_to(&data, to.addr).await {
                tracing::debug!(to = %to.addr, %error, "gossip send");
            }
        }
        let now = Instant::now();
        while let Some((after, timer)) = self.runtime.to_schedule() {
            self.timers.push(Reverse((now + after, timer)));
        }
        let mut changed = false;
        while let Some(notification) = self.runtime.to_notify() {
            changed |= self.notice_change(notification);
        }
        let fresh = std::mem::take(&mut *self.fresh.lock().unwrap_or_else(PoisonError::into_inner));
        for notice in fresh {
            self.apply_notice(notice);
            changed = true;
        }
        if changed {
            self.publish();
        }
    }

    fn notice_change(&mut self, notification: OwnedNotification<MemberId>) -> bool {
        match notification {
            OwnedNotification::MemberUp(id) => self.set(id, true),
            OwnedNotification::MemberDown(id) => self.set(id, false),
            OwnedNotification::Rename(old, new) => {
                tracing::debug!(member = %new.name, old = old.incarnation, new = new.incarnation, "member rejoined");
                let up = self.known.get(&old.addr).is_some_and(|known| known.up);
                self.set(new, up)
            }
            OwnedNotification::Rejoin(id) => {
                tracing::info!(incarnation = id.incarnation, "declared down by the cluster; rejoined");
                false
            }
            OwnedNotification::Defunct => {
                tracing::warn!("declared down by the cluster");
                false
            }
            OwnedNotification::Active | OwnedNotification::Idle => false,
        }
    }

    /// Records `id` as up or down, unless an older incarnation speaks.
    fn set(&mut self, id: MemberId, up: bool) -> bool {
        match self.known.get_mut(&id.addr) {
            Some(known) if known.id.incarnation > id.incarnation => false,
            Some(known) => {
                if up != known.up {
                    tracing::info!(member = %id.name, status = if up { "alive" } else { "down" }, "member changed");
                }
                known.id = id;
                known.up = up;
                true
            }
            None => {
                tracing::info!(member = %id.name, address = %id.addr, up, "member discovered");
                self.known.insert(id.addr, Known { id, up });
                true
            }
        }
    }

    fn apply_notice(&mut self, notice: Notice) {
        match notice.verdict {
            Verdict::Left => {
                self.left.insert((notice.addr, notice.incarnation));
            }
            Verdict::Prune => {
                let forgotten =
                    self.known.get(&notice.addr).is_some_and(|known| known.id.incarnation <= notice.incarnation);
                if forgotten {
                    self.known.remove(&notice.addr);
                }
            }
        }
    }

    fn publish(&self) {
        let me = self.foca.identity();
        let own_status = if self.leaving { MemberStatus::Leaving } else { MemberStatus::Alive };
        let mut members: Vec<Member> = std::iter::once(member(me, own_status))
            .chain(self.known.values().filter(|known| known.id.addr != me.addr).map(|known| {
                let status = match (known.up, self.left.contains(&(known.id.addr, known.id.incarnation))) {
                    (true, _) => MemberStatus::Alive,
                    (false, true) => MemberStatus::Left,
                    (false, false) => MemberStatus::Failed,
                };
                member(&known.id, status)
            }))
            .collect();
        members.sort_by(|a, b| a.name.cmp(&b.name).then(a.addr.cmp(&b.addr)));
        self.publish.send_replace(Arc::new(members));
    }
}

fn member(id: &MemberId, status: MemberStatus) -> Member {
    Member { name: id.name.clone(), addr: id.addr, tags: id.tags.clone(), status }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
