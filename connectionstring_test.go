package signalr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/funcsignalr/signalr/internal/textutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

func TestParseConnectionStringAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		in                    string
		endpoint, client, srv string
		version               string
	}{
		{"azure", "Endpoint=https://x.service.signalr.net;AccessKey=" + testKey + ";Version=1.0;",
			"https://x.service.signalr.net", "https://x.service.signalr.net", "https://x.service.signalr.net", "1.0"},
		{"emulator with port", "Endpoint=http://localhost;Port=8888;AccessKey=" + testKey + ";Version=1.0;",
			"http://localhost:8888", "http://localhost:8888", "http://localhost:8888", "1.0"},
		{"keys in any case and order, spaces, no trailing ;", " accesskey = " + testKey + " ; ENDPOINT = https://x.service.signalr.net/ ",
			"https://x.service.signalr.net", "https://x.service.signalr.net", "https://x.service.signalr.net", ""},
		{"port replaces endpoint port", "Endpoint=https://x:443;Port=8443;AccessKey=k",
			"https://x:8443", "https://x:8443", "https://x:8443", ""},
		{"client and server endpoints; port not applied to them", "Endpoint=https://x;Port=9000;ClientEndpoint=https://client.example;ServerEndpoint=http://10.0.0.1:81;AccessKey=k",
			"https://x:9000", "https://client.example", "http://10.0.0.1:81", ""},
		{"empty segments", ";;Endpoint=https://x;;AccessKey=k;;", "https://x", "https://x", "https://x", ""},
		{"segment without = skipped, as the SDKs do", "Endpoint=https://x;junk;AccessKey=k", "https://x", "https://x", "https://x", ""},
		{"preview version", "Endpoint=https://x;AccessKey=k;Version=1.0-preview", "https://x", "https://x", "https://x", "1.0-preview"},
		{"unknown AuthType falls back to access key", "Endpoint=https://x;AccessKey=k;AuthType=accesskey", "https://x", "https://x", "https://x", ""},
		{"identity keys ignored with an access key", "Endpoint=https://x;AccessKey=k;ClientId=abc", "https://x", "https://x", "https://x", ""},
		{"ipv6 host with port", "Endpoint=http://[::1];Port=8888;AccessKey=k", "http://[::1]:8888", "http://[::1]:8888", "http://[::1]:8888", ""},
		{"upper-case scheme and host", "Endpoint=HTTPS://X.Service.SignalR.net;AccessKey=k", "https://x.service.signalr.net", "https://x.service.signalr.net", "https://x.service.signalr.net", ""},
		{"equals sign inside the key", "Endpoint=https://x;AccessKey=abc=def==", "https://x", "https://x", "https://x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := ParseConnectionString(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.endpoint, cs.Endpoint())
			assert.Equal(t, tt.client, cs.ClientEndpoint())
			assert.Equal(t, tt.srv, cs.ServerEndpoint())
			assert.Equal(t, tt.version, cs.Version())
		})
	}
}

func TestParseConnectionStringKeepsKeyBytes(t *testing.T) {
	t.Parallel()
	cs, err := ParseConnectionString("Endpoint=https://x;AccessKey=abc=def==")
	require.NoError(t, err)
	info, err := cs.connectionInfo("chat", nil)
	require.NoError(t, err)
	verify(t, info.AccessToken, "abc=def==", info.URL, time.Now())
}

