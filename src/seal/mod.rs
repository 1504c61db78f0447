//! Sealing: SFrame (RFC 9605) end-to-end authenticated encryption of whole encoded frames.
//!
//! Guarantees:
//! - Keys and salts are derived exactly as RFC 9605 section 4.4.2 says; every RFC test vector
//!   passes (tests/sframe_vectors.rs).
//! - A key is either a [`SealKey`] (encrypt only) or an [`OpenKey`] (decrypt only); key
//!   schedules are zeroized on drop.
//! - A `SealKey` never reuses a counter, and refuses to seal past its limit.
//! - An `OpenKey` moves its replay window only after a frame authenticates, so forged
//!   packets can neither move it nor evict real frames.
//! - Per-stream keys: [`stream_base_key`] derives each stream's SFrame base key from a base
//!   secret and the stream's identity, and [`stream_metadata`] binds the stream identity,
//!   SSRC and RTP timestamp into the authenticated data. A frame sealed for one stream
//!   cannot open as another's, even when two cameras share a base secret.

mod aead;
pub mod frame_info;
mod header;

use hkdf::Hkdf;
use sha2::{Sha256, Sha512};
use zeroize::Zeroizing;

pub use aead::CipherSuite;
pub use frame_info::{FrameInfo, FRAME_INFO_BYTES};
pub use header::{Header, MAX_HEADER_BYTES};

use crate::error::{invalid, Error, Result};
use aead::{Aead, NONCE_BYTES};

/// Longest accepted stream identity, in bytes.
pub const MAX_STREAM_ID_BYTES: usize = 255;

/// Bytes sealing adds to a frame at most: header plus the longest tag.
pub const MAX_OVERHEAD_BYTES: usize = MAX_HEADER_BYTES + 16;

/// Width of the replay window in frames (counters).
pub(crate) const REPLAY_WINDOW_FRAMES: u64 = 128;

/// Shortest base secret or SFrame base key accepted: shorter (or empty) keys are guessable.
pub(crate) const MIN_SECRET_BYTES: usize = 16;

/// The RFC 9605 key and salt for `(suite, kid)` from `base_key` (section 4.4.2).
fn derive_key_and_salt(
    suite: CipherSuite,
    kid: u64,
    base_key: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, [u8; NONCE_BYTES])> {
    let mut key_label = Vec::with_capacity(32);
    key_label.extend_from_slice(b"SFrame 1.0 Secret key ");
    key_label.extend_from_slice(&kid.to_be_bytes());
    key_label.extend_from_slice(&(suite as u16).to_be_bytes());
    let mut salt_label = Vec::with_capacity(33);
    salt_label.extend_from_slice(b"SFrame 1.0 Secret salt ");
    salt_label.extend_from_slice(&kid.to_be_bytes());
    salt_label.extend_from_slice(&(suite as u16).to_be_bytes());

    if base_key.len() < MIN_SECRET_BYTES {
        return Err(invalid!("base key has {} bytes; at least {MIN_SECRET_BYTES} are required", base_key.len()));
    }
    let mut key = Zeroizing::new(vec![0u8; suite.key_bytes()]);
    let mut salt = [0u8; NONCE_BYTES];
    let expand_err = |_| invalid!("HKDF output length");
    if suite.uses_sha512() {
        let hk = Hkdf::<Sha512>::new(None, base_key);
        hk.expand(&key_label, &mut key).map_err(expand_err)?;
        hk.expand(&salt_label, &mut salt).map_err(expand_err)?;
    } else {
        let hk = Hkdf::<Sha256>::new(None, base_key);
        hk.expand(&key_label, &mut key).map_err(expand_err)?;
        hk.expand(&salt_label, &mut salt).map_err(expand_err)?;
    }
    Ok((key, salt))
}

fn nonce_for(salt: &[u8; NONCE_BYTES], ctr: u64) -> [u8; NONCE_BYTES] {
    let mut n = *salt;
    for (b, c) in n[NONCE_BYTES - 8..].iter_mut().zip(ctr.to_be_bytes()) {
        *b ^= c;
    }
    n
}

/// Bits of a KID that carry the key epoch; the bits above carry the sender's session.
pub(crate) const EPOCH_BITS: u32 = 16;
/// The largest key epoch (epochs only move forward, so 65,535 rekeys a stream).
pub const MAX_EPOCH: u64 = (1 << EPOCH_BITS) - 1;
/// The largest session nonce a KID carries (48 bits).
pub(crate) const MAX_SESSION: u64 = u64::MAX >> EPOCH_BITS;

/// The KID of the frames a sender session `session` seals at `epoch`: the session in the
/// high 48 bits, the epoch in the low 16. Every session (a sender's life, from start to
/// restart) gets its own keys, so no restart seals under a (key, nonce) pair used before.
pub fn session_kid(epoch: u64, session: u64) -> u64 {
    session << EPOCH_BITS | epoch
}

