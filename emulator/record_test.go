package emulator_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/emulator"
)

// lockedBuffer is a bytes.Buffer safe to write from the record's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func decodeRecord(t *testing.T, text string) []emulator.Event {
	t.Helper()
	var out []emulator.Event
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		var ev emulator.Event
		require.NoError(t, json.Unmarshal([]byte(line), &ev), "line %q", line)
		out = append(out, ev)
	}
	return out
}

// allEventKinds lists every EventKind the feed carries (events.go); the
// record test below makes each of them happen.
var allEventKinds = []emulator.EventKind{
	emulator.EventConnected, emulator.EventDisconnected, emulator.EventREST, emulator.EventNegotiate,
	emulator.EventUpstream, emulator.EventInvocation, emulator.EventCompletion, emulator.EventControl,
	emulator.EventFault,
}

// The record holds every event of the feed, of every kind, numbered
// without a gap, and the same as a subscriber saw.
func TestRecordHoldsEveryFeedEvent(t *testing.T) {
	var record lockedBuffer
	up := newFakeUpstream(t, nil)
	s := emulator.NewServer(&emulator.Options{AccessKey: testKey, Record: &record, Upstream: everything(up.URL), CloseTimeout: shortCloseTimeout})
	ctx, cancel := context.WithCancel(context.Background())
	feed := s.Emulator.Events(ctx, nil)

	a := connect(t, s, "chat", "alice")
	b := connect(t, s, "chat", "bob")
	wantStatus(t, rest(t, s, "PUT", "/api/hubs/chat/users/bob/groups/room", ""), http.StatusOK, "")
	wantStatus(t, rest(t, s, "POST", "/api/hubs/chat/groups/room/:send", sendBody("toRoom", "x")), http.StatusAccepted, "")
	b.wantInvocation("toRoom", "x")
	a.send(`{"type":1,"invocationId":"1","target":"ask","arguments":[]}`)
	require.Nil(t, a.nextCompletion().Error, "the upstream answered")
	a.send(`{"type":3,"invocationId":"unasked","result":1}`) // a Completion nobody waits for
	require.NoError(t, s.Emulator.Send("chat", emulator.Recipient{User: "alice"}, "direct", json.RawMessage(`[2]`)))
	require.Equal(t, "direct", a.nextMessage().Target)
	_, err := s.Emulator.AddFault(emulator.Fault{Kind: emulator.FaultREST, Route: "/api/hubs/other/", Status: 503, Count: 1})
	require.NoError(t, err)
	wantStatus(t, rest(t, s, "POST", "/api/hubs/other/:send", sendBody("m", "x")), http.StatusServiceUnavailable, "Error.FaultInjected")
	require.NoError(t, s.Emulator.CloseConnection("chat", b.id, "bye"))
	require.NoError(t, a.ws.CloseNow())
	eventually(t, "both disconnected events reached the upstream", func() bool {
		n := 0
		for _, call := range up.snapshot() {
			if call.Header.Get("X-ASRS-Event") == "disconnected" {
				n++
			}
		}
		return n == 2
	})
	s.Close()

	var fromFeed []emulator.Event
	for ev := range feed {
		fromFeed = append(fromFeed, ev)
	}
	cancel()
	recorded := decodeRecord(t, record.String())
	require.NotEmpty(t, recorded)
	kinds := map[emulator.EventKind]int{}
	for i, ev := range recorded {
		require.Equal(t, uint64(i+1), ev.Seq, "every event, numbered without a gap")
		require.NotEqual(t, emulator.EventDropped, ev.Kind)
		kinds[ev.Kind]++
	}
	for _, k := range allEventKinds {
		require.NotZero(t, kinds[k], "the record holds %s events", k)
	}
	require.Len(t, kinds, len(allEventKinds), "no kind this test does not know: %v", kinds)
	require.Equal(t, map[emulator.EventKind]int{
		emulator.EventNegotiate: 2, emulator.EventConnected: 2, emulator.EventREST: 3,
		emulator.EventUpstream:   5, // connected ×2, ask, disconnected ×2
		emulator.EventInvocation: 1, emulator.EventCompletion: 1, emulator.EventControl: 2,
		emulator.EventFault: 1, emulator.EventDisconnected: 2,
	}, kinds)
	// The record and a subscriber see the same events.
	require.Len(t, fromFeed, len(recorded))
	for i := range recorded {
		want, _ := json.Marshal(recorded[i])
		got, _ := json.Marshal(fromFeed[i])
		require.JSONEq(t, string(want), string(got))
	}
}

