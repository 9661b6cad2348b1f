//! Attachments: uploading a file for an order, attaching uploads to a message,
//! downloading what one may see, and deleting the files nobody needs any more.
//!
//! The rules: only someone who may see the order uploads for it; the file's type comes
//! from its bytes and must be on the allowlist; a file past the size limit or the
//! uploader's daily quota is refused and no partial object stays behind. An upload
//! belongs to its uploader until a message of theirs, in the same order, attaches it
//! (once: the message's writer claims it in the message's own transaction). Then
//! whoever may see the order may download it; before that, only the uploader. Uploads
//! no message took are deleted after `ORDERCHAT_ATTACHMENT_UNREFERENCED_SECS`, and a
//! deleted message's files are deleted right after its tombstone is committed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::ChatService;
use crate::attachments::{ContentRules, ObjectStorage, SNIFF_BYTES, Upload, content, names, thumbnail};
use crate::config::AttachmentSettings;
use crate::domain::{Attachment, Identity, OrderId, UserId, timestamp};
use crate::error::{Error, Result};
use crate::store::StoredAttachment;

/// Attachments one message may carry.
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;

/// Larger than any thumbnail we write (320 px JPEGs are a few tens of KB).
const MAX_THUMBNAIL_BYTES: u64 = 1024 * 1024;

/// How long an upload waits for the thumbnail decoder before it does without.
const THUMBNAIL_WAIT: Duration = Duration::from_secs(10);

/// Uploads deleted per statement by the cleanup.
const CLEANUP_BATCH: i64 = 500;

