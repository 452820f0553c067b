package emulator

import (
	"bufio"
	"encoding/json"
	"time"
)

// recordBuffer is how many events the record may fall behind the feed
// before it misses some; a miss is written as a line of kind "dropped".
const recordBuffer = 1 << 16

// EventDropped is the kind of a record line that counts events the record
// missed (in Dropped) because its writer did not keep up.
const EventDropped EventKind = "dropped"

// recorder writes the feed to Options.Record as JSON Lines.
type recorder struct {
	sub  *subscriber
	done chan struct{}
}

// startRecord subscribes the record, when Options.Record is set.
func (e *Emulator) startRecord() {
	if e.opts.record == nil {
		return
	}
	rec := &recorder{sub: e.bus.subscribe(nil, recordBuffer), done: make(chan struct{})}
	e.record = rec
	go func() {
		defer close(rec.done)
		w := bufio.NewWriter(e.opts.record)
		enc := json.NewEncoder(w)
		flush := time.NewTicker(200 * time.Millisecond)
		defer flush.Stop()
		for {
			select {
			case ev, ok := <-rec.sub.ch:
				if !ok {
					_ = w.Flush()
					return
				}
				if ev.Dropped > 0 {
					_ = enc.Encode(Event{Seq: ev.Seq, Time: ev.Time, Kind: EventDropped, Dropped: ev.Dropped})
					ev.Dropped = 0
				}
				_ = enc.Encode(ev)
			case <-flush.C:
				_ = w.Flush()
			}
		}
	}()
}

// waitRecord ends the record's subscription and waits until every event it
// holds is written and flushed.
func (e *Emulator) waitRecord() {
	if e.record == nil {
		return
	}
	e.bus.unsubscribe(e.record.sub)
	<-e.record.done
}
