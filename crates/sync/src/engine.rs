//! The sync engine: push this laptop's pending events, ask the server to grant shared cases,
//! pull the team's feed page by page, and apply the pages (a few together) with the cursor after
//! them in one transaction.
//!
//! Resumable by construction: events are marked sent only after the server acknowledged them
//! (a kill in between re-sends at most that batch, which the server recognises as already
//! stored), and the cursor is saved in the transaction that applies its pages.
//!
//! The workspace is locked only for the local steps, never across a network call, so the
//! desktop app stays responsive while a sync runs.

use std::sync::Mutex;
use std::time::Duration;

use harbour_core::Workspace;
use harbour_core::store::ServiceDirectoryReceived;
use harbour_wire::SealedEvent;
use serde::Serialize;

use crate::client::{Client, ClientError};
use crate::failure::Notice;

/// Events per push.
pub const PUSH_BATCH: usize = 500;
/// Sealed bytes per push, at most (a single larger event goes alone): a batch must reach the
/// server within its request timeout (30 s) even over a slow link — 128 KiB takes 16 s at
/// 64 kbit/s. Audit batches are large, and a laptop back from weeks offline has many.
pub const PUSH_BATCH_BYTES: usize = 128 * 1024;
/// Events per pull page.
pub const PULL_PAGE: u32 = 1000;
/// Pull pages applied together, in one transaction with the cursor after the last of them:
/// a long catch-up commits a quarter as often (each commit writes the database pages and the
/// search index's segment it changed: 6 % of the applying thread's time saved). It holds the
/// workspace for ~0.1 s at a time; a shorter pull applies what it has.
pub const PULL_PAGES_TOGETHER: usize = 4;
/// A push refused with `Retry-After` up to this long is waited out and sent again within the
/// same sync; a longer wait ends the sync (the background loop then waits that long).
pub const MAX_INLINE_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Where a sync is, for a progress bar or a terminal line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub phase: Phase,
    pub pushed: u64,
    pub pulled: u64,
    /// Bytes of event JSON sent and received (before compression on the wire).
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Events still waiting to be sent.
    pub waiting: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Starting,
    Pushing,
    Sharing,
    Pulling,
    Done,
}

/// What one complete sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncSummary {
    pub pushed: u64,
    pub pulled: u64,
    /// Pulled events that were new to this laptop.
    pub stored: u64,
    pub cases_updated: u64,
    pub keys_received: u64,
    pub waiting_for_key: u64,
    pub refused: u64,
    pub clock_clamped: u64,
    pub shares_granted: u64,
    /// Referrals to this laptop's team that the pull brought: their receipts were recorded and
    /// sent.
    pub referrals_received: u64,
    pub directory_updated: bool,
    /// A newer service directory, signed by the root key, was taken from the server.
    pub service_directory_updated: bool,
    /// This administrator's laptop published its newer service directory.
    pub service_directory_published: bool,
    /// The server offered a service directory that was refused (not signed by the root key,
    /// or older than the one held): this laptop kept its own.
    pub service_directory_refused: bool,
    /// Another administrator published first while this one's laptop had edits of its own: the
    /// server's directory was taken and this laptop's edits re-applied on top (then published).
    pub service_directory_rebased: bool,
    /// How many services both administrators changed: kept as published, to check in Settings.
    pub service_directory_to_check: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    // Transparent: a "{0}" message with the inner error as its source would be printed twice
    // by anything that prints an error's chain (the CLI's `{error:#}`).
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Core(#[from] harbour_core::Error),
    /// A change of this laptop is too large for any server to accept: it is never sent, and
    /// nothing after it either, until it is dealt with.
    #[error(
        "A change to case {case} is too large to send ({bytes} bytes sealed, the most is {max}): Harbour cannot sync it. Tell your administrator; changes made after it wait too."
    )]
    ChangeTooLarge { case: String, event_id: uuid::Uuid, bytes: usize, max: usize },
    #[error(
        "This laptop does not belong to a deployment yet: join one with `harbour enroll`, or create it with `harbour deployment create`."
    )]
    NotEnrolled,
    /// The administrator ordered this laptop wiped (the order verified against the deployment's
    /// root key): its key file and database are gone.
    #[error(
        "Your administrator ordered this laptop wiped, and Harbour has destroyed its data on it. If this is a mistake, ask your administrator for a new invitation."
    )]
    Wiped {
        /// The laptop's signed report reached the server (if not, it waits in the data folder).
        report_delivered: bool,
    },
    /// A page being fetched in the background was lost (the runtime stopped); nothing was applied.
    #[error("The sync stopped before it finished. Nothing was lost: it will be tried again.")]
    Interrupted,
}