func TestParseConnectionStringRejects(t *testing.T) {
	t.Parallel()
	const secret = "SECRETKEY0123456789"
	tests := []struct {
		name   string
		in     string
		target error
		says   string
	}{
		{"empty", "", ErrInvalidConnectionString, "Endpoint is missing"},
		{"missing endpoint", "AccessKey=" + secret, ErrInvalidConnectionString, "Endpoint is missing"},
		{"missing key", "Endpoint=https://x", ErrInvalidConnectionString, "AccessKey is missing"},
		{"empty key", "Endpoint=https://x;AccessKey=", ErrInvalidConnectionString, "AccessKey is missing"},
		{"relative endpoint", "Endpoint=x.service.signalr.net;AccessKey=" + secret, ErrInvalidConnectionString, "Endpoint="},
		{"ftp endpoint", "Endpoint=ftp://x;AccessKey=" + secret, ErrInvalidConnectionString, "http:// or https://"},
		{"endpoint with path", "Endpoint=https://x/api;AccessKey=" + secret, ErrInvalidConnectionString, "no path"},
		{"endpoint with query", "Endpoint=https://x/?a=b;AccessKey=" + secret, ErrInvalidConnectionString, "no path, query"},
		{"port not a number", "Endpoint=https://x;Port=http;AccessKey=" + secret, ErrInvalidConnectionString, "Port="},
		{"port zero", "Endpoint=https://x;Port=0;AccessKey=" + secret, ErrInvalidConnectionString, "Port="},
		{"port too big", "Endpoint=https://x;Port=65536;AccessKey=" + secret, ErrInvalidConnectionString, "Port="},
		{"endpoint port too big", "Endpoint=https://x:70000;AccessKey=" + secret, ErrInvalidConnectionString, "port outside"},
		{"unknown version", "Endpoint=https://x;AccessKey=" + secret + ";Version=2.0", ErrInvalidConnectionString, "Version=\"2.0\""},
		{"duplicate key", "Endpoint=https://x;AccessKey=" + secret + ";accesskey=" + secret, ErrInvalidConnectionString, "AccessKey appears more than once"},
		{"duplicate endpoint", "Endpoint=https://x;ENDPOINT=https://y;AccessKey=" + secret, ErrInvalidConnectionString, "Endpoint appears more than once"},
		{"key without its name is skipped, so the key is missing", "Endpoint=https://x;" + secret, ErrInvalidConnectionString, "AccessKey is missing"},
		{"empty key name", "Endpoint=https://x;=" + secret, ErrInvalidConnectionString, "empty key"},
		{"bad client endpoint", "Endpoint=https://x;AccessKey=" + secret + ";ClientEndpoint=nope", ErrInvalidConnectionString, "ClientEndpoint="},
		{"bad server endpoint", "Endpoint=https://x;AccessKey=" + secret + ";ServerEndpoint=https://x/path", ErrInvalidConnectionString, "ServerEndpoint="},
		{"userinfo", "Endpoint=https://u:p@x;AccessKey=" + secret, ErrInvalidConnectionString, "user information"},
		{"missing ';' swallows the key into Endpoint", "Endpoint=https://x AccessKey=" + secret, ErrInvalidConnectionString, "Endpoint=\"https://x ***\""},
		{"missing ';' swallows the key into Version", "Endpoint=https://x;AccessKey=" + secret + ";Version=1.0 " + secret, ErrInvalidConnectionString, "Version=\"1.0 ***\""},
		{"missing ';' swallows the key into Port", "Endpoint=https://x;Port=80 accesskey=" + secret, ErrInvalidConnectionString, "Port=\"80 ***\""},
		{"managed identity with a secret", "Endpoint=https://x;AuthType=azure.msi;ClientId=abc;ClientSecret=" + secret, ErrInvalidConnectionString, "ClientSecret is set but AuthType=azure.msi"},
		{"aad service principal without secret", "Endpoint=https://x;AuthType=aad;ClientId=a;TenantId=b", ErrInvalidConnectionString, "ClientSecret or ClientCert is missing"},
		{"azure.app in upper case without ClientId", "Endpoint=https://x;AuthType=Azure.App", ErrInvalidConnectionString, "ClientId is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := ParseConnectionString(tt.in)
			require.Error(t, err)
			assert.Nil(t, cs)
			assert.ErrorIs(t, err, tt.target)
			assert.Contains(t, err.Error(), tt.says)
			assert.NotContains(t, err.Error(), secret, "the error leaks the access key")
		})
	}
}

func TestConnectionStringNeverPrintsKey(t *testing.T) {
	t.Parallel()
	cs, err := ParseConnectionString("Endpoint=https://x;Port=444;ClientEndpoint=https://c;AccessKey=" + testKey + ";Version=1.0")
	require.NoError(t, err)
	for _, s := range []string{
		cs.String(), fmt.Sprint(cs), fmt.Sprint(*cs), fmt.Sprintf("%v %+v %s %#v", cs, *cs, cs, *cs), fmt.Sprintf("%#v", cs),
	} {
		assert.NotContains(t, s, testKey)
		assert.NotContains(t, s, testKey[:10])
	}
	assert.Equal(t, "Endpoint=https://x:444;ClientEndpoint=https://c;AccessKey=***;Version=1.0;", cs.String())
}