/// The key epoch a KID names.
pub fn kid_epoch(kid: u64) -> u64 {
    kid & MAX_EPOCH
}

/// The sender session a KID names (0 for keys not bound to a session).
pub fn kid_session(kid: u64) -> u64 {
    kid >> EPOCH_BITS
}

/// Bytes of a hub nonce: the fresh value a hub gives each sender session it follows.
pub const HUB_NONCE_BYTES: usize = 16;
/// A hub nonce (see [`stream_base_key`]).
pub type HubNonce = [u8; HUB_NONCE_BYTES];

/// Derives one stream's SFrame base key for one epoch and sender session: HKDF-SHA256 with
/// the base secret as input keying material and `"sealcam stream v1" || len(stream_id) ||
/// stream_id || epoch`, then `|| session` for a nonzero session, then `|| hub_nonce` when the
/// hub gave one, as info. Different streams, epochs, sessions or hub nonces get independent
/// keys even under one base secret; frames sealed before a hub chose its nonce never open
/// under it.
pub fn stream_base_key(
    base_secret: &[u8],
    stream_id: &[u8],
    epoch: u64,
    session: u64,
    hub_nonce: Option<&HubNonce>,
) -> Result<Zeroizing<[u8; 32]>> {
    let hk = secret_hkdf(base_secret, stream_id)?;
    if epoch > MAX_EPOCH || session > MAX_SESSION {
        return Err(invalid!("key epoch {epoch} is over {MAX_EPOCH}, or session {session:#x} over 48 bits"));
    }
    let mut info = Vec::with_capacity(36 + stream_id.len());
    info.extend_from_slice(b"sealcam stream v1");
    info.push(stream_id.len() as u8);
    info.extend_from_slice(stream_id);
    info.extend_from_slice(&epoch.to_be_bytes());
    if session != 0 {
        info.extend_from_slice(&session.to_be_bytes());
    }
    if let Some(n) = hub_nonce {
        info.extend_from_slice(n);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    hk.expand(&info, out.as_mut()).map_err(|_| invalid!("HKDF output length"))?;
    Ok(out)
}

/// HKDF-SHA256 over a stream's base secret (salt `"sealcam stream key salt v1"`), once the
/// secret's length and the stream id are checked: what stream keys and feedback keys expand.
fn secret_hkdf(base_secret: &[u8], stream_id: &[u8]) -> Result<Hkdf<Sha256>> {
    check_stream_id(stream_id)?;
    if base_secret.len() < MIN_SECRET_BYTES {
        return Err(invalid!("base secret has {} bytes; at least {MIN_SECRET_BYTES} are required", base_secret.len()));
    }
    Ok(Hkdf::<Sha256>::new(Some(b"sealcam stream key salt v1"), base_secret))
}

/// Bytes of the MAC on a hub-nonce message.
pub const HUB_NONCE_MAC_BYTES: usize = 16;

/// The MAC a hub puts on the message giving `hub_nonce` to the sender session of `kid` on
/// stream `media_ssrc`: HMAC-SHA256, truncated to 16 bytes, under a feedback key derived from
/// the epoch's base secret (HKDF info `"sealcam feedback v1" || len(stream_id) || stream_id ||
/// epoch`), over `"sealcam hub nonce v1" || media_ssrc || kid || hub_nonce`. Only a holder of
/// the secret can give a camera a nonce.
pub fn hub_nonce_mac(
    base_secret: &[u8],
    stream_id: &[u8],
    media_ssrc: u32,
    kid: u64,
    hub_nonce: &HubNonce,
) -> Result<[u8; HUB_NONCE_MAC_BYTES]> {
    use hmac::{Hmac, Mac};
    let hk = secret_hkdf(base_secret, stream_id)?;
    let mut info = Vec::with_capacity(28 + stream_id.len());
    info.extend_from_slice(b"sealcam feedback v1");
    info.push(stream_id.len() as u8);
    info.extend_from_slice(stream_id);
    info.extend_from_slice(&kid_epoch(kid).to_be_bytes());
    let mut key = Zeroizing::new([0u8; 32]);
    hk.expand(&info, key.as_mut()).map_err(|_| invalid!("HKDF output length"))?;
    let mut mac =
        <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key.as_ref()).map_err(|_| invalid!("HMAC key length"))?;
    mac.update(b"sealcam hub nonce v1");
    mac.update(&media_ssrc.to_be_bytes());
    mac.update(&kid.to_be_bytes());
    mac.update(hub_nonce);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; HUB_NONCE_MAC_BYTES];
    out.copy_from_slice(&full[..HUB_NONCE_MAC_BYTES]);
    Ok(out)
}

