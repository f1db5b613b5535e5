//! The capability exchange between wallet daemons over libp2p (DESIGN §7, §8): request-response
//! on `/vouch/exchange/1.0.0`, over TCP, Noise and Yamux. The daemon's libp2p identity **is** its
//! instance key, so the peer Noise authenticated is a did:key, and each message reaches the
//! daemon with it.
//!
//! Every message is read whole and bounded ([`wire::MAX_MESSAGE_BYTES`]) by the codec before it
//! is parsed; a peer that sends what is no message (or a reply that is none), or a message that
//! is malformed, is refused and disconnected. The daemon answers on its blocking threads, at most [`MAX_IN_FLIGHT`] at once;
//! more are refused, never queued without bound.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Arc;
use std::time::Duration;

pub use libp2p::Multiaddr;
use libp2p::futures::{
    AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, StreamExt as _,
};
use libp2p::request_response::{self, InboundRequestId, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{PeerId, StreamProtocol, identity, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};
use vouch_core::did::Did;
use vouch_core::exchange::wire::{self, MAX_MESSAGE_BYTES, Message, PROTOCOL, Reply, Unavailable};
use vouch_core::key::KeyPair;
use vouch_core::report::Reason;

/// The most requests of peers answered at once.
pub const MAX_IN_FLIGHT: usize = 256;
/// How long a request waits for its reply.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The most refusals a peer gets in [`STRIKE_WINDOW`] before it is disconnected and ignored.
pub const MAX_REFUSALS: u32 = 16;
/// The window refusals are counted in.
pub const STRIKE_WINDOW: Duration = Duration::from_secs(60);
/// How long a peer refused too often is ignored: its connections closed, its requests unread.
pub const IGNORED_FOR: Duration = Duration::from_secs(300);
/// The most peers whose refusals are counted, and that are ignored, at once.
const MAX_STRUCK: usize = 4096;

/// Peers refused again and again (DESIGN §7): counted per peer in windows; a peer past
/// [`MAX_REFUSALS`] in one is disconnected and ignored for [`IGNORED_FOR`]. Both tables are
/// bounded, the peer seen least recently forgotten first.
struct Strikes {
    counted: hashlink::LruCache<PeerId, (std::time::Instant, u32)>,
    ignored: hashlink::LruCache<PeerId, std::time::Instant>,
}

impl Strikes {
    fn new() -> Self {
        Self {
            counted: hashlink::LruCache::new(MAX_STRUCK),
            ignored: hashlink::LruCache::new(MAX_STRUCK),
        }
    }

    /// Counts a refusal of `peer`; whether it is now to be ignored.
    fn refused(&mut self, peer: PeerId, now: std::time::Instant) -> bool {
        let (began, count) = match self.counted.get(&peer) {
            Some((began, count)) if now.duration_since(*began) < STRIKE_WINDOW => {
                (*began, count + 1)
            }
            _ => (now, 1),
        };
        self.counted.insert(peer, (began, count));
        if count > MAX_REFUSALS {
            self.counted.remove(&peer);
            self.ignored.insert(peer, now + IGNORED_FOR);
            return true;
        }
        false
    }

    /// Whether `peer` is ignored at `now`.
    fn ignores(&mut self, peer: &PeerId, now: std::time::Instant) -> bool {
        match self.ignored.get(peer) {
            Some(until) if *until > now => true,
            Some(_) => {
                self.ignored.remove(peer);
                false
            }
            None => false,
        }
    }
}

/// The libp2p identity of an instance key.
pub fn identity_of(key: &KeyPair) -> identity::Keypair {
    let mut seed = key.seed();
    identity::Keypair::ed25519_from_bytes(&mut seed[..])
        .expect("a 32-byte Ed25519 seed is always a valid libp2p key")
}

/// The did:key of a peer: its Ed25519 key, which an Ed25519 peer id holds inline. None for a
/// peer id of another kind of key.
pub fn did_of_peer(peer: &PeerId) -> Option<Did> {
    let multihash = peer.as_ref();
    if multihash.code() != 0 {
        return None;
    }
    let public = identity::PublicKey::try_decode_protobuf(multihash.digest()).ok()?;
    let ed25519 = public.try_into_ed25519().ok()?;
    let key = vouch_core::key::PublicKey::from_bytes(&ed25519.to_bytes()).ok()?;
    Some(vouch_core::did::key::did_of(&key))
}

/// The peer id of a did:key instance.
pub fn peer_of_did(did: &Did) -> Option<PeerId> {
    let key = vouch_core::did::key::key_of(did).ok()?;
    let public = identity::ed25519::PublicKey::try_from_bytes(key.as_bytes()).ok()?;
    Some(identity::PublicKey::from(public).to_peer_id())
}

/// Reads and writes messages: whole, bounded, JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Codec;

/// A message as read from a peer: one of the protocol, or bytes that are none, and why. (An
/// error of the codec would drop the stream without a word to the daemon — libp2p reports no
/// failure for a request it could not read — so what is no message is read as such, answered
/// with a refusal, and the peer disconnected.)
#[derive(Debug, Clone)]
pub enum Inbound {
    /// A message.
    Message(Message),
    /// Not a message of the protocol.
    Invalid(String),
}

async fn read_bounded<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    io.take(MAX_MESSAGE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .await?;
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a message larger than the exchange allows",
        ));
    }
    Ok(bytes)
}

