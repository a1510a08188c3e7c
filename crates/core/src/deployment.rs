//! A deployment's keys and what they protect: the root signing key (Ed25519) that signs the
//! team directory, each team's X25519 key pair, case keys granted to teams, and invitations
//! sealed under a one-time code. Ed25519, X25519, HKDF-SHA256 and AES-256-GCM come from their
//! crates; this module only composes them.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use harbour_wire::identity::{CertifiedDevice, DeviceCertificate, IdentityError, SignedDocument, signing_message};
use harbour_wire::protocol::{ListedDevice, SignedDirectory, Team, TeamDirectory};
use harbour_wire::root::RootSigned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::crypto::{self, CaseKey, KdfParams, Secret, Wrapped};
use crate::error::{Error, Result};
use crate::event::{Hlc, SealedEvent};
use crate::identity::DeviceIdentity;
use crate::ids::{CaseId, DeviceId, EventId};

/// The kind of the event that grants a case key to a team. Its ciphertext is the case key
/// sealed to the team's public key, not to the case key, so a team can read it before it has
/// the case key.
pub const GRANT_KIND: &str = "case.key_granted";
const GRANT_INFO: &[u8] = b"harbour-case-key-grant-v1";
const INVITATION_PREFIX: &str = "HARBOUR-INVITATION-1.";
const INVITATION_CONTEXT: &[u8] = b"harbour-invitation-v1";

/// The deployment's root signing key, held by administrators' devices only.
pub struct RootKey(Secret);

impl RootKey {
    pub fn generate() -> RootKey {
        RootKey(Secret::random())
    }

    pub fn from_secret(secret: Secret) -> RootKey {
        RootKey(secret)
    }

    pub fn secret(&self) -> &Secret {
        &self.0
    }

    pub fn public_key(&self) -> [u8; 32] {
        SigningKey::from_bytes(self.0.expose()).verifying_key().to_bytes()
    }

    /// Signs a directory: the exact JSON text is what is signed and carried.
    pub fn sign(&self, directory: &TeamDirectory) -> SignedDirectory {
        let SignedDocument { document, signature } = self.sign_document(directory);
        SignedDirectory { document, signature }
    }

    /// Signs a root-signed document (the team directory, the service directory) under its
    /// context: the exact JSON text is what is signed and carried.
    pub fn sign_document<T: RootSigned + Serialize>(&self, document: &T) -> SignedDocument {
        let document = serde_json::to_string(document).expect("a root-signed document serializes");
        let signature = SigningKey::from_bytes(self.0.expose()).sign(&signing_message(T::CONTEXT, document.as_bytes()));
        SignedDocument { document, signature: signature.to_bytes().to_vec() }
    }
}

/// Team names travel and rest on the server sealed under the deployment's directory key, which
/// every laptop receives in its invitation: the server relays "Embassy of …" without reading it.
const SEALED_NAME_PREFIX: &str = "sealed1:";

/// The directory as it is signed and published: every team name sealed under `key`.
pub fn seal_team_names(directory: &TeamDirectory, key: &Secret) -> TeamDirectory {
    let mut sealed = directory.clone();
    for team in &mut sealed.teams {
        if team.name.starts_with(SEALED_NAME_PREFIX) {
            continue;
        }
        team.name = seal_text(key, team.id.as_bytes(), &team.name);
    }
    sealed
}

/// The directory with its team names readable again (names that are not sealed — directories
/// made before names were — are left as they are).
pub fn open_team_names(directory: TeamDirectory, key: Option<&Secret>) -> Result<TeamDirectory> {
    let mut opened = directory;
    for team in &mut opened.teams {
        if !team.name.starts_with(SEALED_NAME_PREFIX) {
            continue;
        }
        let damaged =
            || Error::invalid("directory", "a team's name in the directory cannot be read; tell your administrator");
        let key = key.ok_or_else(damaged)?;
        team.name = open_text(key, team.id.as_bytes(), &team.name).ok_or_else(damaged)?;
    }
    Ok(opened)
}

/// What a sealed service directory is bound to: its deployment and version, so that a sealed
/// text cannot be moved into another document.
pub fn service_directory_context(deployment_id: Uuid, version: u64) -> Vec<u8> {
    let mut context = b"harbour-service-directory-sealed-v1".to_vec();
    context.extend_from_slice(deployment_id.as_bytes());
    context.extend_from_slice(&version.to_be_bytes());
    context
}

/// `text` sealed under the deployment's directory key (AES-256-GCM, `context` bound in), as
/// published for every laptop and no server to read: team names, the service directory.
pub fn seal_text(key: &Secret, context: &[u8], text: &str) -> String {
    let wrapped = crypto::wrap(key, context, text.as_bytes());
    format!("{SEALED_NAME_PREFIX}{}", URL_SAFE_NO_PAD.encode([wrapped.nonce, wrapped.ciphertext].concat()))
}