impl SyncError {
    /// Worth retrying later unchanged.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Client(error) => error.is_transient(),
            SyncError::Interrupted => true,
            SyncError::Core(_)
            | SyncError::NotEnrolled
            | SyncError::ChangeTooLarge { .. }
            | SyncError::Wiped { .. } => false,
        }
    }

    /// How long the server asked to wait before the next try, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Client(error) => error.retry_after(),
            _ => None,
        }
    }
}

/// A client for this workspace's server, authenticated as this device.
pub fn client_for(workspace: &Workspace) -> Result<Client, SyncError> {
    let membership = workspace.membership().ok_or(SyncError::NotEnrolled)?;
    Ok(Client::new(&membership.server_url)?.with_token(&membership.device_token))
}

/// A laptop joins a deployment with an invitation and the one-time code given apart from it.
/// Everything local is checked before the invitation is spent on the server (no workspace in
/// `dir` yet, a long enough passphrase, the invitation opens with the code); then the server
/// redeems it and the workspace is made. Returns the workspace, a client for its server, and
/// the name of the team joined. The first sync is the caller's.
pub async fn enroll(
    dir: &std::path::Path,
    invitation: &str,
    code: &str,
    passphrase: &str,
    options: &harbour_core::CreateOptions,
) -> Result<(Workspace, Client, String), SyncError> {
    if Workspace::exists(dir) {
        return Err(harbour_core::Error::WorkspaceExists(dir.to_owned()).into());
    }
    let minimum = harbour_core::store::MIN_PASSPHRASE_CHARS;
    if passphrase.chars().count() < minimum {
        return Err(harbour_core::Error::invalid(
            "passphrase",
            format!("use at least {minimum} characters; a few unrelated words are easy to remember"),
        )
        .into());
    }
    let invitation = harbour_core::deployment::open_invitation(invitation.trim(), code.trim())?;
    let enrolment = Workspace::prepare_enrolment(&invitation, &options.worker)?;
    let redeemer = Client::new(&invitation.server_url)?.with_token(&invitation.invitation_token);
    let redeemed = redeemer.redeem_invitation(enrolment.device_id.0, &enrolment.identity.certificate).await?;
    let workspace = Workspace::join(dir, passphrase, options, &invitation, enrolment, &redeemed.device_token)?;
    let client = redeemer.with_token(&redeemed.device_token);
    Ok((workspace, client, invitation.team_name.clone()))
}

