package signalr_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/funcsignalr/signalr"
	"github.com/funcsignalr/signalr/emulator"
	"github.com/funcsignalr/signalr/signalrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// deepDepth is how deep the hostile arguments of the depth tests nest: a
// million levels, which an unbounded recursive decoder cannot survive.
const deepDepth = 1_000_000

// deepJSON is a JSON array nested depth levels deep.
func deepJSON(depth int) []byte {
	return append(bytes.Repeat([]byte{'['}, depth), bytes.Repeat([]byte{']'}, depth)...)
}

// deepMessagePack is a MessagePack array nested depth levels deep: depth
// one-element arrays around a nil.
func deepMessagePack(depth int) []byte {
	return append(bytes.Repeat([]byte{0x91}, depth), 0xc0)
}

// TestUpstreamRefusesDeepArguments sends a signed invocation whose argument
// nests a million arrays deep, in both protocols: the Upstream answers 400
// naming the limit, and the handler, which would forward the argument in a
// Message, never runs.
func TestUpstreamRefusesDeepArguments(t *testing.T) {
	for _, mp := range []bool{false, true} {
		name := "JSON"
		if mp {
			name = "MessagePack"
		}
		t.Run(name, func(t *testing.T) {
			// A 2 MB body: the app may raise the 1 MiB default, and the
			// depth bound must hold whatever the size bound is.
			up, err := signalr.NewUpstream(&signalr.UpstreamOptions{
				Bind:        &signalr.BindOptions{ConnectionString: mustCS(t, emulator.DefaultAccessKey)},
				MaxBodySize: 4 << 20,
			})
			require.NoError(t, err)
			out, _ := signalrtest.NewOutput("chat")
			var ran atomic.Bool
			require.NoError(t, up.HandleFunc(signalr.TriggerBinding{HubName: "chat", Category: "messages", Event: "forward"},
				func(_ context.Context, inv *signalr.InvocationContext) (any, error) {
					ran.Store(true)
					col := out.NewCollector()
					return nil, col.AddMessage(signalr.Message{Target: "got", Arguments: []any{inv.Arguments[0]}})
				}))
			req := signalrtest.UpstreamRequests{MessagePack: mp}.Invoke("1", "forward", "placeholder")
			body := []byte(`{"type":1,"invocationId":"1","target":"forward","arguments":[` + string(deepJSON(deepDepth)) + `]}`)
			if mp {
				body = append([]byte{0x95, 0x01, 0x80, 0xa1, '1', 0xa7, 'f', 'o', 'r', 'w', 'a', 'r', 'd', 0x91}, deepMessagePack(deepDepth)...)
			}
			req = withBody(req, body)
			rec := serve(up, req)
			assert.False(t, ran.Load(), "the handler ran on a %d-deep argument", deepDepth)
			require.Equal(t, http.StatusBadRequest, rec.Code, "body %q", rec.Body.String())
			assert.Contains(t, errorBody(t, rec), strconv.Itoa(signalr.MaxNestingDepth))
		})
	}
}

// withBody gives r body, with its length.
func withBody(r *http.Request, body []byte) *http.Request {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r
}

// TestArgumentRefusesDeepValues: an Argument a user builds from arbitrary
// bytes, a million levels deep, fails to Decode and to marshal in either
// encoding, and a Message carrying it fails AddMessage with ErrTooDeep,
// where an unbounded decoder overflowed the stack.
func TestArgumentRefusesDeepValues(t *testing.T) {
	for name, a := range map[string]signalr.Argument{
		"JSON":        signalr.JSONArgument(deepJSON(deepDepth)),
		"MessagePack": signalr.MessagePackArgument(deepMessagePack(deepDepth)),
	} {
		var v any
		assert.ErrorIs(t, a.Decode(&v), signalr.ErrTooDeep, name)
		_, err := a.MarshalJSON()
		assert.ErrorIs(t, err, signalr.ErrTooDeep, name)
		_, err = a.MarshalMsgpack()
		assert.ErrorIs(t, err, signalr.ErrTooDeep, name)
		_, err = msgpack.Marshal([]any{a})
		assert.ErrorIs(t, err, signalr.ErrTooDeep, name)
		out, _ := signalrtest.NewOutput("chat")
		err = out.NewCollector().AddMessage(signalr.Message{Target: "got", Arguments: []any{a}})
		assert.ErrorIs(t, err, signalr.ErrTooDeep, name)
		assert.ErrorIs(t, err, signalr.ErrInvalidMessage, name)
	}
	// At the limit both encodings still convert, to the same value.
	atJSON := signalr.JSONArgument(deepJSON(signalr.MaxNestingDepth))
	atMP := signalr.MessagePackArgument(append(bytes.Repeat([]byte{0x91}, signalr.MaxNestingDepth-1), 0x90))
	js, err := atMP.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, string(atJSON.Raw()), string(js))
	mp, err := atJSON.MarshalMsgpack()
	require.NoError(t, err)
	assert.Equal(t, atMP.Raw(), mp)
}

