// Package benchhub holds what the fan-out benchmarks compare the emulator
// with, and the harness that drives them:
//
//   - Bare: a bare coder/websocket server whose per-connection goroutines
//     write a fixed number of records, k records per frame;
//   - Hub: a careful hand-written hub, the gorilla chat pattern on
//     coder/websocket: a bounded queue per connection, a writer goroutine
//     that drains what is already queued into frames of at most 16 KiB
//     (never waiting for more), slow clients dropped;
//   - Readers: a benchreader process (internal/cmd/benchreader) holding the
//     client connections, so that reading runs outside the process under
//     test;
//   - Summary: the median and spread of per-round ratios.
//
// It is test support, not part of the library.
package benchhub