fn invalid(e: wire::WireError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Inbound;
    type Response = Reply;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Inbound> {
        let bytes = match read_bounded(io).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Ok(Inbound::Invalid(e.to_string()));
            }
            Err(e) => return Err(e),
        };
        Ok(match wire::decode(&bytes) {
            Ok(message) => Inbound::Message(message),
            Err(e) => Inbound::Invalid(e.to_string()),
        })
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Reply> {
        Reply::decode(&read_bounded(io).await?).map_err(invalid)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        inbound: Inbound,
    ) -> io::Result<()> {
        let Inbound::Message(message) = inbound else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only messages are sent",
            ));
        };
        io.write_all(&wire::encode(&message)).await?;
        io.close().await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        reply: Reply,
    ) -> io::Result<()> {
        io.write_all(&wire::encode(&reply)).await?;
        io.close().await
    }
}

/// What answers a peer's message: the daemon. Blocking.
pub trait Answerer: Send + Sync + 'static {
    /// The reply to `message` from the authenticated instance `peer`, and whether the peer
    /// misbehaved (it is then disconnected once the reply is sent).
    fn answer(&self, peer: &Did, message: Message) -> (Reply, bool);
}

enum Command {
    Send {
        peer: PeerId,
        address: Multiaddr,
        message: Message,
        reply: oneshot::Sender<Result<Reply, String>>,
    },
}

/// The exchange's side of the network: sends the daemon's messages and hands peers' messages
/// to it.
#[derive(Clone)]
pub struct Exchanges {
    commands: mpsc::Sender<Command>,
    /// This daemon's peer id (its instance key).
    pub peer_id: PeerId,
    /// Where it listens, with its `/p2p/` suffix.
    pub addresses: Vec<Multiaddr>,
}

/// Why the network could not start, or a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    /// The swarm could not be built or could not listen.
    #[error("libp2p: {0}")]
    Start(String),
    /// The peer's address is not `…/p2p/<peer id>` of an instance.
    #[error("not an instance's address (…/p2p/12D3KooW…): {0}")]
    Address(String),
    /// The message could not be delivered, or no reply came.
    #[error("the exchange with {peer} failed: {why}")]
    Failed {
        /// The peer.
        peer: PeerId,
        /// What happened.
        why: String,
    },
}

impl Exchanges {
    /// Sends `message` to the instance at `address` (ending in `/p2p/<peer id>`) and waits for
    /// its reply. The instance's did:key, as Noise authenticates it, and the reply.
    pub async fn send(
        &self,
        address: &Multiaddr,
        message: Message,
    ) -> Result<(Did, Reply), P2pError> {
        let peer = match address.iter().last() {
            Some(libp2p::multiaddr::Protocol::P2p(peer)) => peer,
            _ => return Err(P2pError::Address(address.to_string())),
        };
        let did = did_of_peer(&peer).ok_or_else(|| P2pError::Address(address.to_string()))?;
        let (reply, replied) = oneshot::channel();
        let failed = |why: String| P2pError::Failed { peer, why };
        self.commands
            .send(Command::Send {
                peer,
                address: address.clone(),
                message,
                reply,
            })
            .await
            .map_err(|_| failed("the network has stopped".into()))?;
        let reply = replied
            .await
            .map_err(|_| failed("the network has stopped".into()))?
            .map_err(failed)?;
        Ok((did, reply))
    }
}

