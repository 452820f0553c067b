package emulator

import (
	"sync"
	"sync/atomic"
)

// sendQueue holds what waits to be written to one client: the records sent
// to it alone (to its user, its groups, itself, filtered sends, pings of
// upstream answers) and its place in the hub's broadcast log. Together they
// are bounded by count and by bytes, and never block a sender: the first
// record that does not fit marks the queue overflowed, and the connection
// then drops the client, so one slow client can neither hold up a broadcast
// nor make the emulator's memory grow. It knows nothing of the transport,
// so every transport shares it.
//
// A push is an append under a mutex; a broadcast is one append to the log
// and a notify per connection (two atomic loads and, when the writer is
// idle, a wake-up). Only the push that finds the queue empty wakes the
// writer, so a burst of records costs the writer one wake-up, and the
// writer takes everything queued at once (take). Each queued record
// remembers the log's end when it was queued, so the writer interleaves the
// two in the order they were sent. Its storage grows with what is queued,
// so an idle connection holds none.
type sendQueue struct {
	// What every broadcast reads comes first, together, so that telling
	// a connection costs it one or two cache lines.
	over    atomic.Bool  // overflowed: refuses everything
	woken   atomic.Bool  // a wake-up token is waiting for the writer
	count   atomic.Int64 // len(records); changed under mu
	bytes   atomic.Int64 // bytes of records; changed under mu
	sentSeq atomic.Int64 // the log's end when the writer last took: records
	sentPos atomic.Int64 // ... and bytes; the broadcasts after it count toward the bounds
	// held is the bytes written and not yet acknowledged by a stateful
	// reconnect client (its replay buffer); they count toward maxBytes.
	held     atomic.Int64
	maxCount int64
	maxBytes int64
	// wake holds a token when there may be something to write.
	wake chan struct{}
	// pooled is set while the writer pool takes the wake-up tokens
	// (writerpool.go): a signal then hands the connection to toPool
	// instead of waking its goroutine.
	pooled atomic.Bool
	toPool func()

	mu      sync.Mutex
	records []queued
	// log is the hub's broadcast log in the connection's protocol, nil
	// until the connection joins its hub (attach).
	log *broadcastLog
	// cursor is what the writer has read of the log; only the writer
	// uses it.
	cursor logCursor

	overflowOnce sync.Once
	overflowed   chan struct{} // closed by the first refused record
	onOverflow   func()        // called once, by the sender that overflowed
}

// queued is a record sent to one connection, with the broadcast log's end
// at the time: the broadcasts before that mark go out before the record.
type queued struct {
	record []byte
	at     *logMark
}

func newSendQueue(maxCount int, maxBytes int64, onOverflow func()) *sendQueue {
	return &sendQueue{
		maxCount:   int64(maxCount),
		maxBytes:   maxBytes,
		wake:       make(chan struct{}, 1),
		overflowed: make(chan struct{}),
		onOverflow: onOverflow,
	}
}

// attach makes the queue follow log from its current end: the broadcasts
// appended from now on are the connection's. It is called once, when the
// connection joins its hub, before any broadcast can reach it.
func (q *sendQueue) attach(log *broadcastLog) {
	m := log.end()
	q.mu.Lock()
	q.log = log
	q.setSent(m)
	q.cursor = cursorAt(m)
	q.mu.Unlock()
}

// setSent records m as the log's end when the writer took. The position
// is stored before the count and read after it, so a reader that sees the
// new count sees the new position too.
func (q *sendQueue) setSent(m *logMark) {
	q.sentPos.Store(m.pos)
	q.sentSeq.Store(m.seq)
}

// lag is how many broadcasts, and bytes of them, come after what the
// writer last took, up to m.
func (q *sendQueue) lag(m *logMark) (count, bytes int64) {
	if m == nil {
		return 0, 0
	}
	seq := q.sentSeq.Load()
	return m.seq - seq, m.pos - q.sentPos.Load()
}