/// What [`seal_text`] sealed with `key` and `context`; `None` if it was not, or was altered.
pub fn open_text(key: &Secret, context: &[u8], sealed: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(SEALED_NAME_PREFIX)?).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let wrapped = Wrapped { nonce: bytes[..12].to_vec(), ciphertext: bytes[12..].to_vec() };
    String::from_utf8(crypto::unwrap(key, context, &wrapped)?.to_vec()).ok()
}

/// Checks a directory's signature against the pinned root public key, and that it belongs to
/// this deployment.
pub fn verify_directory(
    signed: &SignedDirectory,
    root_public_key: &[u8],
    deployment_id: Uuid,
) -> Result<TeamDirectory> {
    signed.verify(root_public_key, deployment_id).map_err(|_| {
        Error::invalid(
            "directory",
            "the team directory is not signed by this deployment's root key; it was not used (tell your administrator)",
        )
    })
}

/// A team's private key, held by the devices of that team (and by administrators).
#[derive(Clone)]
pub struct TeamSecret {
    pub team_id: Uuid,
    pub secret: Secret,
}

impl std::fmt::Debug for TeamSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamSecret").field("team_id", &self.team_id).finish_non_exhaustive()
    }
}

impl TeamSecret {
    pub fn generate() -> TeamSecret {
        TeamSecret { team_id: Uuid::now_v7(), secret: Secret::random() }
    }

    pub fn public_key(&self) -> [u8; 32] {
        PublicKey::from(&StaticSecret::from(*self.secret.expose())).to_bytes()
    }

    pub fn team(&self, name: &str) -> Team {
        Team { id: self.team_id, name: name.to_owned(), public_key: self.public_key().to_vec() }
    }
}

/// Seals case keys to teams' public keys, as events of the cases authored by this device:
/// X25519 with an ephemeral key → HKDF-SHA256 → AES-256-GCM, each event's routing metadata as
/// associated data and a fresh random nonce per grant; then signs the grant with this laptop's
/// certified key, so that a laptop can tell who made it (see [`GrantVerifier`]).
///
/// `ciphertext` is: the team's id (a hint, 16 bytes), the ephemeral public key (32), the sealed
/// key (48), the author's Ed25519 signature (64), then the author's certificate (JSON) — or
/// nothing, once the signed team directory lists the author: the grant's device id then names
/// it, and a receiver finds its key in the directory it holds. The signature never covers the
/// certificate: a relay that adds, removes or swaps one changes only where the key is looked up,
/// and the key must still be the certified one of the grant's own device.
///
/// One ephemeral key serves every grant sealed in one transaction (a batch of new cases), so
/// the receiver does one key agreement per batch and team, not one per case.
pub struct GrantSealer<'a> {
    ephemeral: StaticSecret,
    ephemeral_public: [u8; 32],
    keys: Vec<(Uuid, Secret)>,
    author: &'a DeviceIdentity,
    certificate: Vec<u8>,
}

/// Bytes of a grant before its signature: team hint, ephemeral public key, sealed case key.
const GRANT_SIGNED_LEN: usize = 16 + 32 + 48;
/// Bytes of a grant before its author's certificate.
const GRANT_CERTIFICATE_AT: usize = GRANT_SIGNED_LEN + 64;
/// Domain separation of a laptop's signature over a grant.
const GRANT_SIGNING_CONTEXT: &[u8] = b"harbour-grant-v2\0";

