package emulator

import (
	"runtime"
	"sync"
)

// writerPool writes what waits for WebSocket connections from a few
// goroutines that walk the connections with something to send, instead of
// waking each connection's own goroutine for every burst. A broadcast to
// 10,000 clients then costs a handful of wake-ups, not 10,000, and each
// worker writes frame after frame the way a bare loop does.
//
// A worker writes to a connection only when doing so cannot block: the
// connection's writer lock is free, nothing but records waits (no close,
// overflow, shutdown or fault), and the socket's send buffer has room for
// what is written (see wsTransport.room). Everything else goes back to the
// connection's own goroutine through its wake-up token, as before, so a
// client that stopped reading is handled where it always was: its
// goroutine's write waits out the write timeout, and the send queue's
// bounds drop it, while the workers go on with the others.
//
// Workers are started when there is work and end when there is none, so an
// Emulator that is never shut down leaves no goroutine behind.
type writerPool struct {
	mu      sync.Mutex
	ready   []*connection // connections with a wake-up token for the pool
	head    int           // ready[head:] is what waits
	running int
	max     int
}

// poolChunk is how many connections a worker takes at a time: enough to
// make the lock rare, few enough that the workers share a burst.
const poolChunk = 64

func newWriterPool() *writerPool {
	return &writerPool{max: max(1, runtime.GOMAXPROCS(0))}
}

// add queues c, which holds its queue's wake-up token, for a worker.
func (p *writerPool) add(c *connection) {
	p.mu.Lock()
	p.ready = append(p.ready, c)
	start := p.running < p.max && p.running*poolChunk < len(p.ready)-p.head
	if start {
		p.running++
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

// addBatch queues every connection of cs, which hold their queues' wake-up
// tokens, and starts as many workers as the batch can keep busy.
func (p *writerPool) addBatch(cs []*connection) {
	if len(cs) == 0 {
		return
	}
	p.mu.Lock()
	p.ready = append(p.ready, cs...)
	waiting := len(p.ready) - p.head
	start := 0
	for p.running < p.max && p.running*poolChunk < waiting {
		p.running++
		start++
	}
	p.mu.Unlock()
	for range start {
		go p.work()
	}
}

// take hands a worker the next connections, or reports false (and counts
// the worker out) when none waits.
func (p *writerPool) take(buf []*connection) ([]*connection, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	waiting := len(p.ready) - p.head
	if waiting == 0 {
		clear(p.ready)
		p.ready, p.head = p.ready[:0], 0
		if cap(p.ready) > 4*poolChunk*p.max && cap(p.ready) > 1024 {
			p.ready = nil // a burst's storage is not kept
		}
		p.running--
		return buf, false
	}
	// Share what waits among the workers, in chunks of at most poolChunk.
	n := min(waiting, poolChunk)
	buf = append(buf[:0], p.ready[p.head:p.head+n]...)
	clear(p.ready[p.head : p.head+n])
	p.head += n
	return buf, true
}

func (p *writerPool) work() {
	var buf []*connection
	for {
		var ok bool
		buf, ok = p.take(buf)
		if !ok {
			return
		}
		for _, c := range buf {
			c.poolWrite()
		}
		clear(buf)
	}
}