/// Compares two MACs in time independent of where they differ.
pub(crate) fn mac_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Validates a stream identity: 1 to [`MAX_STREAM_ID_BYTES`] bytes.
pub fn check_stream_id(stream_id: &[u8]) -> Result<()> {
    if stream_id.is_empty() || stream_id.len() > MAX_STREAM_ID_BYTES {
        return Err(invalid!("stream id has {} bytes; 1 to {MAX_STREAM_ID_BYTES} are allowed", stream_id.len()));
    }
    Ok(())
}

/// Bytes [`stream_metadata`] writes for a stream identity of `stream_id_len` bytes.
pub fn stream_metadata_len(stream_id_len: usize) -> usize {
    METADATA_TAG.len() + 1 + stream_id_len + 8
}

/// The version tag that starts every stream's metadata.
const METADATA_TAG: &[u8] = b"sealcam/1";

/// Writes the SFrame metadata that binds a frame to its stream: a version tag, the stream
/// identity (length-prefixed), the SSRC and the RTP timestamp. It is authenticated as part
/// of the AAD and never sent: the receiver rebuilds it from its own stream configuration.
pub fn stream_metadata(stream_id: &[u8], ssrc: u32, rtp_timestamp: u32, out: &mut Vec<u8>) {
    out.clear();
    out.resize(stream_metadata_len(stream_id.len()), 0);
    let n = stream_metadata_into(stream_id, ssrc, rtp_timestamp, out);
    debug_assert!(n.is_ok());
}

/// [`stream_metadata`] into a caller's buffer: returns the bytes written, or
/// [`Error::BufferTooSmall`] with the size needed. A stream id over 255 bytes is refused.
pub fn stream_metadata_into(stream_id: &[u8], ssrc: u32, rtp_timestamp: u32, out: &mut [u8]) -> Result<usize> {
    let Ok(id_len) = u8::try_from(stream_id.len()) else {
        return Err(invalid!("stream id has {} bytes; at most {MAX_STREAM_ID_BYTES} are allowed", stream_id.len()));
    };
    let needed = stream_metadata_len(stream_id.len());
    let Some(out) = out.get_mut(..needed) else { return Err(Error::BufferTooSmall { needed }) };
    let (tag, rest) = out.split_at_mut(METADATA_TAG.len());
    tag.copy_from_slice(METADATA_TAG);
    rest[0] = id_len;
    let (id, rest) = rest[1..].split_at_mut(stream_id.len());
    id.copy_from_slice(stream_id);
    rest[..4].copy_from_slice(&ssrc.to_be_bytes());
    rest[4..].copy_from_slice(&rtp_timestamp.to_be_bytes());
    Ok(needed)
}

/// Keeps the `n` bytes a `_into` call wrote to `out`, or empties `out` on its error.
fn keep_written(n: Result<usize>, out: &mut Vec<u8>) -> Result<()> {
    match n {
        Ok(n) => {
            out.truncate(n);
            Ok(())
        }
        Err(e) => {
            out.clear();
            Err(e)
        }
    }
}

/// The AAD of one frame (RFC 9605 section 4.4.3): its encoded header, then the metadata.
fn fill_aad(aad: &mut Vec<u8>, header: &[u8], metadata: &[u8]) {
    aad.clear();
    aad.extend_from_slice(header);
    aad.extend_from_slice(metadata);
}

/// An encrypt-only SFrame key.
pub struct SealKey {
    suite: CipherSuite,
    kid: u64,
    aead: Aead,
    salt: [u8; NONCE_BYTES],
    next_ctr: u64,
    ctr_limit: u64,
    aad: Vec<u8>,
}

impl SealKey {
    /// A sealing key for `kid` from an SFrame base key (RFC 9605 `base_key`).
    pub fn new(suite: CipherSuite, kid: u64, base_key: &[u8]) -> Result<Self> {
        let (key, salt) = derive_key_and_salt(suite, kid, base_key)?;
        Ok(SealKey {
            suite,
            kid,
            aead: Aead::new(suite, &key)?,
            salt,
            next_ctr: 0,
            ctr_limit: u64::MAX,
            aad: Vec::with_capacity(64),
        })
    }

    /// The sealing key of one stream at one epoch, bound to no session (the KID is the
    /// epoch). A [`crate::Sender`] seals with [`SealKey::for_session`].
    pub fn for_stream(suite: CipherSuite, base_secret: &[u8], stream_id: &[u8], epoch: u64) -> Result<Self> {
        SealKey::for_session(suite, base_secret, stream_id, epoch, 0, None)
    }

    /// The sealing key of one stream at one epoch for one sender session (the KID is
    /// [`session_kid`]), under the nonce the hub gave that session, if any.
    pub fn for_session(
        suite: CipherSuite,
        secret: &[u8],
        stream_id: &[u8],
        epoch: u64,
        session: u64,
        hub_nonce: Option<&HubNonce>,
    ) -> Result<Self> {
        let base = stream_base_key(secret, stream_id, epoch, session, hub_nonce)?;
        SealKey::new(suite, session_kid(epoch, session), base.as_ref())
    }