impl<'a> GrantSealer<'a> {
    pub fn new(author: &'a DeviceIdentity) -> GrantSealer<'a> {
        let ephemeral = StaticSecret::random_from_rng(rand_core::OsRng);
        let ephemeral_public = PublicKey::from(&ephemeral).to_bytes();
        GrantSealer { ephemeral, ephemeral_public, keys: Vec::new(), author, certificate: author.grant_certificate() }
    }

    pub fn seal(
        &mut self,
        case_id: CaseId,
        case_key: &CaseKey,
        team: &Team,
        device_id: DeviceId,
        device_seq: u64,
        hlc: Hlc,
    ) -> Result<SealedEvent> {
        let mut sealed = SealedEvent {
            format: crypto::SEALED_FORMAT,
            id: EventId::new().0,
            case_id: case_id.0,
            kind: GRANT_KIND.to_owned(),
            device_id: device_id.0,
            device_seq,
            hlc,
            key_id: case_key.id,
            nonce: Vec::new(),
            ciphertext: Vec::new(),
        };
        let wrapped = crypto::wrap(self.key_for(team)?, &sealed.associated_data(), case_key.secret.expose());
        sealed.nonce = wrapped.nonce;
        let mut ciphertext = Vec::with_capacity(GRANT_CERTIFICATE_AT + self.certificate.len());
        ciphertext.extend_from_slice(team.id.as_bytes());
        ciphertext.extend_from_slice(&self.ephemeral_public);
        ciphertext.extend_from_slice(&wrapped.ciphertext);
        let signature = self.author.key.sign(GRANT_SIGNING_CONTEXT, &grant_signing_document(&sealed, &ciphertext));
        ciphertext.extend_from_slice(&signature);
        ciphertext.extend_from_slice(&self.certificate);
        sealed.ciphertext = ciphertext;
        Ok(sealed)
    }

    fn key_for(&mut self, team: &Team) -> Result<&Secret> {
        if let Some(index) = self.keys.iter().position(|(id, _)| *id == team.id) {
            return Ok(&self.keys[index].1);
        }
        let team_public = <[u8; 32]>::try_from(team.public_key.as_slice())
            .map_err(|_| Error::invalid("team", format!("the directory's key for {} is not valid", team.name)))?;
        let key = grant_key(&self.ephemeral, &PublicKey::from(team_public), &self.ephemeral_public);
        self.keys.push((team.id, key));
        Ok(&self.keys.last().expect("just pushed").1)
    }
}

/// What a grant's author signs: its routing metadata (the associated data) and the grant up to
/// the signature.
fn grant_signing_document(sealed: &SealedEvent, signed_part: &[u8]) -> Vec<u8> {
    let mut document = sealed.associated_data();
    document.extend_from_slice(signed_part);
    document
}

/// The team a grant is addressed to (a hint in clear; the seal itself is what proves it).
pub fn grant_team(sealed: &SealedEvent) -> Option<Uuid> {
    if sealed.kind != GRANT_KIND || sealed.ciphertext.len() < GRANT_CERTIFICATE_AT {
        return None;
    }
    Uuid::from_slice(&sealed.ciphertext[..16]).ok()
}

/// Grant signatures that verified, each exactly (the signature, the author's key and the signed
/// message): made only by [`GrantVerifier::check_together`], so that a page's signatures can be
/// checked on another thread before the page is applied ([`GrantVerifier::with_verified`]).
#[derive(Debug, Default)]
pub struct VerifiedSignatures(HashSet<Vec<u8>>);

impl VerifiedSignatures {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Checks who made grants: the author's certificate against the deployment's root key (each
/// certificate once), that the certified laptop is the event's device, and its signature.
pub struct GrantVerifier<'a> {
    root_public_key: &'a [u8],
    deployment_id: Uuid,
    certified: Vec<(Vec<u8>, CertifiedDevice)>,
    /// The laptops the verified team directory lists, for grants that carry no certificate.
    listed: Vec<CertifiedDevice>,
    /// Signatures that verified in a batch ([`GrantVerifier::check_together`]): the signature,
    /// the author's key and the signed message, exactly.
    verified: HashSet<Vec<u8>>,
}

impl<'a> GrantVerifier<'a> {
    pub fn new(root_public_key: &'a [u8], deployment_id: Uuid) -> GrantVerifier<'a> {
        GrantVerifier {
            root_public_key,
            deployment_id,
            certified: Vec::new(),
            listed: Vec::new(),
            verified: HashSet::new(),
        }
    }

    /// Grants that carry no certificate are checked against these laptops, from a team
    /// directory verified against the root key (an entry whose key is damaged is left out).
    pub fn with_listed(mut self, devices: &[ListedDevice]) -> GrantVerifier<'a> {
        self.listed = devices.iter().filter_map(|device| device.certified().ok()).collect();
        self
    }

    /// Checks the signatures of many grants at once (Ed25519 batch verification, about half
    /// the work of checking them one by one) and remembers those that verified, so that
    /// [`GrantVerifier::author`] does not check them again. When the batch fails nothing is
    /// remembered: `author` then checks each grant alone and finds the bad one.
    pub fn check_together(&mut self, grants: &[&SealedEvent]) {
        let mut checks = Vec::with_capacity(grants.len());
        for grant in grants {
            let Ok((author, signed, signature)) = self.certified_author(grant) else { continue };
            let Ok(parsed) = harbour_wire::identity::signature(signature) else { continue };
            let message = grant_message(grant, signed);
            // Already checked (on the thread that fetched the page).
            if self.verified.contains(&verified_entry(signature, &author.public_key, &message)) {
                continue;
            }
            checks.push((message, parsed, author.public_key, signature));
        }
        if checks.len() < 2 {
            return;
        }
        let messages: Vec<&[u8]> = checks.iter().map(|(message, ..)| message.as_slice()).collect();
        let signatures: Vec<ed25519_dalek::Signature> = checks.iter().map(|(_, signature, ..)| *signature).collect();
        let keys: Vec<VerifyingKey> = checks.iter().map(|(_, _, key, _)| *key).collect();
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
            for (message, _, key, signature) in &checks {
                self.verified.insert(verified_entry(signature, key, message));
            }
        }
    }

    /// Takes signatures another verifier checked (each still names its exact key and message).
    pub fn with_verified(mut self, verified: VerifiedSignatures) -> GrantVerifier<'a> {
        self.verified.extend(verified.0);
        self
    }

    /// The signatures that verified together so far.
    pub fn into_verified(self) -> VerifiedSignatures {
        VerifiedSignatures(self.verified)
    }