/// The attachment store and its rules; shared by every handler.
pub struct Files {
    storage: ObjectStorage,
    rules: ContentRules,
    max_bytes: u64,
    quota_per_day: u64,
    unreferenced_after: Duration,
    thumbnail_max_source: u64,
    /// Thumbnails decoded at once: decoding a photo takes a core and up to a few hundred
    /// MB (see `thumbnail::MAX_PIXELS`). Held by the decoding itself, which runs to its
    /// end even when the upload's client went away.
    thumbnails: Arc<Semaphore>,
    max_uploads_per_user: usize,
    max_uploads: usize,
    /// Uploads under way on this node, per user: how many and their bytes so far (the
    /// quota counts them before their rows exist).
    in_flight: Mutex<InFlight>,
    /// The last quota check and the row's insert of a user's upload happen under one of
    /// these (picked by the user's id), so two of their uploads finishing together cannot
    /// both fit into the room left for one.
    commits: Vec<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
struct InFlight {
    uploads: usize,
    /// Numbers the uploads in the order they started.
    started: u64,
    /// Per user: each upload under way, by its number, with its bytes so far.
    per_user: HashMap<UserId, BTreeMap<u64, u64>>,
}

impl Files {
    pub fn new(storage: ObjectStorage, settings: &AttachmentSettings) -> Self {
        Self {
            storage,
            rules: ContentRules::new(&settings.attachment_types),
            max_bytes: settings.max_attachment_bytes,
            quota_per_day: settings.attachment_quota_bytes_per_day,
            unreferenced_after: Duration::from_secs(settings.attachment_unreferenced_secs),
            thumbnail_max_source: settings.thumbnail_max_source_bytes,
            thumbnails: Arc::new(Semaphore::new(1)),
            max_uploads_per_user: settings.max_uploads_per_user.max(1),
            max_uploads: settings.max_uploads.max(1),
            in_flight: Mutex::default(),
            commits: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// A place for one more upload of `user` on this node, or `429 too_many_uploads`.
    fn slot(files: &Arc<Files>, user: &UserId) -> Result<UploadSlot> {
        let mut in_flight = files.in_flight();
        let mine = in_flight.per_user.get(user).map_or(0, BTreeMap::len);
        if mine >= files.max_uploads_per_user || in_flight.uploads >= files.max_uploads {
            return Err(Error::TooManyUploads);
        }
        in_flight.uploads += 1;
        in_flight.started += 1;
        let number = in_flight.started;
        in_flight.per_user.entry(user.clone()).or_default().insert(number, 0);
        Ok(UploadSlot {
            files: files.clone(),
            user: user.clone(),
            number,
            bytes: 0,
        })
    }

    /// Whether `slot`'s user, with `stored` bytes stored today, goes over the daily
    /// quota with this upload and those of theirs that started before it (a later one
    /// never pushes an earlier one out).
    fn over_quota(&self, stored: u64, slot: &UploadSlot) -> bool {
        if self.quota_per_day == 0 {
            return false;
        }
        let earlier: u64 = self
            .in_flight()
            .per_user
            .get(&slot.user)
            .map_or(0, |uploads| uploads.range(..slot.number).map(|(_, bytes)| bytes).sum());
        stored.saturating_add(earlier).saturating_add(slot.bytes) > self.quota_per_day
    }

    /// The lock under which `user`'s upload is checked against the quota one last time
    /// and recorded.
    fn commit_lock(&self, user: &UserId) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        user.hash(&mut hasher);
        &self.commits[(hasher.finish() % self.commits.len() as u64) as usize]
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Deletes the objects of `rows` (their rows are already gone); a failure is logged,
    /// never fatal: at worst an object nobody can reach stays.
    async fn delete_objects(&self, rows: &[StoredAttachment]) {
        for row in rows {
            for key in std::iter::once(&row.object_key).chain(row.thumbnail_key.as_ref()) {
                if let Err(err) = self.storage.delete(key).await {
                    tracing::warn!(error = %err, key, "could not delete an attachment object");
                }
            }
        }
    }
}

/// One upload under way: counted against its user's concurrent uploads and, byte by
/// byte, against their quota, until its row is stored or it is refused (dropped).
pub struct UploadSlot {
    files: Arc<Files>,
    user: UserId,
    number: u64,
    bytes: u64,
}

impl UploadSlot {
    fn add(&mut self, bytes: u64) {
        self.bytes += bytes;
        if let Some(entry) = self
            .files
            .in_flight()
            .per_user
            .get_mut(&self.user)
            .and_then(|uploads| uploads.get_mut(&self.number))
        {
            *entry += bytes;
        }
    }

    fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut in_flight = self.files.in_flight();
        in_flight.uploads = in_flight.uploads.saturating_sub(1);
        if let Some(uploads) = in_flight.per_user.get_mut(&self.user) {
            uploads.remove(&self.number);
            if uploads.is_empty() {
                in_flight.per_user.remove(&self.user);
            }
        }
    }
}

/// An upload as the client sends it: the order it is for and the file's name; the
/// bytes come as a stream.
pub struct NewUpload<'a> {
    pub order_id: &'a str,
    pub file_name: &'a str,
}

/// An attachment's bytes to send: the whole file or one range of it.
pub struct Download {
    pub attachment: StoredAttachment,
    pub range: Option<Range<u64>>,
    pub body: BoxStream<'static, std::io::Result<Bytes>>,
}

impl ChatService {
    /// A place for one more upload of `identity` on this node, taken before the upload's
    /// body is read; `429 too_many_uploads` past `ORDERCHAT_MAX_UPLOADS_PER_USER` (or the
    /// node's `ORDERCHAT_MAX_UPLOADS`).
    pub fn reserve_upload(&self, identity: &Identity) -> Result<UploadSlot> {
        Files::slot(&self.files, &identity.user_id)
    }

