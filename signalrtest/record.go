package signalrtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/funcsignalr/signalr/emulator"
)

// maxRecordLine bounds one line of a traffic record.
const maxRecordLine = 1 << 20

// Record is a traffic record: the emulator's feed events, in the order
// they were published (see emulator.Options.Record and the CLI's -record).
type Record struct {
	Events []emulator.Event
}

// ReadRecord decodes a record of JSON Lines. A line that is not an Event
// is an error naming its line number.
func ReadRecord(r io.Reader) (*Record, error) {
	rec := &Record{}
	lines := bufio.NewScanner(r)
	lines.Buffer(make([]byte, 0, 64<<10), maxRecordLine)
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimSpace(lines.Text())
		if line == "" {
			continue
		}
		var ev emulator.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			return nil, fmt.Errorf("signalrtest: record line %d is not an event: %w", n, err)
		}
		rec.Events = append(rec.Events, ev)
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("signalrtest: reading the record: %w", err)
	}
	return rec, nil
}

// LoadRecord reads the record file at path, failing t if it cannot.
func LoadRecord(t testing.TB, path string) *Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("signalrtest: %v", err)
	}
	defer f.Close()
	rec, err := ReadRecord(f)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// Match is an event pattern: every field set must equal the event's
// (Hub without case). Zero fields match anything.
type Match struct {
	Kind                          emulator.EventKind
	Hub, Connection, User, Group  string
	Target, Route, Method, Reason string
	Status                        int
}

// Matches reports whether ev fits m.
func (m Match) Matches(ev emulator.Event) bool {
	return (m.Kind == "" || m.Kind == ev.Kind) &&
		(m.Hub == "" || strings.EqualFold(m.Hub, ev.Hub)) &&
		(m.Connection == "" || m.Connection == ev.Connection) &&
		(m.User == "" || m.User == ev.User) &&
		(m.Group == "" || m.Group == ev.Group) &&
		(m.Target == "" || m.Target == ev.Target) &&
		(m.Route == "" || m.Route == ev.Route) &&
		(m.Method == "" || m.Method == ev.Method) &&
		(m.Reason == "" || m.Reason == ev.Reason) &&
		(m.Status == 0 || m.Status == ev.Status)
}

// Find returns the events that fit m, in order.
func (r *Record) Find(m Match) []emulator.Event {
	var out []emulator.Event
	for _, ev := range r.Events {
		if m.Matches(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// RequireSequence fails t unless events fitting each of matches appear in
// the record in that order (other events may come between). The failure
// names the first pattern that was not found after the previous one.
func (r *Record) RequireSequence(t testing.TB, matches ...Match) {
	t.Helper()
	i := 0
	for n, m := range matches {
		for i < len(r.Events) && !m.Matches(r.Events[i]) {
			i++
		}
		if i == len(r.Events) {
			t.Fatalf("signalrtest: the record has no event %+v (pattern %d of %d) after the ones before it", m, n+1, len(matches))
		}
		i++
	}
}

// Feed follows an emulator's events for one test.
type Feed struct {
	ch <-chan emulator.Event
	// Seen holds every event Next or WaitFor took, in order.
	Seen []emulator.Event
}

// NewFeed subscribes to s's events that fit filter (nil: all) until the
// test ends.
func NewFeed(t testing.TB, s *emulator.Server, filter *emulator.EventFilter) *Feed {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &Feed{ch: s.Emulator.Events(ctx, filter)}
}

// WaitFor returns the next event that fits m, failing t when none comes
// within timeout.
func (f *Feed) WaitFor(t testing.TB, m Match, timeout time.Duration) emulator.Event {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-f.ch:
			if !ok {
				t.Fatalf("signalrtest: the feed ended before an event %+v", m)
			}
			f.Seen = append(f.Seen, ev)
			if m.Matches(ev) {
				return ev
			}
		case <-deadline.C:
			t.Fatalf("signalrtest: no event %+v within %v", m, timeout)
		}
	}
}