    /// The certified laptop that made this grant, or why it is refused.
    pub fn author(&mut self, sealed: &SealedEvent) -> std::result::Result<CertifiedDevice, IdentityError> {
        let (author, signed_part, signature) = self.certified_author(sealed)?;
        let message = grant_message(sealed, signed_part);
        if self.verified.contains(&verified_entry(signature, &author.public_key, &message)) {
            return Ok(author);
        }
        author
            .public_key
            .verify(&message, &harbour_wire::identity::signature(signature)?)
            .map_err(|_| IdentityError::BadSignature)?;
        Ok(author)
    }

    /// The grant's certified author (certificate checked, naming the grant's device), the part
    /// of the grant its signature covers, and the signature; the signature itself NOT checked.
    fn certified_author<'g>(
        &mut self,
        sealed: &'g SealedEvent,
    ) -> std::result::Result<(CertifiedDevice, &'g [u8], &'g [u8]), IdentityError> {
        if grant_team(sealed).is_none() {
            return Err(IdentityError::Malformed);
        }
        let (signed_part, rest) = sealed.ciphertext.split_at(GRANT_SIGNED_LEN);
        let (signature, certificate) = rest.split_at(64);
        if certificate.is_empty() {
            let listed = self.listed.iter().find(|device| device.device_id == sealed.device_id);
            return Ok((listed.ok_or(IdentityError::Unlisted)?.clone(), signed_part, signature));
        }
        let author = match self.certified.iter().find(|(bytes, _)| bytes == certificate) {
            Some((_, author)) => author.clone(),
            None => {
                let parsed: DeviceCertificate =
                    serde_json::from_slice(certificate).map_err(|_| IdentityError::Malformed)?;
                let author = parsed.verify(self.root_public_key, self.deployment_id)?;
                self.certified.push((certificate.to_vec(), author.clone()));
                author
            }
        };
        if author.device_id != sealed.device_id {
            return Err(IdentityError::NotCertified);
        }
        Ok((author, signed_part, signature))
    }
}

/// The exact bytes a grant's author signed.
fn grant_message(sealed: &SealedEvent, signed_part: &[u8]) -> Vec<u8> {
    signing_message(GRANT_SIGNING_CONTEXT, &grant_signing_document(sealed, signed_part))
}

/// What a batch remembers of a signature that verified: the signature, the key and the message.
fn verified_entry(signature: &[u8], key: &VerifyingKey, message: &[u8]) -> Vec<u8> {
    [signature, key.as_bytes().as_slice(), message].concat()
}

/// Opens a grant with one of the team secrets this device holds; `None` if none opens it.
/// This proves nothing about who made it: check that with [`GrantVerifier`] first.
pub fn open_grant(sealed: &SealedEvent, teams: &[TeamSecret]) -> Option<CaseKey> {
    GrantOpener::default().open(sealed, teams)
}

/// Opens grants, remembering each key agreement: grants sealed in one batch share it.
#[derive(Default)]
pub struct GrantOpener {
    agreed: Vec<(Uuid, [u8; 32], Secret)>,
}

impl GrantOpener {
    pub fn open(&mut self, sealed: &SealedEvent, teams: &[TeamSecret]) -> Option<CaseKey> {
        let addressed_to = grant_team(sealed)?;
        let ephemeral_public = <[u8; 32]>::try_from(&sealed.ciphertext[16..48]).ok()?;
        let body = &sealed.ciphertext[48..GRANT_SIGNED_LEN];
        let wrapped = Wrapped { nonce: sealed.nonce.clone(), ciphertext: body.to_vec() };
        // Only the addressed team's keys are tried (a team has more than one after a laptop was
        // revoked: the old one still opens older grants), and each agreement is made once.
        let aad = sealed.associated_data();
        let index =
            match self.agreed.iter().position(|(team, public, _)| *team == addressed_to && *public == ephemeral_public)
            {
                Some(index) => index,
                None => {
                    let key = teams.iter().filter(|team| team.team_id == addressed_to).find_map(|team| {
                        let secret = StaticSecret::from(*team.secret.expose());
                        let key = grant_key(&secret, &PublicKey::from(ephemeral_public), &ephemeral_public);
                        crypto::unwrap(&key, &aad, &wrapped).map(|_| key)
                    })?;
                    self.agreed.push((addressed_to, ephemeral_public, key));
                    self.agreed.len() - 1
                }
            };
        let bytes = crypto::unwrap(&self.agreed[index].2, &aad, &wrapped)?;
        Some(CaseKey { id: sealed.key_id, secret: Secret::from_slice(&bytes)? })
    }
}

/// Seals a short text (a worker's name) to a team's public key: X25519 with a fresh ephemeral
/// key → HKDF-SHA256 → AES-256-GCM with `context` as associated data. Base64 of the ephemeral
/// public key, the nonce and the ciphertext.
pub fn seal_to_team(team: &Team, context: &[u8], text: &str) -> Result<String> {
    let team_public = <[u8; 32]>::try_from(team.public_key.as_slice())
        .map_err(|_| Error::invalid("team", format!("the directory's key for {} is not valid", team.name)))?;
    Ok(seal_to_key(&team_public, context, text))
}