    /// Starts counting at `ctr` instead of 0 (the counter still only moves forward).
    pub fn starting_at(mut self, ctr: u64) -> Self {
        self.next_ctr = self.next_ctr.max(ctr);
        self
    }

    /// Refuses to seal once the counter reaches `limit` (default: the full 64-bit space).
    pub fn with_counter_limit(mut self, limit: u64) -> Self {
        self.ctr_limit = limit;
        self
    }

    /// The suite.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }
    /// The key identifier.
    pub fn kid(&self) -> u64 {
        self.kid
    }
    /// The counter the next frame is sealed with.
    pub fn next_counter(&self) -> u64 {
        self.next_ctr
    }
    /// Frames this key can still seal.
    pub fn remaining(&self) -> u64 {
        self.ctr_limit.saturating_sub(self.next_ctr)
    }

    /// Seals `plaintext` as `header || ciphertext || tag`, written to `out` (cleared first).
    pub fn seal(&mut self, metadata: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<Header> {
        let header = Header { kid: self.kid, ctr: self.next_ctr };
        out.clear();
        // Room for the longest header, so a counter that grows a byte does not reallocate.
        out.reserve(plaintext.len() + MAX_OVERHEAD_BYTES);
        out.resize(self.sealed_len(plaintext.len()), 0);
        let n = self.seal_into(metadata, plaintext, out);
        keep_written(n, out).map(|()| header)
    }

    /// Bytes [`SealKey::seal`] writes for a plaintext of `plaintext_len` bytes.
    pub fn sealed_len(&self, plaintext_len: usize) -> usize {
        Header { kid: self.kid, ctr: self.next_ctr }.encoded_len() + plaintext_len + self.aead.tag_bytes()
    }

    /// [`SealKey::seal`] into a caller's buffer, without allocating: returns the bytes
    /// written, or [`Error::BufferTooSmall`] with the size needed (no counter is used then).
    pub fn seal_into(&mut self, metadata: &[u8], plaintext: &[u8], out: &mut [u8]) -> Result<usize> {
        if self.next_ctr >= self.ctr_limit {
            return Err(Error::CounterExhausted);
        }
        let needed = self.sealed_len(plaintext.len());
        if out.len() < needed {
            return Err(Error::BufferTooSmall { needed });
        }
        let header = Header { kid: self.kid, ctr: self.next_ctr };
        let hlen = header.encode_into(out);
        fill_aad(&mut self.aad, &out[..hlen], metadata);
        let body = hlen + plaintext.len();
        out[hlen..body].copy_from_slice(plaintext);
        let nonce = nonce_for(&self.salt, header.ctr);
        let mut tag = [0u8; 16];
        let tlen = self.aead.seal_in_place(&nonce, &self.aad, &mut out[hlen..body], &mut tag)?;
        out[body..body + tlen].copy_from_slice(&tag[..tlen]);
        self.next_ctr += 1;
        Ok(body + tlen)
    }
}

/// A replay window over SFrame counters: the highest counter seen and a bitmap of the
/// [`REPLAY_WINDOW_FRAMES`] below it.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    highest: Option<u64>,
    seen: u128,
}

impl ReplayWindow {
    /// Whether `ctr` would be accepted (new and not too old). Does not change the window.
    pub fn check(&self, ctr: u64) -> bool {
        match self.highest {
            None => true,
            Some(h) if ctr > h => true,
            Some(h) => {
                let age = h - ctr;
                age < REPLAY_WINDOW_FRAMES && self.seen & (1u128 << age) == 0
            }
        }
    }

    /// Records `ctr` as seen. Call only after the frame authenticated.
    pub fn commit(&mut self, ctr: u64) {
        match self.highest {
            None => {
                self.highest = Some(ctr);
                self.seen = 1;
            }
            Some(h) if ctr > h => {
                let shift = ctr - h;
                self.seen = if shift >= REPLAY_WINDOW_FRAMES { 0 } else { self.seen << shift };
                self.seen |= 1;
                self.highest = Some(ctr);
            }
            Some(h) => {
                let age = h - ctr;
                if age < REPLAY_WINDOW_FRAMES {
                    self.seen |= 1u128 << age;
                }
            }
        }
    }
}

/// A decrypt-only SFrame key with its own replay window.
pub struct OpenKey {
    suite: CipherSuite,
    kid: u64,
    aead: Aead,
    salt: [u8; NONCE_BYTES],
    window: ReplayWindow,
    aad: Vec<u8>,
}

