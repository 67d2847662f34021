//! Integration tests: the real binary, real plugins, real HTTP.
