//! Integration tests of the Redis backend against a real Redis (`127.0.0.1:6379` or
//! `BRAIN_TEST_REDIS_URL`): the conformance suite, wire compatibility with the original Python producers,
//! retention without silent loss, a fault test on a private `redis-server` that is killed and restarted,
//! and the consumer runtime on Redis: an outage under a steady `emit` load (private server) and two
//! subscriber replicas as separate processes, one of them SIGKILLed.
//!
//! Every test uses its own key prefix and removes its keys when it ends (also on panic).

mod suite {
    pub(crate) mod backend;
    pub(crate) mod conformance;
    pub(crate) mod effects;
    pub(crate) mod fault;
    pub(crate) mod helpers;
    pub(crate) mod kill;
    pub(crate) mod outage;
    pub(crate) mod retention;
    pub(crate) mod server;
    pub(crate) mod undecodable;
    pub(crate) mod wire;
}