func FuzzParseConnectionString(f *testing.F) {
	for _, s := range []string{
		"Endpoint=http://localhost;Port=8888;AccessKey=" + testKey + ";Version=1.0;",
		"Endpoint=https://x;AccessKey=k;ClientEndpoint=https://c;ServerEndpoint=https://s",
		"endpoint=https://[::1]:80;accesskey=k;port=1",
		";;=;AccessKey;Endpoint=",
		"Endpoint=https://x;AuthType=aad",
		"Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=s3cr3t-value",
		"Endpoint=https://x;AuthType=azure.msi;ClientId=c",
		"Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientCertPath=/c.pem",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseConnectionString(s)
		if err != nil {
			require.True(t, errors.Is(err, ErrInvalidConnectionString), "error %v wraps no sentinel", err)
			// Whatever the input, an error never repeats the key.
			if key := fuzzKey(s); len(key) >= 16 && strings.Contains(err.Error(), key) {
				require.FailNow(t, fmt.Sprintf("error %q contains the access key %q", err, key))
			}
			require.Nil(t, cs, "non-nil result with an error")
			return
		}
		key := fuzzKey(s)
		if cs.IdentityBased() {
			// No key is kept or printed; the secret is hidden; local
			// minting says it needs a key.
			if secret := cs.ClientSecret(); secret != "" && strings.Contains(cs.String(), secret) {
				require.FailNow(t, fmt.Sprintf("String() %q shows the client secret", cs.String()))
			}
			require.False(t, strings.Contains(cs.String(), "AccessKey"), "String() %q mentions an access key", cs.String())
			if _, err := cs.connectionInfo("hub", nil); !errors.Is(err, ErrMissingCredential) {
				require.FailNow(t, fmt.Sprintf("ConnectionInfo on AuthType=%s: %v", cs.AuthType(), err))
			}
			return
		}
		require.NotEmpty(t, key, "parsed without an access key")
		for _, u := range []string{cs.Endpoint(), cs.ClientEndpoint(), cs.ServerEndpoint()} {
			require.False(t, !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://"), "endpoint %q is not http(s)", u)
		}
		require.False(t, !strings.Contains(cs.String(), "AccessKey=***;") || key != "***" && strings.Contains(cs.String(), "AccessKey="+key+";"), "String() %q does not hide the key", cs.String())
		// A parsed connection string mints a token that names its client URL.
		if _, err := cs.connectionInfo("hub", nil); err != nil {
			require.FailNow(t, fmt.Sprintf("ConnectionInfo: %v", err))
		}
	})
}

// fuzzKey returns the AccessKey value of s as the parser reads it.
func fuzzKey(s string) string {
	for _, seg := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(seg), "=")
		if ok && textutil.LowerASCII(strings.TrimSpace(k)) == "accesskey" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// A zero ConnectionString, or one left nil, is an error wherever it is
// used, never a panic.
func TestZeroConnectionStringIsAnError(t *testing.T) {
	t.Parallel()
	zero := &ConnectionString{}
	_, err := zero.connectionInfo("chat", nil)
	assert.ErrorIs(t, err, ErrInvalidConnectionString)
	_, err = NewClient(zero, nil)
	assert.ErrorIs(t, err, ErrInvalidConnectionString)
	_, err = NewClient(nil, nil)
	assert.ErrorIs(t, err, ErrInvalidConnectionString)
	_, err = ConnectionInfoBinding{HubName: "chat"}.Bind(&BindOptions{ConnectionString: zero})
	assert.ErrorIs(t, err, ErrInvalidConnectionString)
	_, err = OutputBinding{HubName: "chat"}.Bind(&BindOptions{ConnectionString: zero}, nil)
	assert.ErrorIs(t, err, ErrInvalidConnectionString)
	assert.Equal(t, "", zero.Endpoint())
	assert.Equal(t, "AccessKey=***;", zero.String())

	var c Client
	assert.ErrorIs(t, c.SendMessage(context.Background(), "chat", Message{Target: "t"}, nil), ErrInvalidConnectionString)
	c.CloseIdleConnections()
	col := (&Output{}).NewCollector()
	require.NoError(t, col.AddMessage(Message{Target: "t"}))
	assert.Error(t, col.Flush(context.Background()))
}