// push queues record, or reports false and marks the queue overflowed when
// it is full by count or by bytes. After an overflow it refuses everything.
func (q *sendQueue) push(record []byte) bool {
	n := int64(len(record))
	q.mu.Lock()
	at := q.log.end()
	lagCount, lagBytes := q.lag(at)
	if q.over.Load() || q.count.Load()+1+lagCount > q.maxCount || q.bytes.Load()+n+lagBytes+q.held.Load() > q.maxBytes {
		q.mu.Unlock()
		q.overflow()
		return false
	}
	q.records = append(q.records, queued{record, at})
	q.bytes.Add(n)
	first := q.count.Add(1) == 1
	q.mu.Unlock()
	if first {
		q.signal()
	}
	return true
}

// notify tells the queue that the broadcast log now ends at m. It reports
// false, and marks the queue overflowed, when what waits for the client
// would exceed the bounds.
func (q *sendQueue) notify(m *logMark) bool {
	if !q.fits(m) {
		return false
	}
	q.signal()
	return true
}

// fits reports whether what waits for the client, with the broadcast log
// ending at m, is within the bounds; past them it marks the queue
// overflowed.
func (q *sendQueue) fits(m *logMark) bool {
	if q.over.Load() {
		return false
	}
	lagCount, lagBytes := q.lag(m)
	if q.count.Load()+lagCount > q.maxCount || q.bytes.Load()+lagBytes+q.held.Load() > q.maxBytes {
		q.overflow()
		return false
	}
	return true
}

// notifyPooled is notify for a broadcast that hands the connections to the
// writer pool in one batch: it reports true when the caller must add the
// connection to the pool (the queue's token is then the pool's).
func (q *sendQueue) notifyPooled(m *logMark) (toPool bool) {
	if !q.fits(m) {
		return false
	}
	if q.woken.Load() || !q.woken.CompareAndSwap(false, true) {
		return false
	}
	if q.pooled.Load() {
		return true
	}
	q.wakeWriter()
	return false
}

// signal leaves a wake-up token unless one is already waiting. The flag
// spares the channel (a cache line of its own) while a token waits, which
// is most of the time under a burst of broadcasts.
func (q *sendQueue) signal() {
	if q.woken.Load() || !q.woken.CompareAndSwap(false, true) {
		return
	}
	if q.pooled.Load() {
		q.toPool()
		return
	}
	q.wakeWriter()
}

// wakeWriter hands the token to the connection's goroutine.
func (q *sendQueue) wakeWriter() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// awoken is called by the writer when it has received the token, before it
// takes what waits: a signal from then on leaves a new token.
func (q *sendQueue) awoken() { q.woken.Store(false) }

func (q *sendQueue) overflow() {
	q.overflowOnce.Do(func() {
		q.over.Store(true)
		close(q.overflowed)
		if q.onOverflow != nil {
			q.onOverflow()
		}
		q.signal() // the writer drops the client
	})
}

// pending is about how many bytes wait for the writer: the records
// queued and the broadcasts after what it last took. It is an estimate for
// the writer pool, read without the lock.
func (q *sendQueue) pending() int64 {
	n := q.bytes.Load()
	if q.log != nil {
		n += q.log.end().pos - q.sentPos.Load()
	}
	return n
}

// take returns every queued record, in order, and the broadcast log's end
// (nil before attach): the writer sends the broadcasts up to each record's
// mark, the record, and at last the broadcasts up to the end. The queue
// continues in spare's storage (spare's contents are dropped, so the
// records it held can be collected).
func (q *sendQueue) take(spare []queued) ([]queued, *logMark) {
	clear(spare)
	// The end is read under the lock pushes read it under, so every record
	// taken has its mark at or before the end, and a broadcast appended
	// after a record was queued stays after it.
	q.mu.Lock()
	end := q.log.end()
	out := q.records
	q.records = spare[:0]
	q.bytes.Store(0)
	q.count.Store(0)
	if end != nil {
		q.setSent(end)
	}
	q.mu.Unlock()
	return out, end
}