/// [`seal_to_team`] for any X25519 public key (a laptop's box key).
pub fn seal_to_key(public_key: &[u8; 32], context: &[u8], text: &str) -> String {
    let ephemeral = StaticSecret::random_from_rng(rand_core::OsRng);
    let ephemeral_public = PublicKey::from(&ephemeral).to_bytes();
    let key = grant_key(&ephemeral, &PublicKey::from(*public_key), &ephemeral_public);
    let wrapped = crypto::wrap(&key, context, text.as_bytes());
    URL_SAFE_NO_PAD.encode([ephemeral_public.as_slice(), &wrapped.nonce, &wrapped.ciphertext].concat())
}

/// Opens what [`seal_to_team`] sealed, with the team's secret; `None` if it does not open.
pub fn open_from_team(team: &TeamSecret, context: &[u8], sealed: &str) -> Option<String> {
    open_with_secret(&team.secret, context, sealed)
}

/// Opens what [`seal_to_key`] sealed, with the X25519 secret of the public key.
pub fn open_with_secret(secret: &Secret, context: &[u8], sealed: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < 32 + 12 + 16 {
        return None;
    }
    let ephemeral_public = <[u8; 32]>::try_from(&bytes[..32]).ok()?;
    let key = grant_key(&StaticSecret::from(*secret.expose()), &PublicKey::from(ephemeral_public), &ephemeral_public);
    let wrapped = Wrapped { nonce: bytes[32..44].to_vec(), ciphertext: bytes[44..].to_vec() };
    String::from_utf8(crypto::unwrap(&key, context, &wrapped)?.to_vec()).ok()
}

fn grant_key(own: &StaticSecret, other: &PublicKey, ephemeral_public: &[u8; 32]) -> Secret {
    let shared = Zeroizing::new(own.diffie_hellman(other).to_bytes());
    let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(Some(ephemeral_public), shared.as_slice());
    let mut okm = [0u8; 32];
    hkdf.expand(GRANT_INFO, &mut okm).expect("32 bytes is a valid HKDF-SHA256 output length");
    Secret::from_bytes(okm)
}

/// What an invitation carries to a new device: where the server is, the one-use token that
/// redeems it (the device's own token is made by the server at redemption), its team and that
/// team's private key, the signed directory with the root key to check it, and the root-signed
/// credential with the invitation's private key, with which the new laptop certifies its own
/// signing key.
#[derive(Serialize, Deserialize)]
pub struct Invitation {
    pub server_url: String,
    pub deployment_id: Uuid,
    pub ministry_team_id: Uuid,
    #[serde(with = "harbour_wire::b64")]
    pub root_public_key: Vec<u8>,
    pub team_id: Uuid,
    pub team_name: String,
    /// The team's X25519 private key, hex.
    pub team_secret: String,
    pub invitation_id: Uuid,
    pub invitation_token: String,
    /// The invitation's Ed25519 private key, hex: it signs the new laptop's certificate.
    pub invitation_key: String,
    pub credential: SignedDocument,
    pub expires_ms: u64,
    pub admin: bool,
    pub directory: SignedDirectory,
    /// The key that seals team names in the directory, hex.
    #[serde(default)]
    pub directory_key: Option<String>,
}

impl std::fmt::Debug for Invitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invitation").field("team", &self.team_name).finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct SealedInvitation {
    kdf: KdfParams,
    #[serde(with = "harbour_wire::b64")]
    salt: Vec<u8>,
    sealed: Wrapped,
}

