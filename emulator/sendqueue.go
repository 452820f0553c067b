package emulator

import "sync"

// sendQueue holds the records waiting to be written to one client. It is
// bounded both by count and by bytes, and never blocks a sender: the first
// record that does not fit marks the queue overflowed, and the connection
// then drops the client, so one slow client can neither hold up a
// broadcast nor make the emulator's memory grow. It knows nothing of the
// transport, so every transport shares it.
//
// A push is an append under a mutex, cheaper than a channel send of a
// slice; only the push that finds the queue empty signals wake, so a burst
// of records costs the writer one wake-up, and the writer takes everything
// queued at once (takeAll). Its storage grows with what is queued, so an
// idle connection holds none.
type sendQueue struct {
	mu       sync.Mutex
	records  [][]byte
	bytes    int64 // bytes of records
	over     bool  // overflowed: refuses everything
	maxCount int
	maxBytes int64

	// wake holds a token when records may have become non-empty.
	wake chan struct{}

	overflowOnce sync.Once
	overflowed   chan struct{} // closed by the first refused record
	onOverflow   func()        // called once, by the sender that overflowed
}

func newSendQueue(maxCount int, maxBytes int64, onOverflow func()) *sendQueue {
	return &sendQueue{
		maxCount:   maxCount,
		maxBytes:   maxBytes,
		wake:       make(chan struct{}, 1),
		overflowed: make(chan struct{}),
		onOverflow: onOverflow,
	}
}

// push queues record, or reports false and marks the queue overflowed when
// it is full by count or by bytes. After an overflow it refuses everything.
func (q *sendQueue) push(record []byte) bool {
	n := int64(len(record))
	q.mu.Lock()
	if q.over || len(q.records) >= q.maxCount || q.bytes+n > q.maxBytes {
		first := !q.over
		q.over = true
		q.mu.Unlock()
		if first {
			q.overflow()
		}
		return false
	}
	q.records = append(q.records, record)
	q.bytes += n
	first := len(q.records) == 1
	q.mu.Unlock()
	if first {
		select {
		case q.wake <- struct{}{}:
		default: // a token is already waiting
		}
	}
	return true
}

func (q *sendQueue) overflow() {
	q.overflowOnce.Do(func() {
		close(q.overflowed)
		if q.onOverflow != nil {
			q.onOverflow()
		}
	})
}

// takeAll returns every queued record, in order, and empties the queue,
// which continues in spare's storage (spare's contents are dropped, so the
// records it held can be collected).
func (q *sendQueue) takeAll(spare [][]byte) [][]byte {
	clear(spare)
	q.mu.Lock()
	out := q.records
	q.records = spare[:0]
	q.bytes = 0
	q.mu.Unlock()
	return out
}

// size is the number of bytes queued.
func (q *sendQueue) size() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}