// TestArgumentMessagePackToJSON pins what a MessagePack argument becomes in
// JSON, which Decode reads too: keys in order, integer keys as decimal
// strings, binary as base64, timestamps as RFC 3339; other keys and
// extensions are refused.
func TestArgumentMessagePackToJSON(t *testing.T) {
	// {"z": 1, 7: bin[1 2 3], "t": timestamp 2020-01-01T00:00:00Z, -2: [true]}
	raw, err := hex.DecodeString("84" + "a17a01" + "07c403010203" + "a174d6ff5e0be100" + "fe91c3")
	require.NoError(t, err)
	a := signalr.MessagePackArgument(raw)
	js, err := json.Marshal(a)
	require.NoError(t, err)
	assert.Equal(t, `{"z":1,"7":"AQID","t":"2020-01-01T00:00:00Z","-2":[true]}`, string(js))
	var got struct {
		Z     int       `json:"z"`
		Bytes []byte    `json:"7"`
		T     time.Time `json:"t"`
		Neg   []bool    `json:"-2"`
	}
	require.NoError(t, a.Decode(&got))
	assert.Equal(t, 1, got.Z)
	assert.Equal(t, []byte{1, 2, 3}, got.Bytes)
	assert.True(t, got.T.Equal(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, []bool{true}, got.Neg)
	var byInt map[int]any
	require.NoError(t, signalr.MessagePackArgument([]byte{0x82, 0x01, 0xa1, 'a', 0xff, 0xc3}).Decode(&byInt))
	assert.Equal(t, map[int]any{1: "a", -1: true}, byInt)

	for name, h := range map[string]string{
		"boolean key": "81c301",
		"array key":   "819001",
		"extension 5": "d40500",
	} {
		b, _ := hex.DecodeString(h)
		var v any
		err := signalr.MessagePackArgument(b).Decode(&v)
		assert.ErrorContains(t, err, "no JSON form", name)
	}
}

// TestDeepAppAndServiceDataRefused: the other decoders of data the package
// does not write itself (an app's output JSON, function.json,
// local.settings.json, a client's idToken claims, and the service's
// answers to Invoke and GroupMembers) refuse a million-deep value with
// ErrTooDeep before decoding it.
func TestDeepAppAndServiceDataRefused(t *testing.T) {
	deep := string(deepJSON(deepDepth))
	out, _ := signalrtest.NewOutput("chat")
	err := out.NewCollector().AddJSON([]byte(`{"target":"t","arguments":[` + deep + `]}`))
	assert.ErrorIs(t, err, signalr.ErrTooDeep, "AddJSON")
	assert.ErrorIs(t, err, signalr.ErrInvalidOutputItem, "AddJSON")
	_, err = signalr.ParseOutput([]byte(`[{"target":"t","arguments":[` + deep + `]}]`))
	assert.ErrorIs(t, err, signalr.ErrTooDeep, "ParseOutput")
	var m signalr.Message
	assert.ErrorIs(t, m.UnmarshalJSON([]byte(`{"target":"t","arguments":[`+deep+`]}`)), signalr.ErrTooDeep, "Message.UnmarshalJSON")

	_, err = signalr.ParseFunctionJSON([]byte(`{"bindings":[{"type":"signalRTrigger","x":` + deep + `}]}`))
	assert.ErrorIs(t, err, signalr.ErrTooDeep, "ParseFunctionJSON")
	assert.ErrorIs(t, err, signalr.ErrInvalidBinding, "ParseFunctionJSON")

	settings := filepath.Join(t.TempDir(), "local.settings.json")
	require.NoError(t, os.WriteFile(settings, []byte(`{"Values":{"x":`+deep+`}}`), 0o600))
	_, err = signalr.LoadLocalSettings(settings)
	assert.ErrorIs(t, err, signalr.ErrTooDeep, "LoadLocalSettings")

	in, err := signalr.ConnectionInfoBinding{HubName: "chat", IDToken: "{headers.x-id-token}", ClaimTypeList: []string{"name"}}.
		Bind(&signalr.BindOptions{ConnectionString: mustCS(t, "key")})
	require.NoError(t, err)
	r := httptest.NewRequest("POST", "/negotiate", nil)
	r.Header.Set("x-id-token", "e30."+base64.RawURLEncoding.EncodeToString([]byte(`{"name":`+deep+`}`))+".sig")
	_, err = in.Resolve(r)
	assert.ErrorIs(t, err, signalr.ErrTooDeep, "idToken claims")

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/:invoke") {
			_, _ = io.WriteString(w, `{"result":`+deep+`}`)
			return
		}
		_, _ = io.WriteString(w, `{"value":[{"connectionId":"c","x":`+deep+`}]}`)
	}))
	defer srv.Close()
	cs, err := signalr.ParseConnectionString("Endpoint=" + srv.URL + ";AccessKey=key;Version=1.0;")
	require.NoError(t, err)
	c, err := signalr.NewClient(cs, nil)
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	_, err = c.Invoke(context.Background(), "chat", "c", "t", nil, nil)
	assert.ErrorIs(t, err, signalr.ErrTooDeep, "Invoke")
	var pageErr error
	for _, err := range c.GroupMembers(context.Background(), "chat", "g", nil) {
		if err != nil {
			pageErr = err
			break
		}
	}
	assert.ErrorIs(t, pageErr, signalr.ErrTooDeep, "GroupMembers")
}
