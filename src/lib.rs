//! ssec-manager: keeps S3 SSE-C customer keys in the OS keyring, remembers which key
//! encrypts which object, and moves objects with SSE-C. The window (`ui`) and the command
//! line (`cli`) are two faces of one `core`.

pub mod cli;
pub mod core;
pub mod ui;