type Behaviour = request_response::Behaviour<Codec>;

/// Starts the exchange network for the instance of `key`, listening on `listen`
/// (`/ip4/127.0.0.1/tcp/0`, say), its peers' messages answered by `answerer`, until `stop`
/// resolves.
pub async fn start(
    key: &KeyPair,
    listen: &[Multiaddr],
    answerer: Arc<dyn Answerer>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(Exchanges, tokio::task::JoinHandle<()>), P2pError> {
    let start = |e: &dyn std::fmt::Display| P2pError::Start(e.to_string());
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(identity_of(key))
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| start(&e))?
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                Codec,
                [(
                    StreamProtocol::new(PROTOCOL),
                    request_response::ProtocolSupport::Full,
                )],
                request_response::Config::default()
                    .with_request_timeout(REQUEST_TIMEOUT)
                    .with_max_concurrent_streams(MAX_IN_FLIGHT),
            )
        })
        .map_err(|e| start(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let peer_id = *swarm.local_peer_id();
    for address in listen {
        swarm.listen_on(address.clone()).map_err(|e| start(&e))?;
    }
    // The addresses it listens on, once bound.
    let mut addresses = Vec::new();
    while addresses.len() < listen.len() {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            addresses.push(address.with_p2p(peer_id).unwrap_or_else(|a| a));
        }
    }
    let (commands, receiver) = mpsc::channel(MAX_IN_FLIGHT);
    let task = tokio::spawn(run(swarm, receiver, answerer, stop));
    Ok((
        Exchanges {
            commands,
            peer_id,
            addresses,
        },
        task,
    ))
}

