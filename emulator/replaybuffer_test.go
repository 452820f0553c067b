package emulator

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/internal/hubproto"
)

func TestReplayBufferNumbersAcksAndCountsBytes(t *testing.T) {
	b := newReplayBuffer()
	assert.Equal(t, uint64(1), b.resumeFrom(), "nothing sent: the next id")
	one := []byte("{\"type\":1,\"target\":\"a\",\"arguments\":[]}\x1e")
	two := bytes.Repeat(one, 2)
	b.add(one, 1) // id 1
	b.add(two, 2) // ids 2-3
	b.add(one, 1) // id 4
	b.add(nil, 0) // nothing trackable: no id
	assert.Equal(t, int64(4*len(one)), b.bytes)
	assert.Equal(t, uint64(5), b.next)

	assert.Equal(t, int64(0), b.ack(0))
	assert.Equal(t, int64(len(one)), b.ack(2), "id 2 is in a piece with id 3: that piece stays")
	assert.Equal(t, uint64(2), b.resumeFrom(), "a replay starts with the oldest piece held")
	assert.Equal(t, int64(3*len(one)), b.bytes)
	assert.Equal(t, int64(len(two)), b.ack(3))
	assert.Equal(t, uint64(4), b.resumeFrom())
	require.Len(t, b.held(), 1)
	assert.Equal(t, int64(len(one)), b.ack(100), "an Ack past the end drops everything")
	assert.Equal(t, int64(0), b.bytes)
	assert.Equal(t, uint64(5), b.resumeFrom())
	assert.Empty(t, b.held())
}

func TestReplayBufferCompacts(t *testing.T) {
	b := newReplayBuffer()
	p := []byte("{}\x1e")
	for i := 0; i < 1000; i++ {
		b.add(p, 1)
	}
	b.ack(900)
	assert.Len(t, b.held(), 100)
	assert.LessOrEqual(t, len(b.pieces), 200, "the acknowledged prefix is reclaimed")
	assert.Equal(t, uint64(901), b.resumeFrom())
	assert.Equal(t, int64(100*len(p)), b.bytes)
}

func TestCountMessages(t *testing.T) {
	j := hubproto.JSON.Ping()
	assert.Equal(t, 3, countMessages(hubproto.JSON, bytes.Repeat(j, 3)))
	m := hubproto.MessagePack.Ack(1)
	big, err := hubproto.MessagePack.InvocationValues("", "t", []any{string(bytes.Repeat([]byte("x"), 300))})
	require.NoError(t, err)
	assert.Equal(t, 3, countMessages(hubproto.MessagePack, append(append(append([]byte{}, m...), big...), m...)), "a two-byte length prefix")
	assert.Equal(t, 0, countMessages(hubproto.MessagePack, nil))
}

func TestTrackableOnly(t *testing.T) {
	inv := []byte("{\"type\":1,\"target\":\"a\",\"arguments\":[]}\x1e")
	comp := hubproto.JSON.CompletionVoid("1")
	body := append(append(append([]byte{}, inv...), hubproto.JSON.Ping()...), comp...)
	assert.Equal(t, append(append([]byte{}, inv...), comp...), trackableOnly(hubproto.JSON, body))
	assert.Equal(t, comp, trackableOnly(hubproto.JSON, comp), "all trackable: kept")
	assert.Equal(t, comp, trackableOnly(hubproto.JSON, append(append([]byte{}, comp...), `{"type":1`...)), "an unfinished tail is dropped")
	assert.Empty(t, trackableOnly(hubproto.JSON, hubproto.JSON.Ping()))
	mp := append(append([]byte{}, hubproto.MessagePack.Ping()...), hubproto.MessagePack.CompletionVoid("1")...)
	assert.Equal(t, hubproto.MessagePack.CompletionVoid("1"), trackableOnly(hubproto.MessagePack, mp))
}

// FuzzTrackableOnly feeds arbitrary upstream answers to the filter that
// keeps only the messages stateful reconnect numbers: it never panics, and
// what it keeps is whole, trackable messages, counted as such.
func FuzzTrackableOnly(f *testing.F) {
	f.Add([]byte("{\"type\":3,\"invocationId\":\"1\"}\x1e{\"type\":6}\x1e"), false)
	f.Add([]byte("{\"type\":1"), false)
	f.Add(append(hubproto.MessagePack.Ping(), hubproto.MessagePack.CompletionVoid("1")...), true)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, true)
	f.Fuzz(func(t *testing.T, body []byte, msgpack bool) {
		p := hubproto.JSON
		if msgpack {
			p = hubproto.MessagePack
		}
		out := trackableOnly(p, body)
		if len(out) == 0 {
			return
		}
		records, err := p.NewReader(len(out)).Split(out)
		if err != nil {
			t.Fatalf("kept %q, which does not split: %v", out, err)
		}
		if countMessages(p, out) != len(records) {
			t.Fatalf("kept %q: %d records, counted %d", out, len(records), countMessages(p, out))
		}
		for _, r := range records {
			if m, err := p.Parse(r); err != nil || !m.Type.Trackable() {
				t.Fatalf("kept %q, not a trackable message (%v)", r, err)
			}
		}
	})
}
