package benchhub

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/coder/websocket"
	"github.com/funcsignalr/signalr/internal/hubproto"
)

// Hub is the careful hand-written baseline: every connection has a bounded
// queue and a writer goroutine that writes the first queued record together
// with whatever else is queued at that moment, up to MaxFrame bytes. A
// broadcast never blocks: a client whose queue is full is dropped. It
// speaks just enough of the SignalR JSON hub protocol for the benchmark
// readers: it answers the handshake and sends Invocation records.
type Hub struct {
	// QueueSize is each connection's queue length; 0 means 1024, the
	// emulator's default.
	QueueSize int
	// MaxFrame bounds a coalesced frame; 0 means 16 KiB.
	MaxFrame int
	// WriteTimeout bounds each frame's write; 0 means 10 s.
	WriteTimeout time.Duration
	// Key, when set, makes the hub check tokens as the emulator does:
	// every POST and every WebSocket needs "Authorization: Bearer <JWT>"
	// signed HS256 with Key, with an expiry, and an audience that is the
	// request's URL without the query (http://host/path). Without it
	// the hub checks nothing.
	Key []byte

	mu      sync.RWMutex
	clients map[*hubClient]struct{}
	wg      sync.WaitGroup
	closed  bool
}

type hubClient struct {
	ws   *websocket.Conn
	send chan []byte
	gone chan struct{}
	once sync.Once
}

func (c *hubClient) drop() { c.once.Do(func() { close(c.gone) }) }

// Clients is the number of connected clients.
func (h *Hub) Clients() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.clients)
}

// ServeHTTP accepts a WebSocket at any path except POST /broadcast, which
// broadcasts the Invocation {"target":...,"arguments":[...]} in its body.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodPost {
		h.servePost(w, r)
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	// The handshake: one record, answered with {}.
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	_, _, err = ws.Read(ctx)
	if err == nil {
		err = ws.Write(ctx, websocket.MessageText, hubproto.HandshakeResponse(""))
	}
	cancel()
	if err != nil {
		ws.CloseNow()
		return
	}
	c := &hubClient{ws: ws, send: make(chan []byte, cmp(h.QueueSize, 1024)), gone: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		ws.CloseNow()
		return
	}
	if h.clients == nil {
		h.clients = make(map[*hubClient]struct{})
	}
	h.clients[c] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	go func() {
		// Reads (and discards) until the client goes.
		for {
			if _, _, err := ws.Read(context.Background()); err != nil {
				c.drop()
				return
			}
		}
	}()
	h.write(c)
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	ws.CloseNow()
}

// authorized checks r's token when the hub has a Key.
func (h *Hub) authorized(r *http.Request) bool {
	if len(h.Key) == 0 {
		return true
	}
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(),
		jwt.WithAudience("http://"+r.Host+r.URL.Path))
	_, err := parser.Parse(raw, func(*jwt.Token) (any, error) { return h.Key, nil })
	return err == nil
}

func cmp[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// write is the connection's writer: gorilla chat's writePump.
func (h *Hub) write(c *hubClient) {
	maxFrame := cmp(h.MaxFrame, 16<<10)
	timeout := cmp(h.WriteTimeout, 10*time.Second)
	var buf []byte
	flush := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return c.ws.Write(ctx, websocket.MessageText, buf) == nil
	}
	for {
		select {
		case <-c.gone:
			return
		case rec := <-c.send:
			buf = append(buf[:0], rec...)
			for n := len(c.send); n > 0; n-- {
				next := <-c.send
				if len(buf)+len(next) > maxFrame {
					if !flush() {
						c.drop()
						return
					}
					buf = buf[:0]
				}
				buf = append(buf, next...)
			}
			if !flush() {
				c.drop()
				return
			}
		}
	}
}

// Broadcast queues record for every client, dropping those whose queue is
// full.
func (h *Hub) Broadcast(record []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.clients {
		select {
		case c.send <- record:
		default:
			c.drop()
		}
	}
}

func (h *Hub) servePost(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Target    string          `json:"target"`
		Arguments json.RawMessage `json:"arguments"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &msg) != nil || msg.Target == "" {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	if len(msg.Arguments) == 0 {
		msg.Arguments = json.RawMessage("[]")
	}
	record, err := hubproto.JSON.Invocation("", msg.Target, msg.Arguments)
	if err != nil {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	h.Broadcast(record)
	w.WriteHeader(http.StatusAccepted)
}

// Close drops every client and waits for their goroutines.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	for c := range h.clients {
		c.drop()
		c.ws.CloseNow()
	}
	h.mu.Unlock()
	h.wg.Wait()
}
