//! The issuer on a real store: see the tests below.