impl OpenKey {
    /// An opening key for `kid` from an SFrame base key.
    pub fn new(suite: CipherSuite, kid: u64, base_key: &[u8]) -> Result<Self> {
        let (key, salt) = derive_key_and_salt(suite, kid, base_key)?;
        Ok(OpenKey {
            suite,
            kid,
            aead: Aead::new(suite, &key)?,
            salt,
            window: ReplayWindow::default(),
            aad: Vec::with_capacity(64),
        })
    }

    /// The opening key of one stream at one epoch, bound to no session.
    pub fn for_stream(suite: CipherSuite, base_secret: &[u8], stream_id: &[u8], epoch: u64) -> Result<Self> {
        OpenKey::for_session(suite, base_secret, stream_id, epoch, 0, None)
    }

    /// The opening key of one stream at one epoch for one sender session, under the nonce
    /// the hub gave that session, if any.
    pub fn for_session(
        suite: CipherSuite,
        secret: &[u8],
        stream_id: &[u8],
        epoch: u64,
        session: u64,
        hub_nonce: Option<&HubNonce>,
    ) -> Result<Self> {
        let base = stream_base_key(secret, stream_id, epoch, session, hub_nonce)?;
        OpenKey::new(suite, session_kid(epoch, session), base.as_ref())
    }

    /// The suite.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }
    /// The key identifier.
    pub fn kid(&self) -> u64 {
        self.kid
    }

    /// Verifies and decrypts an SFrame into `out` (cleared first). Checks, in order: the
    /// header parses, the KID is this key's, the counter is new, the tag verifies under
    /// `metadata`. Only then is the counter recorded. On error `out` is left empty.
    pub fn open(&mut self, metadata: &[u8], sframe: &[u8], out: &mut Vec<u8>) -> Result<Header> {
        out.clear();
        let (header, hlen) = Header::decode(sframe)?;
        // The body's length does not change as the counter grows: no reallocation then.
        out.resize(sframe.len() - hlen, 0);
        let n = self.open_into(metadata, sframe, out);
        keep_written(n, out).map(|()| header)
    }

    /// [`OpenKey::open`] into a caller's buffer, without allocating: returns the plaintext's
    /// length, or [`Error::BufferTooSmall`] with the size needed (nothing is recorded then).
    /// On any error the bytes of `out` are unspecified and the replay window is unchanged.
    pub fn open_into(&mut self, metadata: &[u8], sframe: &[u8], out: &mut [u8]) -> Result<usize> {
        let (header, hlen) = Header::decode(sframe)?;
        if header.kid != self.kid {
            return Err(Error::UnknownKey(header.kid));
        }
        let tlen = self.aead.tag_bytes();
        if sframe.len() < hlen + tlen {
            return Err(Error::Malformed("SFrame shorter than its tag"));
        }
        let n = sframe.len() - hlen - tlen;
        if out.len() < n {
            return Err(Error::BufferTooSmall { needed: n });
        }
        if !self.window.check(header.ctr) {
            return Err(Error::Replay);
        }
        fill_aad(&mut self.aad, &sframe[..hlen], metadata);
        let (body, tag) = sframe[hlen..].split_at(n);
        out[..n].copy_from_slice(body);
        let nonce = nonce_for(&self.salt, header.ctr);
        if let Err(e) = self.aead.open_in_place(&nonce, &self.aad, &mut out[..n], tag) {
            out[..n].fill(0);
            return Err(e);
        }
        self.window.commit(header.ctr);
        Ok(n)
    }
}

/// Most keys a [`Keyring`] holds at once: the current epoch and those still in their overlap
/// (rekeys every 0.5 s with a 2 s overlap keep five alive).
pub(crate) const KEYRING_CAPACITY: usize = 8;

/// When an installed key stops being accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// The newest key: accepted until a newer one is installed.
    Never,
    /// A newer key was installed; the overlap starts at the next time input.
    Pending,
    /// Accepted until this time, then destroyed.
    At(u64),
}

/// Sessions whose keys one epoch keeps at once: the stream's adopted session and the newest
/// others seen (a camera that restarted, or a forger's KIDs: each costs one derivation).
const SESSIONS_PER_EPOCH: usize = 3;

/// One key epoch of a stream: its secret, when it stops being accepted, and the opening
/// keys derived for the sender sessions seen under it.
struct EpochKeys {
    epoch: u64,
    secret: Zeroizing<Vec<u8>>,
    expiry: Expiry,
    /// Opening keys by session, the adopted session's first.
    sessions: Vec<OpenKey>,
}

