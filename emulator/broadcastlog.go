package emulator

import (
	"sync"
	"sync/atomic"
)

// logChunkBytes is the size of a broadcast log chunk. A frame written
// straight from the log holds at most one chunk's records, so a chunk is as
// large as a coalesced frame may be.
const logChunkBytes = maxBatchBytes

// broadcastLog holds a hub's broadcasts in one protocol. A broadcast is
// encoded once and appended once, whatever the number of connections; each
// connection keeps its own place in the log (a logCursor) and writes the
// records it has not sent yet straight out of the log's chunks, so a
// broadcast costs a connection a wake-up, not a copy.
//
// The log is a list of chunks linked from old to new. Nothing holds the
// oldest chunks but the cursors still reading them, so a chunk every
// connection has passed is garbage; how far behind a connection may fall is
// bounded by its send queue's limits (see sendQueue.notify).
type broadcastLog struct {
	mu   sync.Mutex // serializes appends
	tail atomic.Pointer[logMark]
}

// logChunk is a fixed-size piece of the log. Bytes below a published mark
// never change, so writers read them without a lock while the appender
// fills the bytes after them.
type logChunk struct {
	data  []byte // never resliced after the chunk is made
	start int64  // log position of data[0]
	next  atomic.Pointer[logChunk]
}

// logMark is an immutable position in a log: after seq records, pos bytes,
// off bytes into chunk.
type logMark struct {
	chunk *logChunk
	off   int
	pos   int64
	seq   int64
}

func newBroadcastLog() *broadcastLog {
	l := &broadcastLog{}
	l.tail.Store(&logMark{chunk: &logChunk{}})
	return l
}

// end returns the log's current end; nil for a nil log.
func (l *broadcastLog) end() *logMark {
	if l == nil {
		return nil
	}
	return l.tail.Load()
}

// append adds record at the end of the log and returns the new end.
func (l *broadcastLog) append(record []byte) *logMark {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tail.Load()
	c, off := t.chunk, t.off
	if off+len(record) > len(c.data) {
		next := &logChunk{data: make([]byte, max(logChunkBytes, len(record))), start: t.pos}
		c.next.Store(next)
		c, off = next, 0
	}
	copy(c.data[off:], record)
	m := &logMark{chunk: c, off: off + len(record), pos: t.pos + int64(len(record)), seq: t.seq + 1}
	l.tail.Store(m)
	return m
}

// logCursor is one connection's place in a log: what it has been handed
// so far. Only the connection's writer uses it.
type logCursor struct {
	chunk *logChunk
	off   int
	pos   int64
}

func cursorAt(m *logMark) logCursor {
	return logCursor{chunk: m.chunk, off: m.off, pos: m.pos}
}

// next returns the next contiguous run of records before m and moves past
// it, or nil once the cursor has reached m. A run never spans chunks; the
// slice is capped, so appending to it cannot touch the log.
func (cur *logCursor) next(m *logMark) []byte {
	for m != nil && cur.pos < m.pos {
		c := cur.chunk
		end := m.off
		if c != m.chunk {
			// A chunk before m's is complete: it ends where the next
			// one starts.
			nc := c.next.Load()
			end = int(nc.start - c.start)
			if cur.off == end {
				cur.chunk, cur.off = nc, 0
				continue
			}
		}
		run := c.data[cur.off:end:end]
		cur.off = end
		cur.pos += int64(len(run))
		return run
	}
	return nil
}
