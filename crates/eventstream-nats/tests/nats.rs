//! Integration tests of the NATS JetStream backend against a real server (`127.0.0.1:4222` or
//! `BRAIN_TEST_NATS_URL`): the conformance suite, one test per clause, backend-specific behaviour
//! (dedup, names), a fault test on a private `nats-server` that is killed and restarted, and a private
//! three-node cluster whose stream leader is killed.
//!
//! Every test uses its own stream names and deletes its streams when it ends (also on panic).

mod suite {
    pub(crate) mod backend;
    pub(crate) mod cluster;
    pub(crate) mod conformance;
    pub(crate) mod fault;
    pub(crate) mod helpers;
}
