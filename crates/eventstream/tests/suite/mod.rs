pub mod crash;
pub mod helpers;
mod outbox;
mod replay;
mod retry;
