package emulator

import (
	"context"
	"errors"
)

// closeKind says why the emulator ends a transport; each transport maps it
// to its own terms (a WebSocket close status, the end of an event stream).
type closeKind int

const (
	closeNormal    closeKind = iota // the conversation ended: WebSocket 1000
	closeGoingAway                  // the emulator is shutting down: 1001
	closeTooSlow                    // the send queue overflowed: 1008
)

// transport carries frames of hub protocol records between the emulator and
// one client. The connection logic (handshake, queue, pings, timeouts,
// Close messages) is the same for every transport; only this differs. A
// transport is used by two goroutines: one calls readFrame, the other every
// other method except abort, which any goroutine may call.
type transport interface {
	// readFrame returns the next frame the client sent. It returns an
	// error once the transport has ended.
	readFrame() ([]byte, error)
	// writeFrame sends one frame of whole records. It returns when the
	// frame is sent or ctx ends; a write cut short by ctx ends the
	// transport, because a half-written frame cannot be taken back.
	writeFrame(ctx context.Context, frame []byte) error
	// close ends the transport in an orderly way, waiting at most until
	// ctx ends for the client to acknowledge.
	close(ctx context.Context, kind closeKind)
	// abort ends the transport at once. It never blocks.
	abort()

	// supportsBinary reports whether the transport can carry binary frames,
	// which the MessagePack protocol needs.
	supportsBinary() bool
	// useBinary makes every later frame binary. It is called at most
	// once, before the handshake response, on the writing goroutine.
	useBinary()
	// inherentKeepAlive reports whether the transport itself shows that
	// the client is there (Long Polling: it keeps polling), in which case
	// the connection sends no Pings and runs no client timeout, as the
	// clients expect.
	inherentKeepAlive() bool
}

// errMessageTooLarge is returned by readFrame when the client sent a frame
// over the transport's size limit.
var errMessageTooLarge = errors.New("message too large")

// errClientGone is returned by readFrame when a transport without a
// persistent connection decided the client left (it stopped polling).
var errClientGone = errors.New("client stopped polling")