// window8 reports the first 8-character piece of secret found in text.
func window8(text, secret string) (string, bool) {
	for i := 0; i+8 <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+8]) {
			return secret[i : i+8], true
		}
	}
	return "", false
}

func TestRecordRedactsSecretsInEveryField(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	randomKey := func() string {
		b := make([]byte, 33)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return base64.StdEncoding.EncodeToString(b) // holds + and /
	}
	key := randomKey()
	var record lockedBuffer
	s := emulator.NewServer(&emulator.Options{AccessKey: key, Record: &record})
	defer s.Close()

	clientJWT := mint(t, key, clientURL(s, "chat"), jwt.MapClaims{"asrs.s.uid": "u"})
	otherJWT := mint(t, "another-key-0123456789abcdefghijklmnop", "http://x/", jwt.MapClaims{"sub": randomKey()})
	tokenValue := randomKey()
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte("conn"))
	signature := strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
	secrets := []string{key, clientJWT, otherJWT, tokenValue, signature}
	shapes := []string{
		key, clientJWT, otherJWT,
		"access_token=" + tokenValue, "?x=1&access_token=" + tokenValue + "&y=2",
		"Authorization: Bearer " + otherJWT, "bearer " + tokenValue,
		"X-ASRS-Signature: sha256=" + signature, "AccessKey=" + key + ";Version=1.0;",
	}
	pick := func() string {
		return "p" + strings.Repeat("-", rng.IntN(3)) + shapes[rng.IntN(len(shapes))] + " s"
	}

	// Straight onto the feed: every string field of an event, found by
	// reflection so that a field added later is covered too.
	stringFields := 0
	for i := 0; i < 200; i++ {
		ev := emulator.Event{Kind: emulator.EventREST}
		v := reflect.ValueOf(&ev).Elem()
		for f := 0; f < v.NumField(); f++ {
			if v.Field(f).Kind() == reflect.String && v.Type().Field(f).Name != "Kind" {
				v.Field(f).SetString(pick())
				if i == 0 {
					stringFields++
				}
			}
		}
		s.Emulator.Publish(ev)
	}
	require.GreaterOrEqual(t, stringFields, 12, "every string field was filled")
	// And through real traffic: a user id, group, target and reason that
	// hold secrets, and a REST path with one escaped in it.
	userToken := mint(t, key, clientURL(s, "chat"), jwt.MapClaims{"asrs.s.uid": "Bearer " + otherJWT})
	n := negotiate(t, s, "chat", userToken, 1)
	ws, _, err := dialRaw(t, s, "chat", "&id="+n.ConnectionToken, userToken)
	require.NoError(t, err)
	c := &client{t: t, ws: ws, id: n.ConnectionID}
	c.send(`{"protocol":"json","version":1}`)
	require.Equal(t, "{}", c.next())
	c.send(`{"type":1,"invocationId":"` + key + `","target":"access_token=` + tokenValue + `","arguments":[]}`)
	restAs := func(method, path, body string) *http.Response {
		return restWithToken(t, s, method, path, body, mint(t, key, s.URL+path, nil))
	}
	wantStatus(t, restAs("POST", "/api/hubs/chat/users/"+url.PathEscape(key)+"/:send", sendBody(clientJWT, "x")), http.StatusAccepted, "")
	wantStatus(t, restAs("PUT", "/api/hubs/chat/groups/"+url.PathEscape(otherJWT)+"/connections/"+c.id, ""), http.StatusOK, "")
	require.NoError(t, s.Emulator.CloseConnection("chat", c.id, "AccessKey="+key))
	require.Equal(t, 3, c.nextMessage().Type, "the Completion saying there is no upstream")
	require.Equal(t, 7, c.nextMessage().Type)
	s.Close()

	text := record.String()
	require.Greater(t, strings.Count(text, "\n"), 205)
	require.Contains(t, text, "[redacted")
	for _, secret := range secrets {
		if piece, found := window8(text, secret); found {
			require.Failf(t, "a secret leaked into the record", "%q of a secret found", piece)
		}
	}
}
