package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLastNumber(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		record string
		want   int64
		ok     bool
	}{
		{`{"type":1,"target":"t","arguments":["x",1764251234567890123]}`, 1764251234567890123, true},
		{`{"type":1,"target":"t","arguments":["x",42]}`, 0, false}, // not a timestamp
		{`{"type":1,"target":"t","arguments":[1764251234567890123]}`, 0, false},
		{`{"type":1,"target":"t","arguments":["x"]}`, 0, false},
		{`{"type":6}`, 0, false},
		{`]`, 0, false},
		{`,99999999999999999999]`, 0, false}, // too many digits
	} {
		got, ok := lastNumber([]byte(c.record))
		assert.Equal(t, c.ok, ok, c.record)
		if c.ok {
			assert.Equal(t, c.want, got, c.record)
		}
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	assert.Equal(t, int64(0), quantile(nil, 0.5))
	s := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	assert.Equal(t, int64(6), quantile(s, 0.5))
	assert.Equal(t, int64(10), quantile(s, 0.99))
}