// Issue 9, item 1: the redaction used offsets found in a lower-cased copy,
// whose byte length differs from the original's when lower-casing changes
// a character's length (Ⱥ → ⱥ) or replaces invalid UTF-8 with U+FFFD.
func TestParseConnectionStringRedactsOnTheOriginalBytes(t *testing.T) {
	t.Parallel()
	const secret = "SUPERSECRETKEYBYTES0123456789"
	tests := []struct{ name, in string }{
		{"lower-casing grows the string", "Endpoint=" + strings.Repeat("Ⱥ", 20) + "accesskey;AccessKey=k"},
		{"key after a growing prefix, no ';'", "Endpoint=https://" + strings.Repeat("Ⱥ", 25) + " AccessKey=" + secret},
		{"invalid UTF-8 before the key", "Endpoint=ftp://" + strings.Repeat("\xff", 25) + " AccessKey=" + secret},
		{"invalid UTF-8 in a Port value", "Endpoint=https://x;Port=" + strings.Repeat("\xc3", 9) + "AccessKey=" + secret},
		{"shrinking characters (Kelvin sign)", "Endpoint=ftp://" + strings.Repeat("\u212a", 12) + "AccessKey=" + secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { _, err = ParseConnectionString(tt.in) })
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidConnectionString)
			for i := 0; i+4 <= len(secret); i++ {
				require.NotContains(t, err.Error(), secret[i:i+4], "the error leaks key bytes")
			}
			assert.Contains(t, err.Error(), "***", "the value is shown redacted")
		})
	}
}

// Only ASCII letters fold in key names, as in the .NET SDKs' ordinal
// comparison: "Access\u212Aey" (with a Kelvin sign) is not AccessKey.
func TestParseConnectionStringKeyNamesFoldASCIIOnly(t *testing.T) {
	t.Parallel()
	_, err := ParseConnectionString("Endpoint=https://x;Access\u212aey=k")
	require.ErrorIs(t, err, ErrInvalidConnectionString)
	assert.Contains(t, err.Error(), "AccessKey is missing")
}

// unseenSecret returns a 24-byte secret that repeats one letter absent
// from around, so that any run of that letter in an error or String came
// from the secret; it skips the fuzz input when no such letter is left.
func unseenSecret(t *testing.T, around string) string {
	t.Helper()
	for _, x := range "QZXJVWqzxjvw" {
		if !strings.ContainsRune(around, x) {
			return strings.Repeat(string(x), 24)
		}
	}
	t.Skip("no letter left for the secret")
	return ""
}

// FuzzParseConnectionStringHidesKey puts a key the fuzzer cannot see
// between two fuzzed halves: whatever surrounds it (missing ';',
// case-changing characters, invalid UTF-8), parsing never panics and no
// four bytes of the key appear in an error. The key repeats one letter
// that occurs in neither half, so any run of it in an error came from the
// key.
func FuzzParseConnectionStringHidesKey(f *testing.F) {
	for _, s := range [][2]string{
		{"Endpoint=https://x;", ";Version=1.0"},
		{"Endpoint=https://" + strings.Repeat("Ⱥ", 25) + " ", ""},
		{"Endpoint=" + strings.Repeat("Ⱥ", 20) + "accesskey;", ""},
		{"Endpoint=ftp://\xff\xfe ", ";"},
		{"Endpoint=https://x;Port=", ""},
		{"Version=", ";Endpoint=https://x"},
		{"AuthType=aad ", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		key := unseenSecret(t, a+b)
		cs, err := ParseConnectionString(a + "AccessKey=" + key + b)
		if err == nil {
			require.False(t, strings.Contains(cs.String(), key[:4]) || strings.Contains(fmt.Sprintf("%v %+v %#v", cs, *cs, cs), key[:4]), "String() %q shows the key", cs)
			return
		}
		require.False(t, strings.Contains(err.Error(), key[:4]), "error %q shows key bytes", err)
	})
}