/// The decrypt-side keys of one stream. Epochs only move forward: an epoch is installed only
/// above every installed one. Installing it starts the overlap of every older epoch: each is
/// accepted for `overlap_us` more, whether or not a frame under the new one has arrived, then
/// destroyed (zeroized). The bound is checked on every open, not only by
/// [`Keyring::expire`]. A full ring refuses a new epoch rather than evict one still accepted.
/// Within an epoch each sender session has its own key, derived when its first frame
/// arrives; [`Keyring::adopt`] keeps the stream's session and destroys the others.
///
/// A session's keys are derived under the nonce this hub gave it ([`Keyring::give_hub_nonce`]);
/// a session given none opens nothing unless one-way streams are accepted.
pub struct Keyring {
    suite: CipherSuite,
    stream_id: Vec<u8>,
    epochs: Vec<EpochKeys>,
    adopted: Option<u64>,
    overlap_us: u64,
    /// The nonce given to each recent session, oldest first.
    hub_nonces: Vec<(u64, HubNonce)>,
    accept_one_way: bool,
}

/// Sessions a keyring keeps hub nonces for: the stream's and the newest candidates (a camera
/// that restarted, or forged KIDs: each costs one challenge).
pub(crate) const HUB_NONCE_SESSIONS: usize = 4;

impl Keyring {
    /// An empty keyring for one stream whose old epochs overlap new ones for `overlap_us`.
    pub fn new(suite: CipherSuite, stream_id: &[u8], overlap_us: u64) -> Self {
        Keyring {
            suite,
            stream_id: stream_id.to_vec(),
            epochs: Vec::with_capacity(KEYRING_CAPACITY),
            adopted: None,
            overlap_us,
            hub_nonces: Vec::with_capacity(HUB_NONCE_SESSIONS),
            accept_one_way: false,
        }
    }

    /// Also opens frames of sessions given no hub nonce, with keys bound to the session alone
    /// (a one-way stream, such as a recording relay without a feedback path). Such frames are
    /// not proven fresh: a recording of one can be replayed to a hub that restarted.
    pub fn accept_one_way(&mut self, yes: bool) {
        self.accept_one_way = yes;
    }

    /// The nonce given to `session`, if any.
    pub fn hub_nonce(&self, session: u64) -> Option<&HubNonce> {
        self.hub_nonces.iter().find(|(s, _)| *s == session).map(|(_, n)| n)
    }

    /// Gives `session` the nonce its keys derive from from now on; keys it had are destroyed.
    /// The oldest session other than the adopted one makes room.
    pub fn give_hub_nonce(&mut self, session: u64, nonce: HubNonce) {
        self.hub_nonces.retain(|(s, _)| *s != session);
        if self.hub_nonces.len() == HUB_NONCE_SESSIONS {
            let evict = self.hub_nonces.iter().position(|(s, _)| Some(*s) != self.adopted).unwrap_or(0);
            let (gone, _) = self.hub_nonces.remove(evict);
            self.forget_session(gone);
        }
        self.hub_nonces.push((session, nonce));
        self.forget_session(session);
    }

    fn forget_session(&mut self, session: u64) {
        for e in self.epochs.iter_mut() {
            e.sessions.retain(|k| kid_session(k.kid) != session);
        }
    }

    /// The MAC of the message giving `nonce` to the session of `kid` (see [`hub_nonce_mac`]),
    /// under the secret of the kid's epoch; `None` when that epoch is not installed.
    pub fn hub_nonce_mac(&self, media_ssrc: u32, kid: u64, nonce: &HubNonce) -> Option<[u8; HUB_NONCE_MAC_BYTES]> {
        let e = self.epochs.iter().find(|e| e.epoch == kid_epoch(kid))?;
        hub_nonce_mac(&e.secret, &self.stream_id, media_ssrc, kid, nonce).ok()
    }

    /// Installs an epoch above every installed one; older epochs start their overlap.
    /// Refused, changing nothing, for an epoch not above the newest, a bad secret, or a full
    /// ring.
    pub fn insert(&mut self, epoch: u64, secret: &[u8]) -> Result<()> {
        // Checks the secret, the stream id and the epoch's range.
        stream_base_key(secret, &self.stream_id, epoch, 0, None)?;
        if let Some(newest) = self.newest_epoch() {
            if epoch <= newest {
                return Err(invalid!("key epochs only move forward: {epoch} is not after {newest}"));
            }
        }
        if self.epochs.len() == KEYRING_CAPACITY {
            return Err(invalid!(
                "{KEYRING_CAPACITY} key epochs are still accepted: install epoch {epoch} once the oldest's overlap has ended"
            ));
        }
        for e in self.epochs.iter_mut() {
            if e.expiry == Expiry::Never {
                e.expiry = Expiry::Pending;
            }
        }
        let e =
            EpochKeys { epoch, secret: Zeroizing::new(secret.to_vec()), expiry: Expiry::Never, sessions: Vec::new() };
        self.epochs.push(e);
        Ok(())
    }

    /// The newest installed epoch.
    pub fn newest_epoch(&self) -> Option<u64> {
        self.epochs.iter().map(|e| e.epoch).max()
    }