async fn run(
    mut swarm: libp2p::Swarm<Behaviour>,
    mut commands: mpsc::Receiver<Command>,
    answerer: Arc<dyn Answerer>,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Reply, String>>> =
        HashMap::new();
    // Bounded by `in_flight`: an answer is sent only by a request taken while fewer than
    // MAX_IN_FLIGHT were in flight, and counted out only when its answer is received.
    #[allow(clippy::disallowed_methods)]
    let (answered, mut answers) = mpsc::unbounded_channel::<(
        PeerId,
        InboundRequestId,
        ResponseChannel<Reply>,
        Reply,
        bool,
    )>();
    let mut in_flight = 0usize;
    // Peers to disconnect once their reply is sent.
    let mut misbehaving: HashSet<(PeerId, InboundRequestId)> = HashSet::new();
    let mut strikes = Strikes::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            command = commands.recv() => match command {
                None => return,
                Some(Command::Send { peer, address, message, reply }) => {
                    let id = swarm.behaviour_mut().send_request_with_addresses(
                        &peer,
                        Inbound::Message(message),
                        vec![address],
                    );
                    pending.insert(id, reply);
                }
            },
            Some((peer, id, channel, reply, misbehaved)) = answers.recv() => {
                in_flight -= 1;
                // A refusal for what the peer did counts against it; one for what this wallet
                // lacks (nothing held answers the query, busy) does not.
                let its_fault = matches!(
                    reply,
                    Reply::Refused { reason, .. }
                        if !matches!(reason, Reason::NotGranted | Reason::StatusUnknown)
                );
                if misbehaved || (its_fault && strikes.refused(peer, std::time::Instant::now())) {
                    misbehaving.insert((peer, id));
                }
                if swarm.behaviour_mut().send_response(channel, reply).is_err() {
                    // The peer is gone already: nothing to disconnect once it is told.
                    misbehaving.remove(&(peer, id));
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(request_response::Event::Message { peer, message, .. }) => {
                    match message {
                        request_response::Message::Request { request_id, request, channel } => {
                            let Some(did) = did_of_peer(&peer) else {
                                let _ = swarm.disconnect_peer_id(peer);
                                continue;
                            };
                            if strikes.ignores(&peer, std::time::Instant::now()) {
                                // Refused too often: not read, not answered.
                                drop(channel);
                                let _ = swarm.disconnect_peer_id(peer);
                                continue;
                            }
                            if in_flight >= MAX_IN_FLIGHT {
                                let _ = swarm.behaviour_mut().send_response(
                                    channel,
                                    Reply::unavailable(Unavailable::Busy, "busy: ask again"),
                                );
                                continue;
                            }
                            let message = match request {
                                Inbound::Message(message) => message,
                                Inbound::Invalid(why) => {
                                    // Refused, and the peer disconnected once it is told.
                                    let sent = swarm.behaviour_mut().send_response(
                                        channel,
                                        Reply::refused(Reason::Malformed, &why),
                                    );
                                    if sent.is_ok() {
                                        misbehaving.insert((peer, request_id));
                                    } else {
                                        let _ = swarm.disconnect_peer_id(peer);
                                    }
                                    continue;
                                }
                            };
                            in_flight += 1;
                            let answerer = answerer.clone();
                            let answered = answered.clone();
                            tokio::task::spawn_blocking(move || {
                                let (reply, misbehaved) = answerer.answer(&did, message);
                                let _ = answered.send((peer, request_id, channel, reply, misbehaved));
                            });
                        }
                        request_response::Message::Response { request_id, response } => {
                            if let Some(reply) = pending.remove(&request_id) {
                                let _ = reply.send(Ok(response));
                            }
                        }
                    }
                }
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    peer, request_id, error, ..
                }) => {
                    // A reply that is no reply of the protocol: the peer is disconnected.
                    if let request_response::OutboundFailure::Io(e) = &error
                        && e.kind() == io::ErrorKind::InvalidData
                    {
                        let _ = swarm.disconnect_peer_id(peer);
                    }
                    if let Some(reply) = pending.remove(&request_id) {
                        let _ = reply.send(Err(error.to_string()));
                    }
                }
                SwarmEvent::Behaviour(request_response::Event::ResponseSent { peer, request_id, .. })
                    if misbehaving.remove(&(peer, request_id)) =>
                {
                    let _ = swarm.disconnect_peer_id(peer);
                }
                SwarmEvent::Behaviour(request_response::Event::InboundFailure { peer, request_id, .. })
                    if misbehaving.remove(&(peer, request_id)) =>
                {
                    // The reply never reached it; it is disconnected all the same.
                    let _ = swarm.disconnect_peer_id(peer);
                }
                SwarmEvent::ConnectionEstablished { peer_id, .. }
                    if strikes.ignores(&peer_id, std::time::Instant::now()) =>
                {
                    let _ = swarm.disconnect_peer_id(peer_id);
                }
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_refused_too_often_is_ignored_for_a_while() {
        let mut strikes = Strikes::new();
        let (peer, other) = (PeerId::random(), PeerId::random());
        let t0 = std::time::Instant::now();
        for _ in 0..MAX_REFUSALS {
            assert!(!strikes.refused(peer, t0));
        }
        assert!(
            !strikes.refused(other, t0),
            "another peer has its own count"
        );
        assert!(strikes.refused(peer, t0), "one refusal too many");
        assert!(strikes.ignores(&peer, t0 + IGNORED_FOR / 2));
        assert!(!strikes.ignores(&other, t0));
        assert!(!strikes.ignores(&peer, t0 + IGNORED_FOR));
        // Refusals spread over windows never add up.
        let patient = PeerId::random();
        for window in 0..10u32 {
            let at = t0 + STRIKE_WINDOW * window;
            for _ in 0..MAX_REFUSALS {
                assert!(!strikes.refused(patient, at));
            }
        }
    }

    #[test]
    fn an_instance_peer_id_is_its_did_key() {
        for seed in [[0u8; 32], [7; 32], [255; 32]] {
            let key = KeyPair::from_seed(&seed);
            let did = vouch_core::did::key::did_of(&key.public());
            let peer = identity_of(&key).public().to_peer_id();
            assert_eq!(did_of_peer(&peer), Some(did.clone()));
            assert_eq!(peer_of_did(&did), Some(peer));
        }
        // A peer id that holds no Ed25519 key inline names no instance.
        assert_eq!(did_of_peer(&PeerId::random()), None);
    }
}
