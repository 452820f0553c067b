package emulator

import (
	"strconv"
	"testing"
)

// BenchmarkStatePaging10k times the state API's first page (100 of 10,000
// connections in one hub, as GET /_emulator/api/hubs/{hub}/connections
// answers it) and a page in the middle, with the bytes it allocates. The
// connections are registered in the hub without sockets: this measures the
// state API, not the transports.
func BenchmarkStatePaging10k(b *testing.B) {
	e, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	const n = 10000
	for i := 0; i < n; i++ {
		c := newConnection(e, nil, "bench", "conn-"+strconv.Itoa(100000+i), "user"+strconv.Itoa(i%500))
		if !e.addConnection(c) {
			b.Fatal("not added")
		}
		if i%10 == 0 {
			c.hub.addConnectionToGroup(c.id, "group"+strconv.Itoa(i%50))
		}
	}
	for _, tc := range []struct{ name, cursor string }{{"first", ""}, {"middle", "conn-105000"}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				page, err := e.Connections("bench", &PageOptions{Cursor: tc.cursor})
				if err != nil || len(page.Connections) != DefaultPageLimit || page.Total != n {
					b.Fatalf("page of %d of %d: %v", len(page.Connections), page.Total, err)
				}
			}
		})
	}
	b.Run("groups", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if page, err := e.Groups("bench", nil); err != nil || page.Total != 5 {
				b.Fatalf("%d groups: %v", page.Total, err)
			}
		}
	})
}

// BenchmarkFeedHookNoSubscriber is what the feed and fault hooks cost the
// hot path with nobody subscribed and no fault armed: the two checks a
// REST call makes before it is served as before.
func BenchmarkFeedHookNoSubscriber(b *testing.B) {
	e, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	hits := 0
	for i := 0; i < b.N; i++ {
		if e.bus.on() || e.faults.armed() {
			hits++
		}
	}
	if hits != 0 {
		b.Fatal("a hook fired with nobody subscribed")
	}
}

// BenchmarkFeedHooksPerDelivery is what the idle feed adds to each frame
// written to a client: the per-connection byte and frame counters
// (countOut, two atomic adds) against the same call with the hooks
// switched off (the baseline of BenchmarkFeedCost). With -cpu 1 and
// interleaved -count runs, "on" − "off" is the cost per delivery, to be
// set against the fan-out's CPU per delivery (BenchmarkFeedCost).
func BenchmarkFeedHooksPerDelivery(b *testing.B) {
	e, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	c := newConnection(e, nil, "bench", "conn", "")
	for _, off := range []bool{false, true} {
		name := "on"
		if off {
			name = "off"
		}
		b.Run(name, func(b *testing.B) {
			e.uninstrumented.Store(off)
			for i := 0; i < b.N; i++ {
				c.countOut(128)
			}
		})
	}
	e.uninstrumented.Store(false)
}