    /// Opens an SFrame with the key its KID names (see [`OpenKey::open`]), after destroying
    /// epochs whose overlap has ended. A session not seen before under that epoch gets its key
    /// derived here, under its hub nonce (the oldest non-adopted session key makes room); a
    /// session with no nonce is an unknown key unless one-way streams are accepted.
    pub fn open(&mut self, now_us: u64, metadata: &[u8], sframe: &[u8], out: &mut Vec<u8>) -> Result<Header> {
        out.clear();
        self.expire(now_us);
        let (header, _) = Header::decode(sframe)?;
        let (epoch, session) = (kid_epoch(header.kid), kid_session(header.kid));
        let (suite, adopted) = (self.suite, self.adopted);
        let nonce = self.hub_nonces.iter().find(|(s, _)| *s == session).map(|(_, n)| *n);
        if nonce.is_none() && !self.accept_one_way {
            return Err(Error::UnknownKey(header.kid));
        }
        let e = self.epochs.iter_mut().find(|e| e.epoch == epoch).ok_or(Error::UnknownKey(header.kid))?;
        let i = match e.sessions.iter().position(|k| k.kid == header.kid) {
            Some(i) => i,
            None => {
                let key = OpenKey::for_session(suite, &e.secret, &self.stream_id, epoch, session, nonce.as_ref())
                    .map_err(|_| Error::UnknownKey(header.kid))?;
                if e.sessions.len() == SESSIONS_PER_EPOCH {
                    let evict = e.sessions.iter().position(|k| Some(kid_session(k.kid)) != adopted).unwrap_or(0);
                    e.sessions.remove(evict);
                }
                e.sessions.push(key);
                e.sessions.len() - 1
            }
        };
        e.sessions[i].open(metadata, sframe, out)
    }

    /// Makes `session` the stream's: the keys of every other session are destroyed, and a
    /// later frame of theirs needs a fresh key (with a fresh replay window) if it is ever let
    /// in again, which the receiver does not do for a session it retired.
    pub fn adopt(&mut self, session: u64) {
        self.adopted = Some(session);
        for e in self.epochs.iter_mut() {
            e.sessions.retain(|k| kid_session(k.kid) == session);
        }
    }

    /// Starts pending overlaps and destroys epochs whose overlap has ended.
    pub fn expire(&mut self, now_us: u64) {
        for e in self.epochs.iter_mut() {
            if e.expiry == Expiry::Pending {
                e.expiry = Expiry::At(now_us.saturating_add(self.overlap_us));
            }
        }
        self.epochs.retain(|e| !matches!(e.expiry, Expiry::At(t) if now_us >= t));
    }

    /// When [`Keyring::expire`] next has work: an overlap to start (now) or a key to destroy.
    pub fn next_expiry_us(&self) -> Option<u64> {
        self.epochs
            .iter()
            .filter_map(|e| match e.expiry {
                Expiry::Never => None,
                Expiry::Pending => Some(0),
                Expiry::At(t) => Some(t),
            })
            .min()
    }

