//! End-to-end tests across the Vouch crates live here once there are crates to cross: real nodes,
//! real RocksDB, real sockets (DESIGN §2). The CLI's end-to-end tests are in `wallet/tests/`,
//! where cargo builds the `vouch` binary they drive.
