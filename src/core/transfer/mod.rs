//! Moving objects with SSE-C: uploads (single or multipart, parallel, resumable) and
//! downloads (single stream or parallel ranges), both reporting progress and honouring
//! cancellation through a `TransferCtx`.
//!
//! Two rules hold everywhere:
//! - the registry row naming the key is written `pending` before the first byte is sent,
//!   and becomes `stored` only when the server confirmed the object;
//! - a download is written to a temp file beside the target and renamed over it only when
//!   complete and checked, so a failure never leaves a partial file or touches an existing one.

mod counting;
pub mod download;
pub mod plan;
pub mod progress;
pub mod upload;

pub use download::{DownloadReport, download};
pub use plan::{Placement, PlannedUpload, plan_drop, plan_upload};
pub use progress::{Progress, ProgressSnapshot, TransferCtx, TransferOptions};
pub use upload::{abort_interrupted, resume, upload};
