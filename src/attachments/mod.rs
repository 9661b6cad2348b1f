//! Attachment files: where their bytes live (`storage`), what a file is and whether we
//! take it (`content`), what name it is offered under (`names`) and the small preview
//! of a photo (`thumbnail`). Who may upload, attach and download is decided in
//! `chat/attachments.rs`; this module knows nothing of users or orders.

pub mod content;
pub mod names;
pub mod storage;
pub mod thumbnail;

pub use content::{ContentRules, SNIFF_BYTES};
pub use storage::{ObjectStorage, Upload};