    /// Stores an upload for an order `identity` may see; answers the attachment to
    /// reference in a message. `body` is read once, as it arrives: never more than a
    /// few parts of it are in memory.
    ///
    /// `slot` (from `reserve_upload`) counts the upload against its user's concurrent
    /// uploads and quota until it is stored or refused.
    pub async fn upload_attachment<S>(
        &self,
        identity: &Identity,
        mut slot: UploadSlot,
        upload: NewUpload<'_>,
        mut body: S,
    ) -> Result<Attachment>
    where
        S: Stream<Item = Result<Bytes>> + Unpin,
    {
        let order_id = OrderId::parse(upload.order_id)?;
        let order = self.visible_order(identity, &order_id).await?;
        self.check_writable(&order)?;
        let used = self.quota_used(identity).await?;
        let file_name = names::sanitize(upload.file_name);

        // The type is decided before anything is stored.
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        let mut rest: Option<Bytes> = None;
        while head.len() < SNIFF_BYTES {
            let Some(mut chunk) = body.next().await.transpose()? else {
                break;
            };
            let wanted = (SNIFF_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk.split_to(wanted));
            if !chunk.is_empty() {
                rest = Some(chunk);
            }
        }
        if head.is_empty() {
            return Err(Error::invalid_field("file", "the file is empty"));
        }
        let content_type = content::sniff(&head, &file_name);
        if !self.files.rules.allows(&content_type) {
            return Err(Error::UnsupportedFileType(content_type));
        }

        let files = &self.files;
        let key = files.storage.new_key();
        let mut object = files.storage.upload(&key).await.map_err(Error::internal)?;
        let read_so_far = futures::stream::iter([Bytes::from(head)].into_iter().chain(rest).map(Ok));
        let mut chunks = read_so_far.chain(body);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            slot.add(chunk.len() as u64);
            // This user's bytes: stored today, plus every upload of theirs under way here.
            let over_size = slot.bytes() > files.max_bytes;
            if over_size || files.over_quota(used, &slot) {
                // Dropping `object` would abort too; waiting here means the parts are
                // gone before the client hears the refusal.
                object.abort().await;
                return Err(if over_size {
                    Error::FileTooLarge { max: files.max_bytes }
                } else {
                    self.quota_exceeded(identity).await
                });
            }
            object.write(chunk).await.map_err(Error::internal)?;
        }

        // Every byte is in: the rest runs to its end even if the client goes away now,
        // so no object is ever left without its row (the row is what the quota counts
        // and the cleanup finds).
        let chat = self.clone();
        let identity = identity.clone();
        let stored = StoredAttachment {
            id: uuid::Uuid::new_v4().simple().to_string(),
            order_id: order_id.as_str().to_owned(),
            uploader_id: identity.user_id.as_str().to_owned(),
            file_name,
            content_type,
            size: slot.bytes() as i64,
            object_key: key,
            thumbnail_key: None,
            message_id: None,
            created_at: String::new(),
        };
        let finishing = tokio::spawn(async move { chat.store_upload(&identity, object, stored, slot).await });
        finishing.await.map_err(Error::internal)?
    }

    /// Completes an upload whose bytes all arrived: the object, the last quota check
    /// (other uploads of the user may have finished meanwhile), the thumbnail, the row.
    async fn store_upload(
        &self,
        identity: &Identity,
        object: Upload,
        mut stored: StoredAttachment,
        slot: UploadSlot,
    ) -> Result<Attachment> {
        let files = &self.files;
        object.finish().await.map_err(Error::internal)?;
        stored.thumbnail_key = self
            .make_thumbnail(&stored.object_key, &stored.content_type, stored.size as u64)
            .await;
        // The last check against what is stored now, and the row, under the user's
        // commit lock: of two uploads finishing together, the second sees the first.
        let committed = async {
            let _commit = files.commit_lock(&identity.user_id).lock().await;
            let used_now = self.quota_used(identity).await?;
            if files.quota_per_day > 0 && used_now.saturating_add(stored.size as u64) > files.quota_per_day {
                return Err(self.quota_exceeded(identity).await);
            }
            stored.created_at = timestamp(chrono::Utc::now());
            self.store.insert_attachment(&stored).await
        };
        if let Err(err) = committed.await {
            files.delete_objects(std::slice::from_ref(&stored)).await;
            return Err(err);
        }
        // Counted by the database from now on.
        drop(slot);
        metrics::counter!("orderchat_attachments_uploaded_total").increment(1);
        metrics::counter!("orderchat_attachment_bytes_uploaded_total").increment(stored.size as u64);
        Ok(attachment_of(&stored))
    }

    /// Bytes `identity` stored in the last 24 hours; refused at once when the quota is
    /// used up.
    async fn quota_used(&self, identity: &Identity) -> Result<u64> {
        if self.files.quota_per_day == 0 {
            return Ok(0);
        }
        let since = timestamp(chrono::Utc::now() - chrono::Duration::days(1));
        let used = self.store.upload_usage(&identity.user_id, &since).await?.bytes.max(0) as u64;
        if used >= self.files.quota_per_day {
            return Err(self.quota_exceeded(identity).await);
        }
        Ok(used)
    }