    /// The installed epochs.
    pub fn epochs(&self) -> impl Iterator<Item = u64> + '_ {
        self.epochs.iter().map(|e| e.epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn every_suite_round_trips_and_rejects_tampering() {
        for s in 1..=5 {
            let suite = CipherSuite::from_u16(s).unwrap();
            let mut k = SealKey::for_stream(suite, SECRET, b"cam-1", 3).unwrap();
            let mut o = OpenKey::for_stream(suite, SECRET, b"cam-1", 3).unwrap();
            let mut md = Vec::new();
            stream_metadata(b"cam-1", 7, 9000, &mut md);
            let mut sealed = Vec::new();
            k.seal(&md, b"hello frame", &mut sealed).unwrap();
            let mut bad = sealed.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            let mut out = Vec::new();
            assert_eq!(o.open(&md, &bad, &mut out), Err(Error::AuthenticationFailed));
            assert!(out.is_empty());
            o.open(&md, &sealed, &mut out).unwrap();
            assert_eq!(out, b"hello frame");
            assert_eq!(o.open(&md, &sealed, &mut out), Err(Error::Replay));
        }
    }

    #[test]
    fn same_secret_other_stream_never_opens() {
        let suite = CipherSuite::AesGcm128Sha256;
        let mut a = SealKey::for_stream(suite, SECRET, b"cam-a", 0).unwrap();
        let mut b = OpenKey::for_stream(suite, SECRET, b"cam-b", 0).unwrap();
        let mut md = Vec::new();
        stream_metadata(b"cam-a", 1, 0, &mut md);
        let mut sealed = Vec::new();
        a.seal(&md, b"x", &mut sealed).unwrap();
        let mut out = Vec::new();
        assert_eq!(b.open(&md, &sealed, &mut out), Err(Error::AuthenticationFailed));
    }

    #[test]
    fn forged_frame_does_not_move_the_replay_window() {
        let suite = CipherSuite::AesGcm128Sha256;
        let mut k = SealKey::for_stream(suite, SECRET, b"c", 0).unwrap();
        let mut o = OpenKey::for_stream(suite, SECRET, b"c", 0).unwrap();
        let mut forged_key =
            SealKey::for_stream(suite, b"another secret of 32 bytes......", b"c", 0).unwrap().starting_at(1_000_000);
        let (mut s1, mut f, mut out) = (Vec::new(), Vec::new(), Vec::new());
        k.seal(b"m", b"real", &mut s1).unwrap();
        forged_key.seal(b"m", b"fake", &mut f).unwrap();
        assert!(o.open(b"m", &f, &mut out).is_err());
        o.open(b"m", &s1, &mut out).unwrap();
        assert_eq!(out, b"real");
    }

    #[test]
    fn keyring_overlaps_from_install_then_destroys_the_old_epoch() {
        let suite = CipherSuite::AesGcm128Sha256;
        let mut ring = Keyring::new(suite, b"c", 1000);
        ring.accept_one_way(true);
        ring.insert(0, SECRET).unwrap();
        let mut old = SealKey::for_stream(suite, SECRET, b"c", 0).unwrap();
        let (mut a, mut out) = (Vec::new(), Vec::new());
        old.seal(b"m", b"old", &mut a).unwrap();
        // Epoch 1 installed: the overlap starts at the next time input, whether or not a
        // frame under epoch 1 ever arrives.
        ring.insert(1, SECRET).unwrap();
        assert_eq!(ring.next_expiry_us(), Some(0), "the overlap is due to start");
        ring.open(10, b"m", &a, &mut out).unwrap();
        assert_eq!(out, b"old");
        assert_eq!(ring.next_expiry_us(), Some(1010));
        let mut a2 = Vec::new();
        old.seal(b"m", b"old, late", &mut a2).unwrap();
        ring.open(1009, b"m", &a2, &mut out).unwrap(); // inside the overlap
                                                       // Past it, the old key is gone on open alone, without expire().
        let mut a3 = Vec::new();
        old.seal(b"m", b"old, too late", &mut a3).unwrap();
        assert_eq!(ring.open(1010, b"m", &a3, &mut out), Err(Error::UnknownKey(0)));
        assert_eq!(ring.epochs().collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn key_epochs_only_move_forward_and_a_full_ring_refuses_rather_than_evicts() {
        let suite = CipherSuite::AesGcm128Sha256;
        let mut ring = Keyring::new(suite, b"c", 1000);
        ring.accept_one_way(true);
        ring.insert(5, SECRET).unwrap();
        for back in [5, 3, 0] {
            assert!(ring.insert(back, SECRET).is_err(), "epoch {back}");
        }
        for e in 6..5 + KEYRING_CAPACITY as u64 {
            ring.insert(e, SECRET).unwrap();
        }
        let full: Vec<u64> = ring.epochs().collect();
        assert!(ring.insert(99, SECRET).is_err());
        assert_eq!(ring.epochs().collect::<Vec<_>>(), full, "nothing evicted");
        ring.expire(0);
        ring.expire(1000);
        assert_eq!(ring.epochs().collect::<Vec<_>>(), [4 + KEYRING_CAPACITY as u64]);
        ring.insert(99, SECRET).unwrap();
    }

    #[test]
    fn empty_or_short_base_keys_are_refused() {
        let suite = CipherSuite::AesGcm128Sha256;
        for len in [0, 1, 15] {
            let k = vec![7u8; len];
            assert!(SealKey::new(suite, 1, &k).is_err(), "{len} bytes");
            assert!(OpenKey::new(suite, 1, &k).is_err(), "{len} bytes");
            assert!(SealKey::for_stream(suite, &k, b"c", 0).is_err(), "{len} bytes");
        }
        assert!(SealKey::new(suite, 1, &[7u8; 16]).is_ok());
    }

    #[test]
    fn counter_limit_is_enforced() {
        let mut k = SealKey::for_stream(CipherSuite::AesGcm128Sha256, SECRET, b"c", 0).unwrap().with_counter_limit(2);
        let mut out = Vec::new();
        k.seal(b"", b"1", &mut out).unwrap();
        k.seal(b"", b"2", &mut out).unwrap();
        assert_eq!(k.seal(b"", b"3", &mut out), Err(Error::CounterExhausted));
    }

    #[test]
    fn replay_window_accepts_reordering_and_rejects_old() {
        let mut w = ReplayWindow::default();
        w.commit(200);
        assert!(w.check(199));
        w.commit(199);
        assert!(!w.check(199));
        assert!(!w.check(200 - REPLAY_WINDOW_FRAMES));
        assert!(w.check(200 - REPLAY_WINDOW_FRAMES + 1));
        w.commit(1000);
        assert!(!w.check(200));
    }
}