/// A new one-time code to read an invitation: twelve characters from the unambiguous case-code
/// alphabet, in three groups (about 59 bits, behind Argon2id).
pub fn new_invitation_code() -> String {
    let code = crate::ids::CaseCode::generate(&crate::ids::CodePrefix::default());
    let more = crate::ids::CaseCode::generate(&crate::ids::CodePrefix::default());
    let chars: String =
        code.as_str()[3..].replace('-', "").chars().chain(more.as_str()[3..].replace('-', "").chars()).collect();
    format!("{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..12])
}

/// Seals an invitation under its one-time code. The result is one line of text to paste.
pub fn seal_invitation(invitation: &Invitation, code: &str, kdf: KdfParams) -> Result<String> {
    let mut salt = [0u8; 16];
    crypto::fill_random(&mut salt);
    let key = crypto::derive_kek(&normalize_code(code), &salt, kdf)?;
    let body = Zeroizing::new(serde_json::to_vec(invitation).expect("an invitation serializes"));
    let sealed = SealedInvitation { kdf, salt: salt.to_vec(), sealed: crypto::wrap(&key, INVITATION_CONTEXT, &body) };
    let json = serde_json::to_vec(&sealed).expect("a sealed invitation serializes");
    Ok(format!("{INVITATION_PREFIX}{}", URL_SAFE_NO_PAD.encode(json)))
}

/// Opens an invitation with the code that came by another channel.
pub fn open_invitation(text: &str, code: &str) -> Result<Invitation> {
    let malformed = || {
        Error::invalid("invitation", "this is not a Harbour invitation, or it was cut off; copy the whole text again")
    };
    let body = text.trim().strip_prefix(INVITATION_PREFIX).ok_or_else(malformed)?;
    let json = URL_SAFE_NO_PAD.decode(body.trim()).map_err(|_| malformed())?;
    let sealed: SealedInvitation = serde_json::from_slice(&json).map_err(|_| malformed())?;
    // The parameters travel with the text: a forged invitation naming 4 GiB or a million passes
    // would stall or exhaust the laptop before the code is even tried.
    if !sealed.kdf.within_bounds() {
        return Err(Error::invalid(
            "invitation",
            "this invitation is damaged (it asks for impossible key-derivation settings); ask for a new one",
        ));
    }
    let key = crypto::derive_kek(&normalize_code(code), &sealed.salt, sealed.kdf)?;
    let opened = crypto::unwrap(&key, INVITATION_CONTEXT, &sealed.sealed).ok_or_else(|| {
        Error::invalid("code", "the code does not open this invitation; check it with the person who sent it")
    })?;
    serde_json::from_slice(&opened).map_err(|_| malformed())
}

fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An invitation into a clinic team; its credential is a placeholder (these tests are
    /// about sealing the invitation, not about certificates).
    fn invitation_for_tests() -> Invitation {
        let root = RootKey::generate();
        let team = TeamSecret::generate();
        Invitation {
            server_url: "https://harbour.example.org".into(),
            deployment_id: Uuid::from_u128(7),
            ministry_team_id: Uuid::from_u128(1),
            root_public_key: root.public_key().to_vec(),
            team_id: team.team_id,
            team_name: "Clinic".into(),
            team_secret: hex::encode(team.secret.expose()),
            invitation_id: Uuid::from_u128(4),
            invitation_token: "token".into(),
            invitation_key: "00".repeat(32),
            credential: SignedDocument { document: "{}".into(), signature: vec![0; 64] },
            expires_ms: 5,
            admin: false,
            directory: root.sign(&directory(vec![team.team("Clinic")])),
            directory_key: None,
        }
    }

    fn directory(teams: Vec<Team>) -> TeamDirectory {
        TeamDirectory { deployment_id: Uuid::from_u128(7), version: 1, teams, devices: Vec::new() }
    }

    #[test]
    fn directories_verify_only_with_the_root_key() {
        let root = RootKey::generate();
        let team = TeamSecret::generate().team("Clinic");
        let signed = root.sign(&directory(vec![team.clone()]));
        let verified = verify_directory(&signed, &root.public_key(), Uuid::from_u128(7)).unwrap();
        assert_eq!(verified.teams, vec![team]);

        let other = RootKey::generate();
        assert!(verify_directory(&signed, &other.public_key(), Uuid::from_u128(7)).is_err());
        assert!(verify_directory(&signed, &root.public_key(), Uuid::from_u128(8)).is_err());
        let mut altered = signed.clone();
        altered.document = altered.document.replace("Clinic", "Clinik");
        assert!(verify_directory(&altered, &root.public_key(), Uuid::from_u128(7)).is_err());
    }

    #[test]
    fn a_grant_opens_only_for_its_team_and_binds_its_metadata() {
        let (root, deployment) = (RootKey::generate(), Uuid::from_u128(7));
        let device = DeviceId::new();
        let author = crate::identity::self_certify(&root, deployment, Uuid::from_u128(1), device, 5, None);
        let (shelter, consulate) = (TeamSecret::generate(), TeamSecret::generate());
        let key = CaseKey::generate();
        let case_id = CaseId::new();
        let sealed = GrantSealer::new(&author)
            .seal(case_id, &key, &shelter.team("Shelter"), device, 4, Hlc { wall_ms: 9, counter: 0 })
            .unwrap();
        let opened = open_grant(&sealed, &[consulate.clone(), shelter.clone()]).unwrap();
        assert_eq!((opened.id, opened.secret.expose()), (key.id, key.secret.expose()));
        assert!(open_grant(&sealed, &[consulate]).is_none());
        let mut moved = sealed.clone();
        moved.case_id = CaseId::new().0;
        assert!(open_grant(&moved, &[shelter]).is_none());

        let root_public_key = root.public_key();
        let mut verifier = GrantVerifier::new(&root_public_key, deployment);
        assert_eq!(verifier.author(&sealed).unwrap().device_id, device.0);
        // The signature covers the metadata: moved to another case, the grant has no author.
        assert_eq!(verifier.author(&moved), Err(IdentityError::BadSignature));
        // Claimed by another laptop than the certified one.
        let mut claimed = sealed.clone();
        claimed.device_id = DeviceId::new().0;
        assert_eq!(verifier.author(&claimed), Err(IdentityError::NotCertified));
        // Another deployment's root does not certify the author.
        let mut stranger = GrantVerifier::new(&[9u8; 32], deployment);
        assert!(stranger.author(&sealed).is_err());
        // Cut short.
        let mut cut = sealed.clone();
        cut.ciphertext.truncate(100);
        assert_eq!(verifier.author(&cut), Err(IdentityError::Malformed));
    }

    /// A grant by a laptop the directory lists names its author and carries no certificate; it
    /// is checked against the listed key only, and no certificate a relay attaches vouches for it.
    #[test]
    fn a_grant_by_a_listed_laptop_is_checked_against_the_directory() {
        let (root, deployment) = (RootKey::generate(), Uuid::from_u128(7));
        let root_public_key = root.public_key();
        let device = DeviceId::new();
        let mut author = crate::identity::self_certify(&root, deployment, Uuid::from_u128(1), device, 5, None);
        author.listed = true;
        let team = TeamSecret::generate().team("Shelter");
        let sealed = GrantSealer::new(&author)
            .seal(CaseId::new(), &CaseKey::generate(), &team, device, 4, Hlc { wall_ms: 9, counter: 0 })
            .unwrap();
        assert_eq!(sealed.ciphertext.len(), GRANT_CERTIFICATE_AT, "no certificate travels");
        let certified = author.certificate.verify(&root_public_key, deployment).unwrap();
        let listed = [ListedDevice::from_certified(&certified)];
        let verifier = || GrantVerifier::new(&root_public_key, deployment).with_listed(&listed);

        assert_eq!(verifier().author(&sealed).unwrap().device_id, device.0);
        // A directory that does not list the author: the grant waits.
        assert_eq!(GrantVerifier::new(&root_public_key, deployment).author(&sealed), Err(IdentityError::Unlisted));
        // Another listed laptop's entry is not the author's.
        let other = crate::identity::self_certify(&root, deployment, Uuid::from_u128(1), DeviceId::new(), 5, None);
        let mut claimed = sealed.clone();
        claimed.device_id = other.certificate.verify(&root_public_key, deployment).unwrap().device_id;
        let both = [
            listed[0].clone(),
            ListedDevice::from_certified(&other.certificate.verify(&root_public_key, deployment).unwrap()),
        ];
        assert_eq!(
            GrantVerifier::new(&root_public_key, deployment).with_listed(&both).author(&claimed),
            Err(IdentityError::BadSignature)
        );
        // A relay attaches a certificate: another laptop's genuine one, or one for this device
        // made under a root of its own. Neither is the grant's author.
        for certificate in [other.certificate_json(), {
            let forged =
                crate::identity::self_certify(&RootKey::generate(), deployment, Uuid::from_u128(1), device, 5, None);
            forged.certificate_json()
        }] {
            let mut attached = sealed.clone();
            attached.ciphertext.extend_from_slice(certificate.as_bytes());
            assert_eq!(verifier().author(&attached), Err(IdentityError::NotCertified));
        }
        // A listed entry naming the device with another key does not verify the grant.
        let mut replaced = listed[0].clone();
        replaced.public_key = other.key.public_key().to_vec();
        assert_eq!(
            GrantVerifier::new(&root_public_key, deployment).with_listed(&[replaced]).author(&sealed),
            Err(IdentityError::BadSignature)
        );
    }

    /// A page's signatures are checked together; one bad signature among them is still found,
    /// and nothing that verified in a batch vouches for an altered grant.
    #[test]
    fn grants_checked_together_find_the_one_bad_signature() {
        let (root, deployment) = (RootKey::generate(), Uuid::from_u128(7));
        let device = DeviceId::new();
        let author = crate::identity::self_certify(&root, deployment, Uuid::from_u128(1), device, 5, None);
        let team = TeamSecret::generate().team("Shelter");
        let mut sealer = GrantSealer::new(&author);
        let grants: Vec<SealedEvent> = (0..6)
            .map(|seq| {
                sealer.seal(CaseId::new(), &CaseKey::generate(), &team, device, seq + 1, Hlc { wall_ms: 9, counter: 0 })
            })
            .collect::<Result<_>>()
            .unwrap();
        let root_public_key = root.public_key();

        let mut verifier = GrantVerifier::new(&root_public_key, deployment);
        verifier.check_together(&grants.iter().collect::<Vec<_>>());
        assert_eq!(verifier.verified.len(), 6, "a batch of good signatures is remembered whole");
        for grant in &grants {
            assert_eq!(verifier.author(grant).unwrap().device_id, device.0);
        }
        // Moved to another case after its signature verified in the batch: not vouched for.
        let mut moved = grants[0].clone();
        moved.case_id = CaseId::new().0;
        assert_eq!(verifier.author(&moved), Err(IdentityError::BadSignature));

        let mut bad = grants.clone();
        bad[3].ciphertext[GRANT_SIGNED_LEN] ^= 1;
        let mut verifier = GrantVerifier::new(&root_public_key, deployment);
        verifier.check_together(&bad.iter().collect::<Vec<_>>());
        assert!(verifier.verified.is_empty(), "a failed batch vouches for nothing");
        for (index, grant) in bad.iter().enumerate() {
            let checked = verifier.author(grant);
            if index == 3 {
                assert_eq!(checked, Err(IdentityError::BadSignature));
            } else {
                assert_eq!(checked.unwrap().device_id, device.0);
            }
        }
    }

    /// Signatures checked on another thread (the one that fetched the page) are taken by the
    /// verifier that applies it: not checked again, not checked together again; they vouch only
    /// for their exact grant, and one checked under another root key vouches for nothing.
    #[test]
    fn signatures_checked_elsewhere_vouch_only_for_their_exact_grants() {
        let (root, deployment) = (RootKey::generate(), Uuid::from_u128(7));
        let device = DeviceId::new();
        let author = crate::identity::self_certify(&root, deployment, Uuid::from_u128(1), device, 5, None);
        let team = TeamSecret::generate().team("Shelter");
        let mut sealer = GrantSealer::new(&author);
        let grants: Vec<SealedEvent> = (0..4)
            .map(|seq| {
                sealer.seal(CaseId::new(), &CaseKey::generate(), &team, device, seq + 1, Hlc { wall_ms: 9, counter: 0 })
            })
            .collect::<Result<_>>()
            .unwrap();
        let root_public_key = root.public_key();
        let mut elsewhere = GrantVerifier::new(&root_public_key, deployment);
        elsewhere.check_together(&grants.iter().collect::<Vec<_>>());
        let carried = elsewhere.into_verified();
        assert_eq!(carried.len(), 4);

        let mut verifier = GrantVerifier::new(&root_public_key, deployment).with_verified(carried);
        verifier.check_together(&grants.iter().collect::<Vec<_>>());
        assert_eq!(verifier.verified.len(), 4, "nothing was added: they were not checked again");
        for grant in &grants {
            assert_eq!(verifier.author(grant).unwrap().device_id, device.0);
        }
        let mut moved = grants[1].clone();
        moved.case_id = CaseId::new().0;
        assert_eq!(verifier.author(&moved), Err(IdentityError::BadSignature));

        // Checked against another deployment's root: its author is not certified there.
        let other_root = RootKey::generate();
        let other_public_key = other_root.public_key();
        let mut wrong = GrantVerifier::new(&other_public_key, deployment);
        wrong.check_together(&grants.iter().collect::<Vec<_>>());
        assert!(wrong.into_verified().is_empty());
    }

    #[test]
    fn invitations_open_only_with_their_code() {
        let invitation = invitation_for_tests();
        let code = new_invitation_code();
        assert_eq!(code.len(), 14);
        let text = seal_invitation(&invitation, &code, KdfParams::INSECURE_FAST_FOR_TESTS).unwrap();
        assert!(!text.contains("token") && !text.contains("Clinic"));
        let opened = open_invitation(&text, &code.to_lowercase().replace('-', " ")).unwrap();
        assert_eq!(opened.invitation_token, "token");
        let wrong = open_invitation(&text, "2222-3333-4444").unwrap_err().to_string();
        assert!(wrong.starts_with("code: the code does not open this invitation"), "{wrong}");
        let cut = open_invitation(&text[..text.len() / 2], &code).unwrap_err().to_string();
        assert!(cut.starts_with("invitation:"), "{cut}");
    }

    /// An attacker who rewrites an invitation's KDF parameters must not make the laptop spend
    /// gigabytes or hours before the code is checked: such an invitation is refused at once.
    #[test]
    fn invitations_asking_for_absurd_kdf_settings_are_refused_as_damaged() {
        let invitation = invitation_for_tests();
        let code = new_invitation_code();
        let text = seal_invitation(&invitation, &code, KdfParams::INSECURE_FAST_FOR_TESTS).unwrap();
        let json = URL_SAFE_NO_PAD.decode(text.strip_prefix(INVITATION_PREFIX).unwrap()).unwrap();
        let forged = |memory_kib: u32, iterations: u32, parallelism: u32| {
            let mut sealed: serde_json::Value = serde_json::from_slice(&json).unwrap();
            sealed["kdf"] = serde_json::json!({
                "memory_kib": memory_kib, "iterations": iterations, "parallelism": parallelism
            });
            format!("{INVITATION_PREFIX}{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&sealed).unwrap()))
        };
        for (memory_kib, iterations, parallelism) in
            [(4 * 1024 * 1024, 3, 4), (u32::MAX, 3, 4), (64 * 1024, 1_000_000, 4), (64 * 1024, 3, 255), (8, 1, 1)]
        {
            let started = std::time::Instant::now();
            let error = open_invitation(&forged(memory_kib, iterations, parallelism), &code).unwrap_err().to_string();
            assert!(error.starts_with("invitation: this invitation is damaged"), "{error}");
            assert!(started.elapsed() < std::time::Duration::from_secs(1), "the refusal must come before any work");
        }
        // The parameters Harbour itself uses still open.
        assert!(open_invitation(&forged(256, 1, 1), &code).is_ok());
    }
}
