// Package signalrtest provides helpers for testing code that uses package
// signalr: a recording FakeSender to swap in for the REST client in unit
// tests; UpstreamRequests, which builds the signed upstream requests the
// service sends a trigger endpoint (connected, disconnected, invocations in
// JSON or MessagePack), with ReadCompletion to read the answer back; and
// NewEmulator, which starts the local SignalR Service emulator for one
// test, in the manner of net/http/httptest.
//
// The root package signalr never imports this package; only tests do.
package signalrtest
