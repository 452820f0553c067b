package emulator

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkExecuteJoinGroups applies MaxExecuteCommands JoinGroups of
// distinct groups to 300 connections, two ways in interleaved rounds: the
// :execute path (the lock taken a chunk at a time, the maps sized once)
// and the baseline it replaced (the joins one by one under one lock). It
// reports the ns per join of each and their ratio.
func BenchmarkExecuteJoinGroups(b *testing.B) {
	commands := make([]execCommand, MaxExecuteCommands)
	for i := range commands {
		commands[i] = execCommand{kind: "JoinGroup", group: "g" + strconv.Itoa(i)}
	}
	setup := func() (*hub, []*connection) {
		h := newHub("bench")
		conns := make([]*connection, 300)
		for i := range conns {
			c := &connection{id: "c" + strconv.Itoa(i), groups: map[string]time.Time{}}
			h.conns[c.id] = c
			conns[i] = c
		}
		return h, conns
	}
	var viaExecute, baseline time.Duration
	for b.Loop() {
		h, _ := setup()
		start := time.Now()
		h.execute(nil, commands)
		viaExecute += time.Since(start)

		h, conns := setup()
		start = time.Now()
		h.mu.Lock()
		for _, cmd := range commands {
			for _, c := range conns {
				h.join(c, cmd.group, time.Time{})
			}
		}
		h.mu.Unlock()
		baseline += time.Since(start)
	}
	joins := float64(b.N * len(commands) * 300)
	b.ReportMetric(float64(viaExecute.Nanoseconds())/joins, "ns/join")
	b.ReportMetric(float64(baseline.Nanoseconds())/joins, "baseline-ns/join")
	b.ReportMetric(float64(viaExecute)/float64(baseline), "ratio")
}