/// One complete sync. `on_progress` is called after every batch, and after every
/// [`PULL_PAGES_TOGETHER`] pages applied.
pub async fn sync_once(
    workspace: &Mutex<Workspace>,
    client: &Client,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<SyncSummary, SyncError> {
    sync_applying(workspace, client, on_progress, PULL_PAGES_TOGETHER).await
}

/// [`sync_once`], applying `pages_together` pull pages a transaction (at least one) instead of
/// [`PULL_PAGES_TOGETHER`]: for the server-kill test, whose feed is sized for a kill after every
/// few pages (one a transaction), and whose long run would take four times as long otherwise.
pub async fn sync_applying(
    workspace: &Mutex<Workspace>,
    client: &Client,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
    pages_together: usize,
) -> Result<SyncSummary, SyncError> {
    let pages_together = pages_together.max(1);
    let mut summary = SyncSummary::default();
    let mut progress = Progress { waiting: with(workspace, |ws| ws.pending_count())?, ..Progress::default() };
    on_progress(&progress);

    // An administrator's wipe order comes before anything else (a revoked laptop may still
    // fetch it). The server only relays it: an order that does not verify against the root key
    // this laptop pinned is refused and counted, and the sync goes on.
    match client.wipe_order().await {
        Ok(Some(signed)) => match with(workspace, |ws| Ok(ws.check_wipe_order(&signed)))? {
            Ok(order) => return Err(carry_out_wipe(workspace, client, &order, &mut progress, on_progress).await),
            Err(_) => summary.refused += 1,
        },
        Ok(None) => {}
        // A server from before remote wipe.
        Err(ClientError::Rejected { status: 404, .. }) => {}
        Err(error) => return Err(error.into()),
    }

    // A newer directory first: new teams' keys are needed to open their grants.
    let server_version = match client.directory().await {
        Ok(signed) => {
            summary.directory_updated = with(workspace, |ws| ws.accept_directory(&signed))?;
            signed.unverified_directory().map_or(0, |directory| directory.version)
        }
        Err(ClientError::Rejected { status: 404, .. }) => 0,
        Err(error) => return Err(error.into()),
    };
    // An administrator's laptop lists in the directory the laptops certified since its last
    // sync (each certificate checked against the root key here): their grants then name them
    // instead of carrying a certificate.
    let admin = with(workspace, |ws| Ok(ws.membership().is_some_and(|membership| membership.root_key.is_some())))?;
    if admin {
        let devices = client.devices().await?;
        with(workspace, |ws| ws.list_certified_devices(&devices))?;
    }
    // An administrator's newer directory (a team made offline, laptops listed) is published now.
    let local = with(workspace, |ws| Ok(ws.directory()?.map_or(0, |directory| directory.version)))?;
    if admin && local > server_version {
        let signed = with(workspace, |ws| ws.signed_directory())?;
        client.publish_directory(&signed).await?;
    }

    // The service directory (where referrals go), after the team directory and by the same rules.
    service_directory(workspace, client, &mut summary).await?;

    // A laptop whose certificate the server has not seen yet (the administrator's first laptop,
    // or one made before certificates) gives it once: the server lists it with the laptop.
    if let Some(certificate) = with(workspace, |ws| ws.certificate_to_send())? {
        match client.upload_certificate(&certificate).await {
            Ok(()) | Err(ClientError::Rejected { status: 409, .. }) => {
                with(workspace, |ws| ws.mark_certificate_sent())?;
            }
            Err(error) => return Err(error.into()),
        }
    }

    // What this laptop's audit log recorded goes too, sealed to the ministry (a batch at most
    // every quarter of an hour).
    with(workspace, |ws| ws.seal_audit(false))?;

    push_all(workspace, client, &mut summary, &mut progress, on_progress).await?;

    progress.phase = Phase::Sharing;
    for (case_id, team_id) in with(workspace, |ws| ws.pending_shares())? {
        client.grant(case_id.0, team_id).await?;
        with(workspace, |ws| ws.mark_share_granted(case_id, team_id))?;
        summary.shares_granted += 1;
    }

    progress.phase = Phase::Pulling;
    // The cases into which this pull brings referrals: looked at below, for those to this team.
    let mut referral_cases = std::collections::BTreeSet::new();
    // The next pages are asked for while these are applied: on a multi-threaded runtime the
    // server's work and the transfer overlap the local decryption and writing.
    // Their grant signatures are checked there too, before they are applied.
    let signatures = with(workspace, |ws| ws.pulled_signatures())?.map(std::sync::Arc::new);
    let start = |after| Prefetch::start(client, after, pages_together, signatures.clone());
    let mut next = Some(start(with(workspace, |ws| ws.sync_cursor())?));
    while let Some(fetch) = next.take() {
        let Fetched { page, bytes, failed, verified } = fetch.pages().await?;
        if failed.is_none() && page.more && !page.events.is_empty() {
            next = Some(start(page.next_cursor));
        }
        // The pages that arrived are applied even when a later one failed: what was pulled
        // stays pulled.
        let report = with(workspace, |ws| ws.apply_pulled_checked(&page.events, page.next_cursor, verified))?;
        summary.pulled += report.received as u64;
        referral_cases.extend(report.referral_cases);
        summary.stored += report.stored as u64;
        summary.cases_updated += report.cases_updated as u64;
        summary.keys_received += report.keys_received as u64;
        summary.waiting_for_key = report.waiting_for_key as u64;
        summary.refused += report.refused as u64;
        summary.clock_clamped += report.clock_clamped as u64;
        summary.bytes_down += bytes;
        progress.pulled = summary.pulled;
        progress.bytes_down = summary.bytes_down;
        on_progress(&progress);
        if let Some(error) = failed {
            // The referrals that did arrive are answered all the same (sent at the next push).
            with(workspace, |ws| ws.record_referral_receipts(&referral_cases))?;
            return Err(error.into());
        }
    }

    // Referrals to this laptop's team that the pull brought: it says it has them, at once, so
    // that the laptop that made them shows them delivered at its next sync.
    summary.referrals_received = with(workspace, |ws| ws.record_referral_receipts(&referral_cases))? as u64;
    if summary.referrals_received > 0 {
        push_all(workspace, client, &mut summary, &mut progress, on_progress).await?;
    }

    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    with(workspace, |ws| ws.set_last_sync_ms(now_ms))?;
    progress.phase = Phase::Done;
    on_progress(&progress);
    Ok(summary)
}

/// Takes the server's service directory if it verifies against the root key this laptop pinned
/// and is newer than the one held (a forged or older one is refused, audited, and noted in the
/// summary); an administrator's laptop then publishes its own if it is newer than the server's.
async fn service_directory(
    workspace: &Mutex<Workspace>,
    client: &Client,
    summary: &mut SyncSummary,
) -> Result<(), SyncError> {
    // Without a deployment there is no root key to check a directory against.
    if !with(workspace, |ws| Ok(ws.membership().is_some()))? {
        return Ok(());
    }
    let offered = match client.service_directory().await {
        Ok(offered) => offered,
        // A server from before service directories were relayed: nothing to take or publish.
        Err(ClientError::Rejected { status: 404, .. }) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    // Only a verified version counts: a forged one claiming a high number stops nothing.
    let mut server_version = 0;
    if let Some(signed) = offered {
        match with(workspace, |ws| ws.accept_service_directory(&signed))? {
            ServiceDirectoryReceived::Taken { version } => {
                summary.service_directory_updated = true;
                server_version = version;
            }
            ServiceDirectoryReceived::NotNewer { offered } => server_version = offered,
            ServiceDirectoryReceived::Rebased { taken, to_check, .. } => {
                summary.service_directory_updated = true;
                summary.service_directory_rebased = true;
                summary.service_directory_to_check = to_check.len() as u64;
                server_version = taken;
            }
            ServiceDirectoryReceived::Refused { .. } => summary.service_directory_refused = true,
        }
    }
    if let Some(signed) = with(workspace, |ws| ws.service_directory_to_publish(server_version))? {
        match client.publish_service_directory(&signed).await {
            Ok(_) => {
                summary.service_directory_published = true;
                with(workspace, |ws| ws.service_directory_acknowledged(&signed))?;
            }
            // The server holds this version or a newer one (another administrator's laptop
            // published first, or a forged one it was made to keep): not published now; the next
            // sync takes the server's verified one and re-applies this laptop's edits on top.
            Err(ClientError::Rejected { status: 409, .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// Sends every waiting event, batch by batch, each marked sent once acknowledged.
async fn push_all(
    workspace: &Mutex<Workspace>,
    client: &Client,
    summary: &mut SyncSummary,
    progress: &mut Progress,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<(), SyncError> {
    progress.phase = Phase::Pushing;
    // Counted once, then counted down by what each batch delivers: counting every waiting
    // event again after each batch cost batches × backlog (three quarters of the push's time
    // with 225,000 events waiting).
    progress.waiting = with(workspace, |ws| ws.pending_count())?;
    loop {
        let mut batch: Vec<SealedEvent> = with(workspace, |ws| ws.pending_events(PUSH_BATCH))?;
        if batch.is_empty() {
            return Ok(());
        }
        batch.truncate(within_bytes(&batch, PUSH_BATCH_BYTES));
        // More in this batch than the count says: changes were made while the sync ran.
        if batch.len() as u64 > progress.waiting {
            progress.waiting = with(workspace, |ws| ws.pending_count())?;
        }
        let bytes = serde_json::to_vec(&batch).map_or(0, |json| json.len() as u64);
        let answer = push_waiting_if_asked(workspace, client, &batch).await?;
        let acknowledged: Vec<uuid::Uuid> = answer.events.iter().map(|event| event.id).collect();
        with(workspace, |ws| ws.mark_sent(&acknowledged))?;
        summary.pushed += acknowledged.len() as u64;
        summary.bytes_up += bytes;
        progress.pushed = summary.pushed;
        progress.bytes_up = summary.bytes_up;
        progress.waiting = progress.waiting.saturating_sub(acknowledged.len() as u64);
        on_progress(progress);
    }
}

/// How many of `events`, from the first, fit in `max_bytes` of ciphertext; at least one.
fn within_bytes(events: &[SealedEvent], max_bytes: usize) -> usize {
    let mut total = 0usize;
    for (taken, event) in events.iter().enumerate() {
        total = total.saturating_add(event.ciphertext.len());
        if total > max_bytes {
            return taken.max(1);
        }
    }
    events.len()
}

/// Tries to deliver a wiped laptop's report this many times before leaving it in the folder.
const WIPE_REPORT_TRIES: u32 = 3;

/// Obeys a verified wipe order: sends what waits first if the order says so (a failure there
/// stops before anything is destroyed, so the next contact tries again), destroys the data,
/// then delivers the signed report, or leaves it in the data folder to deliver later.
/// Returns what ends the sync: [`SyncError::Wiped`], or the error that stopped it before
/// anything was destroyed.
async fn carry_out_wipe(
    workspace: &Mutex<Workspace>,
    client: &Client,
    order: &harbour_wire::wipe::WipeOrder,
    progress: &mut Progress,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> SyncError {
    match wipe_and_report(workspace, client, order, progress, on_progress).await {
        Ok(report_delivered) => SyncError::Wiped { report_delivered },
        Err(error) => error,
    }
}

async fn wipe_and_report(
    workspace: &Mutex<Workspace>,
    client: &Client,
    order: &harbour_wire::wipe::WipeOrder,
    progress: &mut Progress,
    on_progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<bool, SyncError> {
    let mut summary = SyncSummary::default();
    if order.send_first {
        with(workspace, |ws| ws.seal_audit(true))?;
        push_all(workspace, client, &mut summary, progress, on_progress).await?;
    }
    let (report, dir) = with(workspace, |ws| Ok((ws.wipe(order, summary.pushed)?, ws.dir().to_owned())))?;
    let mut delivered = false;
    for attempt in 0..WIPE_REPORT_TRIES {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
        }
        match client.report_wipe(&report).await {
            Ok(()) => {
                delivered = true;
                break;
            }
            Err(error) if error.is_transient() => continue,
            Err(_) => break,
        }
    }
    if !delivered {
        let unsent = harbour_core::store::wipe::UnsentReport { server_url: client.base_url().to_owned(), report };
        harbour_core::store::wipe::keep_unsent_report(&dir, &unsent)?;
    }
    Ok(delivered)
}

/// Delivers the report a wipe left in `dir`, if there is one. Returns whether there was one and
/// it reached the server (then the file is removed).
pub async fn deliver_unsent_wipe_report(dir: &std::path::Path) -> Result<bool, SyncError> {
    let Some(unsent) = harbour_core::store::wipe::unsent_report(dir) else {
        return Ok(false);
    };
    Client::new(&unsent.server_url)?.report_wipe(&unsent.report).await?;
    harbour_core::store::wipe::forget_unsent_report(dir)?;
    Ok(true)
}

/// Push one batch; a refusal for sending too fast with a short `Retry-After` is waited out
/// and the batch sent again. An event too large for any server ends the sync, naming its case.
async fn push_waiting_if_asked(
    workspace: &Mutex<Workspace>,
    client: &Client,
    batch: &[SealedEvent],
) -> Result<harbour_wire::protocol::PushResponse, SyncError> {
    loop {
        match client.push(batch).await {
            Ok(answer) => return Ok(answer),
            Err(ClientError::EventTooLarge { event_id, case_id, bytes }) => {
                let case = with(workspace, |ws| {
                    let cases = ws.list_cases(&harbour_core::store::CaseQuery::default())?;
                    Ok(cases.into_iter().find(|case| case.id.0 == case_id).map(|case| case.code.to_string()))
                })?
                .unwrap_or_else(|| case_id.to_string());
                return Err(SyncError::ChangeTooLarge {
                    case,
                    event_id,
                    bytes,
                    max: crate::client::MAX_SEALED_EVENT_BYTES,
                });
            }
            Err(ClientError::TooManyRequests { retry_after, .. }) if retry_after <= MAX_INLINE_RETRY_AFTER => {
                tokio::time::sleep(retry_after).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// Pull pages being fetched on the runtime while the previous ones are applied: up to
/// `pages_together` ([`PULL_PAGES_TOGETHER`]), one after the other, as one page (their events in feed order, the
/// cursor after the last). Dropped unused (a page failed to apply), the requests are cancelled;
/// the cursor was not moved, so the next sync asks for the same pages again.
struct Prefetch(tokio::task::JoinHandle<Result<Fetched, SyncError>>);

/// What a [`Prefetch`] brought: the pages fetched, their bytes, and the error that stopped it
/// after the first page, if one did.
struct Fetched {
    page: harbour_wire::protocol::PullResponse,
    bytes: u64,
    failed: Option<ClientError>,
    /// The pages' grant signatures that verified.
    verified: harbour_core::deployment::VerifiedSignatures,
}

impl Prefetch {
    fn start(
        client: &Client,
        after: u64,
        pages_together: usize,
        signatures: Option<std::sync::Arc<harbour_core::store::PulledSignatures>>,
    ) -> Prefetch {
        let client = client.clone();
        Prefetch(tokio::spawn(async move {
            let (mut page, mut bytes) = client.pull_counted(after, Some(PULL_PAGE)).await?;
            let mut failed = None;
            for _ in 1..pages_together {
                if !page.more || page.events.is_empty() {
                    break;
                }
                match client.pull_counted(page.next_cursor, Some(PULL_PAGE)).await {
                    Ok((next, next_bytes)) => {
                        page.events.extend(next.events);
                        page.next_cursor = next.next_cursor;
                        page.more = next.more;
                        bytes += next_bytes;
                    }
                    Err(error) => {
                        failed = Some(error);
                        break;
                    }
                }
            }
            let Some(signatures) = signatures else {
                return Ok(Fetched { page, bytes, failed, verified: Default::default() });
            };
            // Checking signatures is CPU work: off the runtime's workers.
            let (page, verified) = tokio::task::spawn_blocking(move || {
                let verified = signatures.check(&page.events);
                (page, verified)
            })
            .await
            .map_err(|_| SyncError::Interrupted)?;
            Ok::<_, SyncError>(Fetched { page, bytes, failed, verified })
        }))
    }

    async fn pages(mut self) -> Result<Fetched, SyncError> {
        match (&mut self.0).await {
            Ok(answer) => Ok(answer?),
            // The task panicked or the runtime is shutting down: nothing was applied.
            Err(_) => Err(SyncError::Interrupted),
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs a local step with the workspace locked.
pub(crate) fn with<T>(
    workspace: &Mutex<Workspace>,
    step: impl FnOnce(&mut Workspace) -> harbour_core::Result<T>,
) -> Result<T, SyncError> {
    // A panic while the lock was held leaves no half-written state (every step is one
    // transaction), so a poisoned lock is safe to take over.
    let mut guard = workspace.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(step(&mut guard)?)
}

/// Exponential backoff with full jitter: the n-th retry waits a random time up to
/// min(max, base × 2ⁿ), so that laptops coming back online together do not all retry at once.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max, attempt: 0 }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The ceiling of the next wait (before jitter).
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let mut bytes = [0u8; 8];
        harbour_core::crypto::fill_random(&mut bytes);
        let fraction = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
        ceiling.mul_f64(fraction).max(Duration::from_millis(100).min(ceiling))
    }
}

/// What the background loop tells the interface. `waiting` counts changes as a person made
/// them (`Workspace::pending_changes`); `Progress::waiting` counts events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncStatus {
    /// The server cannot be reached: working offline is normal.
    Offline {
        waiting: u64,
        retry_in_ms: u64,
    },
    Syncing {
        progress: Progress,
    },
    /// Everything was sent and received.
    Synced {
        at_ms: u64,
        waiting: u64,
        /// What the person should know about this sync, as codes the interface translates.
        notices: Vec<Notice>,
    },
    /// The administrator ordered this laptop wiped and its data is gone: the loop has stopped.
    Wiped,
    /// The sync failed for a reason a person must act on (a revoked laptop, a refused event).
    Failed {
        message: String,
        /// Why, as a code the interface translates (it never shows `message`).
        reason: crate::failure::Failure,
        retry_in_ms: u64,
    },
}

/// Settings of the background loop.
#[derive(Clone, Debug)]
pub struct LoopSettings {
    /// Between two syncs when all is well.
    pub interval: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for LoopSettings {
    fn default() -> LoopSettings {
        LoopSettings {
            interval: Duration::from_secs(60),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
        }
    }
}

/// Syncs in the background until `stop` turns true: probes the server (health), syncs, waits
/// `interval`, and on failure waits with [`Backoff`]. `wake` asks for a sync now (after a local
/// change, or the person pressed "Sync now").
pub async fn background_loop(
    workspace: std::sync::Arc<Mutex<Workspace>>,
    client: Client,
    settings: LoopSettings,
    wake: std::sync::Arc<tokio::sync::Notify>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    on_status: impl Fn(SyncStatus) + Send + Sync,
) {
    let mut backoff = Backoff::new(settings.backoff_base, settings.backoff_max);
    loop {
        if *stop.borrow() {
            return;
        }
        let wait = match client.health().await {
            Err(_) => {
                let delay = backoff.next_delay();
                let waiting = with(&workspace, |ws| ws.pending_changes()).unwrap_or(0);
                on_status(SyncStatus::Offline { waiting, retry_in_ms: delay.as_millis() as u64 });
                delay
            }
            Ok(_) => {
                let mut report = |progress: &Progress| on_status(SyncStatus::Syncing { progress: progress.clone() });
                match sync_once(&workspace, &client, &mut report).await {
                    Ok(summary) => {
                        backoff.reset();
                        let (at_ms, waiting) =
                            with(&workspace, |ws| Ok((ws.last_sync_ms()?, ws.pending_changes()?))).unwrap_or((None, 0));
                        let notices = Notice::of(&summary);
                        on_status(SyncStatus::Synced { at_ms: at_ms.unwrap_or(0), waiting, notices });
                        settings.interval
                    }
                    Err(SyncError::Wiped { .. }) => {
                        on_status(SyncStatus::Wiped);
                        return;
                    }
                    Err(error) => {
                        // The server's Retry-After, when it gave one, is the least we wait.
                        let delay = backoff.next_delay().max(error.retry_after().unwrap_or_default());
                        let waiting = with(&workspace, |ws| ws.pending_changes()).unwrap_or(0);
                        on_status(if error.is_transient() {
                            SyncStatus::Offline { waiting, retry_in_ms: delay.as_millis() as u64 }
                        } else {
                            SyncStatus::Failed {
                                message: error.to_string(),
                                reason: (&error).into(),
                                retry_in_ms: delay.as_millis() as u64,
                            }
                        });
                        delay
                    }
                }
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(bytes: usize) -> SealedEvent {
        SealedEvent {
            format: harbour_wire::SEALED_FORMAT,
            id: uuid::Uuid::now_v7(),
            case_id: uuid::Uuid::now_v7(),
            kind: "note.added".into(),
            device_id: uuid::Uuid::now_v7(),
            device_seq: 1,
            hlc: harbour_wire::Hlc::default(),
            key_id: uuid::Uuid::now_v7(),
            nonce: vec![0; 12],
            ciphertext: vec![0; bytes],
        }
    }

    #[test]
    fn a_push_batch_is_bounded_in_bytes_but_never_empty() {
        let small: Vec<_> = (0..10).map(|_| sealed(100)).collect();
        assert_eq!(within_bytes(&small, PUSH_BATCH_BYTES), 10);
        let large: Vec<_> = (0..10).map(|_| sealed(50 * 1024)).collect();
        assert_eq!(within_bytes(&large, PUSH_BATCH_BYTES), 2, "two of 50 KiB fit in 128 KiB, not three");
        let huge = vec![sealed(PUSH_BATCH_BYTES + 1), sealed(10)];
        assert_eq!(within_bytes(&huge, PUSH_BATCH_BYTES), 1, "an event larger than the bound goes alone");
        assert_eq!(within_bytes(&[], PUSH_BATCH_BYTES), 0);
    }

    #[test]
    fn backoff_grows_to_its_ceiling_with_jitter_below_it() {
        let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(60));
        let mut ceilings = Vec::new();
        for _ in 0..10 {
            let ceiling = backoff.ceiling();
            let delay = backoff.next_delay();
            assert!(delay <= ceiling);
            ceilings.push(ceiling.as_secs());
        }
        assert_eq!(ceilings, vec![2, 4, 8, 16, 32, 60, 60, 60, 60, 60]);
        backoff.reset();
        assert_eq!(backoff.ceiling(), Duration::from_secs(2));
    }
}
