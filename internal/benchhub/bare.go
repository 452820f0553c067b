package benchhub

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/funcsignalr/signalr/internal/hubproto"
)

// Bare is the bare coder/websocket baseline: it accepts connections, answers
// the handshake, and on Run writes the same records to every connection
// from one goroutine per connection, k records per frame, with no queue,
// no deadline and no coalescing logic.
type Bare struct {
	mu    sync.Mutex
	conns []*websocket.Conn
}

// ServeHTTP accepts a WebSocket and answers its handshake.
func (s *Bare) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	if _, _, err := ws.Read(ctx); err != nil {
		ws.CloseNow()
		return
	}
	if err := ws.Write(ctx, websocket.MessageText, hubproto.HandshakeResponse("")); err != nil {
		ws.CloseNow()
		return
	}
	s.mu.Lock()
	s.conns = append(s.conns, ws)
	s.mu.Unlock()
	// Reads go on (discarding) so that a close completes.
	ws.CloseRead(context.Background())
}

// Clients is the number of accepted connections.
func (s *Bare) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Run writes n copies of record to every connection, k to a frame (the
// last frame holds the remainder), and returns when every write returned.
func (s *Bare) Run(record []byte, n, k int) {
	k = max(k, 1)
	frame := bytes.Repeat(record, k)
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, ws := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left := n; left > 0; left -= k {
				if ws.Write(context.Background(), websocket.MessageText, nextFrame(frame, record, left, k)) != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// nextFrame is the frame to write with left records to go: frame, k
// records, or the remainder at the end.
func nextFrame(frame, record []byte, left, k int) []byte {
	if left < k {
		return frame[:left*len(record)]
	}
	return frame
}

// RunInLockstep is Run with the frames of all connections in lockstep:
// every connection writes its frame j, then all wait until every one has,
// before frame j+1. A fan-out server writes that way when broadcasts arrive
// one at a time (each wake-up writes what is there to every connection in
// turn); it is a diagnostic, not a baseline the emulator is held to.
func (s *Bare) RunInLockstep(record []byte, n, k int) {
	k = max(k, 1)
	frame := bytes.Repeat(record, k)
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	for left := n; left > 0; left -= k {
		f := nextFrame(frame, record, left, k)
		var wg sync.WaitGroup
		for _, ws := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = ws.Write(context.Background(), websocket.MessageText, f)
			}()
		}
		wg.Wait()
	}
}

// Close closes every connection.
func (s *Bare) Close() {
	s.mu.Lock()
	for _, ws := range s.conns {
		ws.CloseNow()
	}
	s.conns = nil
	s.mu.Unlock()
}
