//! Exporting an order's whole chat as a file, JSON or CSV, for the people who may see
//! the order. The file is produced as it is sent: the messages are read from the store
//! a page at a time with a keyset cursor on `seq` (each page a short read on the
//! `(order_id, seq)` index that gives its connection back at once), and each page is
//! encoded into one chunk of the body. A chat of any length costs one page of memory,
//! and a slow reader holds no database connection.
//!
//! The export covers the messages up to the order's last seq when it starts; messages
//! sent meanwhile belong to the next export. Deleted messages are exported as the
//! tombstones history shows (`deleted: true`, empty text, no attachments), so seqs stay
//! gapless in the file too. Archived messages are included, in the same seq order (the
//! pages read hot and archived messages together).

mod csv;

use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use serde_json::json;

use super::ChatService;
use crate::domain::{Identity, Message, Order, OrderId, Seq, now_timestamp};
use crate::error::{Error, Result};
use crate::shutdown::InFlight;
use crate::store::{HistoryWindow, Store};

/// Messages read and encoded per chunk of the body.
const PAGE: i64 = 500;

/// The file formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON document: `{ orderId, order, exportedAt, messages: [Message …] }`.
    Json,
    /// A header row, then one row per message (RFC 4180, safe to open in a spreadsheet).
    Csv,
}

impl ExportFormat {
    /// The `format` query parameter: `json` (the default) or `csv`, in any case.
    pub fn parse(raw: Option<&str>) -> Result<Self> {
        match raw.map(str::trim) {
            None => Ok(ExportFormat::Json),
            Some(f) if f.eq_ignore_ascii_case("json") => Ok(ExportFormat::Json),
            Some(f) if f.eq_ignore_ascii_case("csv") => Ok(ExportFormat::Csv),
            Some(_) => Err(Error::InvalidQuery("format must be json or csv".into())),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Json => "application/json",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
        }
    }
}

/// An export ready to send: its file name and its body, produced as it is read.
pub struct Export {
    pub format: ExportFormat,
    /// `order-<id>.<ext>`, with every character of the id outside `[A-Za-z0-9._-]`
    /// replaced by `_`, so it is safe inside a quoted header value.
    pub file_name: String,
    /// The file in chunks, one per page of messages. An error ends it early: the
    /// transport must then abort the response, so that a cut file never looks whole.
    pub body: BoxStream<'static, Result<String>>,
}

impl ChatService {
    /// The whole chat of `order_id` as a file, if `identity` may see the order.
    pub async fn export(&self, identity: &Identity, order_id: &OrderId, format: ExportFormat) -> Result<Export> {
        let mut order = self.visible_order(identity, order_id).await?;
        let end = self.committed_last_seq(order_id).await?;
        order.last_seq = end;
        let pages = Pages {
            store: self.store.clone(),
            order_id: order_id.clone(),
            after: 0,
            end,
            format,
            // Shutdown waits for the export to finish (within its grace period) before it
            // closes the database under it.
            _in_flight: self.shutdown.in_flight(),
        };
        let head = stream::once(futures::future::ready(head(format, &order)));
        let tail = stream::once(futures::future::ready(Ok(tail(format).to_owned())));
        let body = head.chain(pages.into_stream()).chain(tail).boxed();
        Ok(Export {
            format,
            file_name: file_name(order_id, format),
            body,
        })
    }
}

/// What comes before the first message.
fn head(format: ExportFormat, order: &Order) -> Result<String> {
    match format {
        ExportFormat::Json => {
            let meta = json!({ "orderId": order.id, "order": order, "exportedAt": now_timestamp() });
            let mut head = serde_json::to_string(&meta).map_err(Error::internal)?;
            // `{…}` becomes `{…,"messages":[`; the pages and the tail complete it.
            head.pop();
            head.push_str(",\"messages\":[");
            Ok(head)
        }
        ExportFormat::Csv => Ok(csv::header()),
    }
}

/// What comes after the last message.
fn tail(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Json => "]}",
        ExportFormat::Csv => "",
    }
}

fn file_name(order_id: &OrderId, format: ExportFormat) -> String {
    let id: String = order_id
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("order-{id}.{}", format.extension())
}

/// The cursor over an order's messages, one page per chunk.
struct Pages {
    store: Arc<dyn Store>,
    order_id: OrderId,
    /// The highest seq already sent.
    after: Seq,
    /// The last seq to send.
    end: Seq,
    format: ExportFormat,
    _in_flight: InFlight,
}

impl Pages {
    fn into_stream(self) -> impl futures::Stream<Item = Result<String>> + Send + 'static {
        stream::try_unfold(self, |mut pages| async move {
            if pages.after >= pages.end {
                return Ok(None);
            }
            let window = HistoryWindow::After {
                seq: pages.after,
                limit: PAGE.min(pages.end - pages.after),
            };
            let messages = pages.store.history_with_archive(&pages.order_id, window).await?.items;
            let Some(last) = messages.last() else {
                // Fewer messages than the order's last seq promised: nothing more to read.
                return Ok(None);
            };
            let first_page = pages.after == 0;
            pages.after = last.seq;
            let chunk = encode(pages.format, &messages, first_page)?;
            Ok(Some((chunk, pages)))
        })
        .inspect(|chunk| {
            if let Err(err) = chunk {
                tracing::warn!(error = %err, "an export stopped before its end");
            }
        })
    }
}

fn encode(format: ExportFormat, messages: &[Message], first_page: bool) -> Result<String> {
    let mut chunk = String::new();
    match format {
        ExportFormat::Json => {
            for (n, message) in messages.iter().enumerate() {
                if n > 0 || !first_page {
                    chunk.push(',');
                }
                chunk.push_str(&serde_json::to_string(message).map_err(Error::internal)?);
            }
        }
        ExportFormat::Csv => {
            for message in messages {
                csv::push_row(&mut chunk, message)?;
            }
        }
    }
    Ok(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_name_their_files_safely() {
        assert_eq!(ExportFormat::parse(None).unwrap(), ExportFormat::Json);
        assert_eq!(ExportFormat::parse(Some("CSV")).unwrap(), ExportFormat::Csv);
        assert_eq!(ExportFormat::parse(Some("xml")).unwrap_err().code(), "invalid_query");
        let id = OrderId::parse("a\"b;c/ä.1").unwrap();
        assert_eq!(file_name(&id, ExportFormat::Csv), "order-a_b_c__.1.csv");
    }
}
