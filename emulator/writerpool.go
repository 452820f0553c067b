package emulator

import (
	"context"
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
// alone (workers take one connection at a time), and while connections
// wait and every worker has been in one write for stallAfter, a stand-in
// worker is started (a timer watches for it, so it does not depend on
// more work arriving).
//
// Workers are started when there is work and end when there is none, so an
// Emulator that is never shut down leaves no goroutine behind; Shutdown
// waits for them (wait).
type writerPool struct {
	mu      sync.Mutex
	ready   []poolTask // connections whose wake-up token the pool holds
	head    int        // ready[head:] is what waits
	running int
	base    int // workers to run while none is stalled
	// writing holds, per running worker, when it took its current
	// connection (zero between them); a worker's slot is its index.
	writing []time.Time
	free    []int // slots of workers that ended
	// watching is set while a stall timer is armed.
	watching bool
	// stopped is closed when the last running worker ends; nil while
	// none runs.
	stopped chan struct{}
}

// poolTask is what a worker does with a connection (connection.poolWrite).
type poolTask interface{ poolWrite() }

// stallAfter is how long every worker must have been with one connection
// before the pool starts a stand-in; maxStandIns bounds those.
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

// startLocked counts in the workers to start for n more connections, up to
// base, and returns their slots. When none can start, the stall timer is
// armed.
func (p *writerPool) startLocked(n int) []int {
	var slots []int
	for i := 0; i < n && p.running < p.base; i++ {
		slots = append(slots, p.slotLocked())
	}
	if len(slots) == 0 && !p.watching {
		p.watching = true
		time.AfterFunc(stallAfter, p.checkStall)
	}
	return slots
}

// checkStall starts a stand-in worker when connections wait and every
// running worker is stalled, and watches again while connections wait.
func (p *writerPool) checkStall() {
	p.mu.Lock()
	p.watching = false
	if p.head == len(p.ready) {
		p.mu.Unlock()
		return
	}
	slot := -1
	if p.running < p.base+maxStandIns && p.allStalledLocked() {
		slot = p.slotLocked()
	}
	p.watching = true
	time.AfterFunc(stallAfter, p.checkStall)
	p.mu.Unlock()
	if slot >= 0 {
		go p.work(slot)
	}
}

func (p *writerPool) slotLocked() int {
	if p.running == 0 {
		p.stopped = make(chan struct{})
	}
	p.running++
	if n := len(p.free); n > 0 {
		slot := p.free[n-1]
		p.free = p.free[:n-1]
		return slot
	}
	p.writing = append(p.writing, time.Time{})
	return len(p.writing) - 1
}

// allStalledLocked reports whether every running worker has been with one
// connection for stallAfter or longer.
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

// next ends the worker's turn in slot and hands it the next connection,
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
		if p.running == 0 {
			close(p.stopped)
			p.stopped = nil
		}
		return nil, false
	}
	c := p.ready[p.head]
	p.ready[p.head] = nil
	p.head++
	if p.head > 1024 && p.head > len(p.ready)/2 {
		// What was handed out is given back while work keeps coming,
		// so the list holds what waits, not every connection ever added.
		n := copy(p.ready, p.ready[p.head:])
		clear(p.ready[n:])
		p.ready, p.head = p.ready[:n], 0
	}
	p.writing[slot] = time.Now()
	return c, true
}

func (p *writerPool) work(slot int) {
	for n := 1; ; n++ {
		c, ok := p.next(slot)
		if !ok {
			return
		}
		c.poolWrite()
		if n%yieldEvery == 0 {
			// A worker with a long walk ahead lets the REST calls
			// and connections waiting for its core go first, as the
			// scheduler would between connection goroutines: a
			// broadcast's POST is not held behind a 10,000-write walk.
			runtime.Gosched()
		}
	}
}

// yieldEvery is how many connections a worker serves between yields.
const yieldEvery = 16

// wait returns once no worker runs, or ctx's error when it ends first.
// Shutdown calls it once every connection has ended, so no new work comes.
func (p *writerPool) wait(ctx context.Context) error {
	p.mu.Lock()
	stopped := p.stopped
	p.mu.Unlock()
	if stopped == nil {
		return nil
	}
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
