package emulator

import (
	"sync"
	"sync/atomic"
)

// sendQueue holds the records waiting to be written to one client. It is
// bounded both by count and by bytes, and never blocks a sender: the first
// record that does not fit marks the queue overflowed, and the connection
// then drops the client, so one slow client can neither hold up a
// broadcast nor make the emulator's memory grow. It knows nothing of the
// transport, so every transport shares it.
type sendQueue struct {
	records  chan []byte
	bytes    atomic.Int64 // bytes of the records in records
	maxBytes int64

	overflowOnce sync.Once
	overflowed   chan struct{} // closed by the first refused record
	onOverflow   func()        // called once, by the sender that overflowed
}

func newSendQueue(maxCount int, maxBytes int64, onOverflow func()) *sendQueue {
	return &sendQueue{
		records:    make(chan []byte, maxCount),
		maxBytes:   maxBytes,
		overflowed: make(chan struct{}),
		onOverflow: onOverflow,
	}
}

// push queues record, or reports false and marks the queue overflowed when
// it is full by count or by bytes. After an overflow it refuses everything.
func (q *sendQueue) push(record []byte) bool {
	select {
	case <-q.overflowed:
		return false
	default:
	}
	n := int64(len(record))
	if q.bytes.Add(n) > q.maxBytes {
		q.bytes.Add(-n)
		q.overflow()
		return false
	}
	select {
	case q.records <- record:
		return true
	default:
		q.bytes.Add(-n)
		q.overflow()
		return false
	}
}

func (q *sendQueue) overflow() {
	q.overflowOnce.Do(func() {
		close(q.overflowed)
		if q.onOverflow != nil {
			q.onOverflow()
		}
	})
}

// taken accounts for a record received from q.records.
func (q *sendQueue) taken(record []byte) { q.bytes.Add(-int64(len(record))) }

// tryPop returns the next record without waiting.
func (q *sendQueue) tryPop() ([]byte, bool) {
	select {
	case r := <-q.records:
		q.taken(r)
		return r, true
	default:
		return nil, false
	}
}

// len is the number of records queued.
func (q *sendQueue) len() int { return len(q.records) }