    /// The refusal of an upload past the daily quota, with when it frees up: a day
    /// after the oldest upload it counts.
    async fn quota_exceeded(&self, identity: &Identity) -> Error {
        let now = chrono::Utc::now();
        let since = timestamp(now - chrono::Duration::days(1));
        let oldest = match self.store.upload_usage(&identity.user_id, &since).await {
            Ok(usage) => usage.oldest_at,
            Err(_) => None,
        };
        let frees_at = oldest
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(&at).ok())
            .map(|at| at.with_timezone(&chrono::Utc) + chrono::Duration::days(1));
        let retry_after = frees_at
            .and_then(|at| (at - now).to_std().ok())
            .unwrap_or(Duration::from_secs(3600));
        Error::UploadQuotaExceeded {
            quota: self.files.quota_per_day,
            retry_after,
        }
    }

    /// Makes and stores the thumbnail of an image upload; `None` for other files, and
    /// when the image cannot be decoded (the upload itself is still fine).
    async fn make_thumbnail(&self, key: &str, content_type: &str, size: u64) -> Option<String> {
        let files = &self.files;
        if !content::has_thumbnail(content_type) || size > files.thumbnail_max_source {
            return None;
        }
        let made = async {
            // Waiting longer than this for the decoder means a busy node: the upload
            // goes on without a thumbnail rather than keep its client waiting.
            let permit = tokio::time::timeout(THUMBNAIL_WAIT, files.thumbnails.clone().acquire_owned())
                .await
                .map_err(|_| anyhow::anyhow!("the thumbnail decoder stayed busy for {THUMBNAIL_WAIT:?}"))??;
            let bytes = files.storage.read_all(key, files.thumbnail_max_source).await?;
            let jpeg = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                thumbnail::make(&bytes)
            })
            .await??;
            let thumb_key = format!("{key}-thumbnail");
            files.storage.put(&thumb_key, Bytes::from(jpeg)).await?;
            anyhow::Ok(thumb_key)
        };
        match made.await {
            Ok(thumb_key) => Some(thumb_key),
            Err(err) => {
                tracing::info!(error = %err, "no thumbnail for an uploaded image");
                None
            }
        }
    }

    /// The uploads `ids` as `identity` attaches them to a new message in `order`: each
    /// must be theirs, for this order, not yet attached; at most
    /// `MAX_ATTACHMENTS_PER_MESSAGE`, none twice. The writer claims them again, in the
    /// message's transaction (one upload, one message, whoever sends first).
    ///
    /// An upload already taken is refused here, unless the message has a `clientId`:
    /// it may be the retry of the message that took it, which the writer answers with
    /// that message (or refuses, if it is not).
    pub(super) async fn attachments_for_message(
        &self,
        identity: &Identity,
        order: &OrderId,
        ids: &[String],
        retry: bool,
    ) -> Result<Vec<Attachment>> {
        if ids.len() > MAX_ATTACHMENTS_PER_MESSAGE {
            return Err(Error::invalid_field(
                "attachments",
                format!("at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments per message"),
            ));
        }
        let mut seen = HashSet::new();
        let mut attachments = Vec::with_capacity(ids.len());
        for id in ids {
            if !seen.insert(id.as_str()) {
                return Err(Error::invalid_field(
                    "attachments",
                    format!("attachment {id} is listed twice"),
                ));
            }
            let stored = match self.store.attachment(id).await? {
                Some(stored)
                    if stored.uploader_id == identity.user_id.as_str() && stored.order_id == order.as_str() =>
                {
                    stored
                }
                // Someone else's upload looks exactly like one that does not exist.
                _ => {
                    return Err(Error::invalid_field(
                        "attachments",
                        format!("no upload {id} of yours for this order"),
                    ));
                }
            };
            if stored.message_id.is_some() && !retry {
                return Err(Error::AttachmentTaken);
            }
            attachments.push(attachment_of(&stored));
        }
        Ok(attachments)
    }

    /// The upload `id` if `identity` may download it: once attached, whoever may see
    /// its order; before, only its uploader. `AttachmentNotFound` otherwise.
    pub async fn visible_attachment(&self, identity: &Identity, id: &str) -> Result<StoredAttachment> {
        let stored = self.store.attachment(id).await?.ok_or(Error::AttachmentNotFound)?;
        match &stored.message_id {
            None if stored.uploader_id == identity.user_id.as_str() => Ok(stored),
            None => Err(Error::AttachmentNotFound),
            Some(_) => {
                let order = OrderId::from_trusted(stored.order_id.clone());
                match self.visible_order(identity, &order).await {
                    Ok(_) => Ok(stored),
                    Err(Error::OrderNotFound) => Err(Error::AttachmentNotFound),
                    Err(other) => Err(other),
                }
            }
        }
    }

    /// The bytes of an attachment `identity` may see: all of it, or `range` (already
    /// checked to lie inside the file).
    pub async fn download_attachment(
        &self,
        identity: &Identity,
        id: &str,
        range: impl FnOnce(u64) -> Result<Option<Range<u64>>>,
    ) -> Result<Download> {
        let attachment = self.visible_attachment(identity, id).await?;
        let range = range(attachment.size.max(0) as u64)?;
        let body = self
            .files
            .storage
            .get(&attachment.object_key, range.clone())
            .await
            .map_err(Error::internal)?;
        Ok(Download {
            attachment,
            range,
            body,
        })
    }

    /// The thumbnail (a small JPEG) of an image attachment `identity` may see.
    pub async fn attachment_thumbnail(&self, identity: &Identity, id: &str) -> Result<Bytes> {
        let attachment = self.visible_attachment(identity, id).await?;
        let Some(key) = &attachment.thumbnail_key else {
            return Err(Error::NoThumbnail);
        };
        let jpeg = self
            .files
            .storage
            .read_all(key, MAX_THUMBNAIL_BYTES)
            .await
            .map_err(Error::internal)?;
        Ok(Bytes::from(jpeg))
    }

    /// Deletes the files of a message that was just turned into a tombstone.
    pub(super) async fn delete_files_of(&self, message_id: &str) {
        match self.store.delete_attachments_of(message_id).await {
            Ok(rows) => self.files.delete_objects(&rows).await,
            Err(err) => tracing::warn!(error = %err, message_id, "could not delete a message's attachments"),
        }
    }

    /// Deletes the uploads no message took within `ORDERCHAT_ATTACHMENT_UNREFERENCED_SECS`,
    /// in batches; returns how many.
    pub async fn delete_unreferenced_uploads(&self) -> Result<usize> {
        let age = chrono::Duration::from_std(self.files.unreferenced_after).unwrap_or(chrono::Duration::days(1));
        let before = timestamp(chrono::Utc::now() - age);
        let mut deleted = 0;
        loop {
            let rows = self
                .store
                .delete_unreferenced_attachments(&before, CLEANUP_BATCH)
                .await?;
            self.files.delete_objects(&rows).await;
            deleted += rows.len();
            if (rows.len() as i64) < CLEANUP_BATCH {
                break;
            }
        }
        if deleted > 0 {
            metrics::counter!("orderchat_attachments_expired_total").increment(deleted as u64);
            tracing::info!(deleted, "deleted uploads that no message attached");
        }
        Ok(deleted)
    }

    /// Runs `delete_unreferenced_uploads` now and then (a tenth of the age, between a
    /// second and ten minutes), until aborted.
    pub fn spawn_upload_cleanup(&self) -> JoinHandle<()> {
        let chat = self.clone();
        let period = (self.files.unreferenced_after / 10).clamp(Duration::from_secs(1), Duration::from_secs(600));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(err) = chat.delete_unreferenced_uploads().await {
                    tracing::warn!(error = %err, "upload cleanup failed; retrying later");
                }
            }
        })
    }
}

/// The attachment as clients see it.
fn attachment_of(stored: &StoredAttachment) -> Attachment {
    Attachment {
        id: stored.id.clone(),
        file_name: stored.file_name.clone(),
        content_type: stored.content_type.clone(),
        size: stored.size,
        url: format!("/api/chat/attachments/{}", stored.id),
        thumbnail_url: stored
            .thumbnail_key
            .as_ref()
            .map(|_| format!("/api/chat/attachments/{}/thumbnail", stored.id)),
    }
}
