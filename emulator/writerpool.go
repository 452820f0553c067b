package emulator

import (
	"runtime"
	"sync"
	"time"
)

// writerPool writes what waits for WebSocket connections from a few
// goroutines that walk the connections with something to send, instead of
// waking each connection's own goroutine for every burst. A broadcast to
// 10,000 clients then costs a handful of wake-ups, not 10,000, and each
// worker writes frame after frame the way a bare loop does.
//
// A worker writes to a connection only when doing so cannot block: the
// connection's writer lock is free, its goroutine is idle, nothing but
// records waits (no close, overflow, shutdown or fault), and the socket's
// send buffer has room for what is written (sendRoom). Everything else goes
// back to the connection's own goroutine through its wake-up token, as
// before the pool, so a client that stopped reading is handled where it
// always was: its goroutine's write waits out the write timeout and the
// send queue's bounds drop it, while the workers go on with the others.
//
// Should a write block all the same, its worker holds that connection
// alone (workers take one connection at a time), and a stand-in worker is
// started once every worker has been in one write for stallAfter.
//
// Workers are started when there is work and end when there is none, so an
// Emulator that is never shut down leaves no goroutine behind.
type writerPool struct {
	mu      sync.Mutex
	ready   []poolTask // connections whose wake-up token the pool holds
	head    int        // ready[head:] is what waits
	running int
	base    int // workers to run while none is stalled
	// writing holds, per running worker, when its current write began
	// (zero between writes); a worker's slot is its index.
	writing []time.Time
	free    []int // slots of workers that ended
}

// poolTask is what a worker does with a connection (connection.poolWrite).
type poolTask interface{ poolWrite() }

// stallAfter is how long every worker must have been in one write before
// the pool starts a stand-in; maxStandIns bounds those.
const (
	stallAfter  = 50 * time.Millisecond
	maxStandIns = 16
)

func newWriterPool() *writerPool {
	return &writerPool{base: max(1, runtime.GOMAXPROCS(0))}
}

// add queues c, which holds its queue's wake-up token, for a worker.
func (p *writerPool) add(c poolTask) {
	p.mu.Lock()
	p.ready = append(p.ready, c)
	slots := p.startLocked(1)
	p.mu.Unlock()
	for _, slot := range slots {
		go p.work(slot)
	}
}

// addBatch queues every connection of cs, which hold their queues' wake-up
// tokens, and starts as many workers as the batch can keep busy.
func (p *writerPool) addBatch(cs []*connection) {
	if len(cs) == 0 {
		return
	}
	p.mu.Lock()
	for _, c := range cs {
		p.ready = append(p.ready, c)
	}
	slots := p.startLocked(len(cs))
	p.mu.Unlock()
	for _, slot := range slots {
		go p.work(slot)
	}
}

// startLocked counts in the workers to start for n more connections: up to
// base, or one stand-in when every running worker is stalled. It returns
// their slots.
func (p *writerPool) startLocked(n int) []int {
	var slots []int
	for i := 0; i < n && p.running < p.base; i++ {
		slots = append(slots, p.slotLocked())
	}
	if len(slots) == 0 && p.running < p.base+maxStandIns && p.allStalledLocked() {
		slots = append(slots, p.slotLocked())
	}
	return slots
}

func (p *writerPool) slotLocked() int {
	p.running++
	if n := len(p.free); n > 0 {
		slot := p.free[n-1]
		p.free = p.free[:n-1]
		return slot
	}
	p.writing = append(p.writing, time.Time{})
	return len(p.writing) - 1
}

// allStalledLocked reports whether every running worker has been in one
// write for stallAfter or longer.
func (p *writerPool) allStalledLocked() bool {
	if p.running == 0 {
		return false
	}
	stalled := 0
	now := time.Now()
	for _, since := range p.writing {
		if !since.IsZero() && now.Sub(since) >= stallAfter {
			stalled++
		}
	}
	return stalled >= p.running
}

// next ends the worker's write in slot and hands it the next connection,
// or reports false, counting the worker out, when none waits.
func (p *writerPool) next(slot int) (poolTask, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head == len(p.ready) {
		clear(p.ready)
		p.ready, p.head = p.ready[:0], 0
		if cap(p.ready) > 4096 {
			p.ready = nil // a burst's storage is not kept
		}
		p.running--
		p.writing[slot] = time.Time{}
		p.free = append(p.free, slot)
		return nil, false
	}
	c := p.ready[p.head]
	p.ready[p.head] = nil
	p.head++
	p.writing[slot] = time.Now()
	return c, true
}

func (p *writerPool) work(slot int) {
	for {
		c, ok := p.next(slot)
		if !ok {
			return
		}
		c.poolWrite()
	}
}
