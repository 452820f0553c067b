// Package signalrtest provides helpers for testing code that uses package
// signalr: a recording FakeSender to swap in for the REST client in unit
// tests, and NewEmulator, which starts the local SignalR Service emulator for
// one test, in the manner of net/http/httptest.
//
// The root package signalr never imports this package; only tests do.
package signalrtest
