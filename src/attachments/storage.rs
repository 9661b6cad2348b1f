//! Where attachment bytes live: a local directory or an S3-compatible bucket, both
//! through `object_store`, chosen by `ORDERCHAT_ATTACHMENTS_URL`. Objects are written
//! as multipart uploads in fixed parts, so an upload never holds more than a couple of
//! parts in memory whatever the file's size, and an upload that is refused or cut off
//! half-way is aborted: no partial object is left behind.

use std::ops::Range;
use std::sync::Arc;

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

/// Bytes per part of a multipart upload: S3's minimum part size on S3, less on a local
/// directory (no minimum there, and a stalled upload holds its part in memory). At
/// most `PARTS_IN_FLIGHT` parts are buffered or sent at once.
const S3_PART_BYTES: usize = 5 * 1024 * 1024;
const LOCAL_PART_BYTES: usize = 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 2;

/// The attachment object store; cheap to clone.
#[derive(Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    /// The key prefix inside the store (`s3://bucket/prefix`); empty for a directory.
    prefix: Path,
    /// What the log says about where files go (no credentials).
    description: String,
    part_bytes: usize,
}

impl ObjectStorage {
    /// The store `url` names: `file:///absolute/dir` (created if missing) or
    /// `s3://bucket[/prefix]` with the usual AWS variables (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, and for S3-compatible servers
    /// `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP`; path-style requests unless
    /// `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`). Anything else stops the start.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if let Some(dir) = url.strip_prefix("file://") {
            if dir.is_empty() || !dir.starts_with('/') {
                bail!(
                    "ORDERCHAT_ATTACHMENTS_URL: a file:// URL needs an absolute directory (file:///var/lib/orderchat/attachments), got {url}"
                );
            }
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create the attachment directory {dir}"))?;
            // fsync: an upload is answered only once its file is on disk, like a message.
            let store = LocalFileSystem::new_with_prefix(dir)
                .with_context(|| format!("cannot open the attachment directory {dir}"))?
                .with_fsync(true)
                .with_automatic_cleanup(true);
            return Ok(Self {
                store: Arc::new(store),
                prefix: Path::default(),
                description: format!("directory {dir}"),
                part_bytes: LOCAL_PART_BYTES,
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                bail!("ORDERCHAT_ATTACHMENTS_URL: an s3:// URL needs a bucket (s3://bucket/prefix), got {url}");
            }
            // reqwest (object_store's client) takes the process's rustls provider.
            crate::tls::install_crypto_provider();
            let store = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .with_context(|| format!("ORDERCHAT_ATTACHMENTS_URL: cannot use {url}"))?;
            return Ok(Self {
                store: Arc::new(store),
                prefix: Path::from(prefix.trim_matches('/')),
                description: format!("S3 bucket {bucket}, prefix {prefix:?}"),
                part_bytes: S3_PART_BYTES,
            });
        }
        bail!("ORDERCHAT_ATTACHMENTS_URL must be file:///DIR or s3://BUCKET/PREFIX, got {url}")
    }

    /// Checks at start that the store answers (a wrong bucket, endpoint or credentials
    /// stop the start instead of failing every upload).
    pub async fn check(&self) -> anyhow::Result<()> {
        let mut listing = self.store.list(Some(&self.prefix));
        match listing.next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(err)) => {
                let hint = match std::env::var("AWS_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT")) {
                    Ok(endpoint) if endpoint.starts_with("http://") && std::env::var("AWS_ALLOW_HTTP").is_err() => {
                        " (an http:// endpoint also needs AWS_ALLOW_HTTP=true)"
                    }
                    _ => "",
                };
                Err(anyhow::anyhow!(err)).context(format!(
                    "the attachment store ({}) does not answer{hint}",
                    self.description
                ))
            }
        }
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// A new random key under the prefix (never derived from anything a client sent).
    pub fn new_key(&self) -> String {
        let random = uuid::Uuid::new_v4().simple().to_string();
        // Two levels of fan-out keep directories (and S3 listings) small.
        let key = format!("{}/{}/{random}", &random[..2], &random[2..4]);
        match self.prefix.as_ref() {
            "" => key,
            prefix => format!("{prefix}/{key}"),
        }
    }

    /// Starts writing object `key`; nothing is visible under the key until `finish`.
    pub async fn upload(&self, key: &str) -> anyhow::Result<Upload> {
        let multipart = self.store.put_multipart(&Path::from(key)).await?;
        Ok(Upload {
            writer: Some(WriteMultipart::new_with_chunk_size(multipart, self.part_bytes)),
        })
    }

    /// Writes a small object in one request (thumbnails).
    pub async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.store.put(&Path::from(key), PutPayload::from(bytes)).await?;
        Ok(())
    }

    /// The bytes of object `key` (all of it, or `range`), as a stream.
    pub async fn get(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> anyhow::Result<BoxStream<'static, std::io::Result<Bytes>>> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self.store.get_opts(&Path::from(key), options).await?;
        Ok(result.into_stream().map_err(std::io::Error::other).boxed())
    }

    /// The whole of a small object, refused past `max` bytes.
    pub async fn read_all(&self, key: &str, max: u64) -> anyhow::Result<Vec<u8>> {
        let mut stream = self.get(key, None).await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk: Bytes = chunk?;
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max {
                bail!("object {key} is larger than {max} bytes");
            }
        }
        Ok(bytes)
    }

    /// Deletes object `key`; one already gone is fine.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }
}

/// An object being written. Dropped before `finish` (a refused or cut-off upload, a
/// client that went away), it aborts: the parts written so far are removed.
pub struct Upload {
    writer: Option<WriteMultipart>,
}

impl Upload {
    /// Appends `bytes`; waits while `PARTS_IN_FLIGHT` parts are still being written,
    /// so a fast client cannot make the server buffer the file.
    pub async fn write(&mut self, bytes: Bytes) -> anyhow::Result<()> {
        let Some(writer) = self.writer.as_mut() else {
            bail!("upload already finished");
        };
        writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        writer.put(bytes);
        Ok(())
    }

    /// Completes the object; it is visible under its key once this returns.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        let Some(writer) = self.writer.take() else {
            bail!("upload already finished");
        };
        writer.finish().await?;
        Ok(())
    }

    /// Aborts now and waits for the parts to be removed.
    pub async fn abort(mut self) {
        if let Some(writer) = self.writer.take()
            && let Err(err) = writer.abort().await
        {
            tracing::warn!(error = %err, "could not abort an attachment upload");
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(err) = writer.abort().await {
                    tracing::warn!(error = %err, "could not abort an interrupted attachment upload");
                }
            });
        }
    }
}
