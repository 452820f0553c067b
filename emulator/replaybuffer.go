package emulator

import (
	"bytes"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

// replayBuffer holds what a stateful reconnect connection wrote and the
// client has not acknowledged yet, to write again after a reconnect. Every
// trackable message the emulator sends gets the next sequence id (from 1,
// never reset), implicitly: the ids are counted, not written. Pieces are
// kept as written (a queued record, or a run of the broadcast log), shared
// and not copied; a piece holds one or more whole messages.
//
// Only the connection's writer uses it.
type replayBuffer struct {
	pieces []replayPiece // oldest first, from head on
	head   int
	bytes  int64  // bytes of the pieces held
	next   uint64 // the id of the next trackable message written
}

// replayPiece is the messages first..last (inclusive) as written.
type replayPiece struct {
	data        []byte
	first, last uint64
}

func newReplayBuffer() replayBuffer { return replayBuffer{next: 1} }

// add keeps p, which holds n trackable messages, and numbers them.
func (b *replayBuffer) add(p []byte, n int) {
	if n <= 0 {
		return
	}
	b.pieces = append(b.pieces, replayPiece{data: p, first: b.next, last: b.next + uint64(n) - 1})
	b.next += uint64(n)
	b.bytes += int64(len(p))
}

// ack drops the pieces whose messages all have ids up to id and returns
// the bytes freed. A piece only partly acknowledged stays whole: the
// client drops the duplicates a replay of it brings.
func (b *replayBuffer) ack(id uint64) (freed int64) {
	for b.head < len(b.pieces) && b.pieces[b.head].last <= id {
		freed += int64(len(b.pieces[b.head].data))
		b.pieces[b.head] = replayPiece{}
		b.head++
	}
	b.bytes -= freed
	switch {
	case b.head == len(b.pieces):
		b.pieces, b.head = b.pieces[:0], 0
		if cap(b.pieces) > 256 {
			b.pieces = nil // a burst's storage is not kept
		}
	case b.head > 64 && b.head*2 > len(b.pieces):
		n := copy(b.pieces, b.pieces[b.head:])
		clear(b.pieces[n:])
		b.pieces, b.head = b.pieces[:n], 0
	}
	return freed
}

// resumeFrom is the id of the first message a replay writes: the oldest
// one held, or the next one when nothing is held. It is what the emulator's
// Sequence message says after a reconnect.
func (b *replayBuffer) resumeFrom() uint64 {
	if b.head < len(b.pieces) {
		return b.pieces[b.head].first
	}
	return b.next
}

// held returns the pieces to write again, oldest first.
func (b *replayBuffer) held() []replayPiece { return b.pieces[b.head:] }

// countMessages is how many messages p, whole framed messages of proto,
// holds: JSON records end with the record separator, MessagePack ones
// start with their length.
func countMessages(proto hubproto.Protocol, p []byte) int {
	if proto != hubproto.MessagePack {
		return bytes.Count(p, []byte{hubproto.RecordSeparator})
	}
	n := 0
	for len(p) > 0 {
		size, shift, i := 0, 0, 0
		for ; i < len(p) && i < 5; i++ {
			size |= int(p[i]&0x7f) << shift
			shift += 7
			if p[i] < 0x80 {
				break
			}
		}
		if i >= len(p) || size > len(p)-i-1 {
			return n + 1 // not reached: the emulator writes whole messages
		}
		p = p[i+1+size:]
		n++
	}
	return n
}

// trackableOnly returns framed, whole messages of proto, without those that
// stateful reconnect does not number (Ping, Close, Ack, Sequence and
// anything unreadable): an upstream's answer is relayed as the app framed
// it, and the client numbers only the trackable ones.
func trackableOnly(proto hubproto.Protocol, framed []byte) []byte {
	records, err := proto.NewReader(len(framed)).Split(framed)
	if err != nil {
		return nil
	}
	// Rebuilt from the whole messages: an unfinished tail, which the
	// reader keeps for a next frame that never comes, is dropped too.
	var out []byte
	for _, r := range records {
		if m, err := proto.Parse(r); err == nil && m.Type.Trackable() {
			out = proto.Frame(out, r)
		}
	}
	return out
}
