package signalr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeCredential hands out tokens "entra-<n>" that expire lifetime after
// the clock's now, and counts calls. gate, when set, is called at the
// start of each call with its number.
type fakeCredential struct {
	clock    *fakeClock
	lifetime time.Duration

	mu     sync.Mutex
	calls  int
	scopes []string
	gate   func(n int)
	err    error
}

func (f *fakeCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	f.calls++
	n, gate, err := f.calls, f.gate, f.err
	f.scopes = append([]string(nil), o.Scopes...)
	f.mu.Unlock()
	if gate != nil {
		gate(n)
	}
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return azcore.AccessToken{Token: fmt.Sprintf("entra-%d", n), ExpiresOn: f.clock.Now().Add(f.lifetime)}, nil
}

func (f *fakeCredential) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// keyService is the part of SignalR Service identity mode needs: the
// access-key route, a send route, and :generateToken. It records the
// bearer of every request.
type keyService struct {
	srv *httptest.Server

	mu        sync.Mutex
	keyCalls  int
	keyStatus int // answer this instead of a key when not 0
	keyGate   func(r *http.Request)
	bearers   []string
}

func newKeyService(t *testing.T) *keyService {
	ks := &keyService{}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		ks.bearers = append(ks.bearers, r.Header.Get("Authorization"))
		ks.mu.Unlock()
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/auth/accessKey":
			ks.mu.Lock()
			ks.keyCalls++
			n, status, gate := ks.keyCalls, ks.keyStatus, ks.keyGate
			ks.mu.Unlock()
			if gate != nil {
				gate(r)
			}
			if status != 0 {
				w.Header().Set("x-ms-error-code", "Error.Forbidden")
				w.WriteHeader(status)
				_, _ = fmt.Fprintf(w, `{"code":"Error.Forbidden","message":"the identity has no role"}`)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"KeyId": fmt.Sprintf("kid-%d", n), "AccessKey": fmt.Sprintf("key-%d-0123456789abcdef", n)})
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/:generateToken"):
			_ = json.NewEncoder(w).Encode(map[string]string{"token": "service-minted." + r.URL.Query().Get("userId")})
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusAccepted)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ks.srv.Close)
	return ks
}

func (ks *keyService) KeyCalls() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.keyCalls
}

func (ks *keyService) SetKeyStatus(status int) {
	ks.mu.Lock()
	ks.keyStatus = status
	ks.mu.Unlock()
}

func (ks *keyService) LastBearer() string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.bearers[len(ks.bearers)-1]
}

func newIdentityClient(t *testing.T, ks *keyService, cred azcore.TokenCredential, clock *fakeClock, opts *ClientOptions) *Client {
	t.Helper()
	cs, err := ParseConnectionString("Endpoint=" + ks.srv.URL + ";AuthType=azure.msi")
	require.NoError(t, err)
	o := ClientOptions{}
	if opts != nil {
		o = *opts
	}
	o.Credential, o.Now = cred, clock.Now
	c, err := NewClient(cs, &o)
	require.NoError(t, err)
	c.sleep = func(context.Context, time.Duration) error { return nil }
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// kidAndKey parses a client token's header kid and checks its signature
// with key.
func kidOf(t *testing.T, token string, key string) string {
	t.Helper()
	tok, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return []byte(key), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	require.NoError(t, err, "the token is not signed with %s", key)
	kid, _ := tok.Header["kid"].(string)
	return kid
}

func TestIdentityRESTCarriesEntraTokenOncePerLifetime(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ks := newKeyService(t)
	cred := &fakeCredential{clock: clock, lifetime: time.Hour}
	c := newIdentityClient(t, ks, cred, clock, nil)
	ctx := context.Background()

	for i := 0; i < 20; i++ {
		require.NoError(t, c.SendMessage(ctx, "chat", Message{Target: "t"}, nil))
		assert.Equal(t, "Bearer entra-1", ks.LastBearer())
	}
	assert.Equal(t, 1, cred.Calls(), "one token for twenty calls")
	assert.Equal(t, []string{EntraScope}, cred.scopes)

	// 54 minutes on: still more than five minutes left, so no renewal.
	clock.Add(54 * time.Minute)
	require.NoError(t, c.SendMessage(ctx, "chat", Message{Target: "t"}, nil))
	assert.Equal(t, 1, cred.Calls())
	// 56 minutes on: inside the renewal window.
	clock.Add(2 * time.Minute)
	require.NoError(t, c.SendMessage(ctx, "chat", Message{Target: "t"}, nil))
	assert.Equal(t, 2, cred.Calls())
	assert.Equal(t, "Bearer entra-2", ks.LastBearer())
	for i := 0; i < 5; i++ {
		require.NoError(t, c.SendMessage(ctx, "chat", Message{Target: "t"}, nil))
	}
	assert.Equal(t, 2, cred.Calls())
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", c, c, c), "entra-")
}

// While one caller renews the token, the others go on with the current one.
func TestIdentityRenewalDoesNotBlockOtherCalls(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ks := newKeyService(t)
	entered, release := make(chan struct{}), make(chan struct{})
	cred := &fakeCredential{clock: clock, lifetime: time.Hour, gate: func(n int) {
		if n == 2 {
			close(entered)
			<-release
		}
	}}
	c := newIdentityClient(t, ks, cred, clock, nil)
	ctx := context.Background()
	require.NoError(t, c.SendMessage(ctx, "chat", Message{Target: "t"}, nil))

	clock.Add(57 * time.Minute)
	renewed := make(chan error, 1)
	go func() { renewed <- c.SendMessage(ctx, "chat", Message{Target: "t"}, nil) }()
	<-entered
	// The renewal is stuck in the credential; this call does not wait.
	require.NoError(t, c.SendMessage(ctx, "chat", Message{Target: "t"}, nil))
	assert.Equal(t, "Bearer entra-1", ks.LastBearer())
	assert.Equal(t, 2, cred.Calls(), "no second renewal while one is under way")
	close(release)
	require.NoError(t, <-renewed)
	require.NoError(t, c.SendMessage(ctx, "chat", Message{Target: "t"}, nil))
	assert.Equal(t, "Bearer entra-2", ks.LastBearer())
}

func TestIdentityCredentialFailureIsReported(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ks := newKeyService(t)
	cred := &fakeCredential{clock: clock, lifetime: time.Hour, err: errors.New("ManagedIdentityCredential: no identity endpoint")}
	c := newIdentityClient(t, ks, cred, clock, nil)
	err := c.SendMessage(context.Background(), "chat", Message{Target: "t"}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no identity endpoint")
	assert.Contains(t, err.Error(), EntraScope)
	assert.Equal(t, 1, cred.Calls(), "a credential failure is not retried by the REST retries")
	_, err = c.ConnectionInfo(context.Background(), "chat", nil)
	assert.ErrorIs(t, err, ErrNoAccessKey)
	assert.Contains(t, err.Error(), "no identity endpoint")
}

// The key: fetched once, used for 55 minutes, renewed then; a failed
// renewal retried after 5 minutes; unusable 120 minutes after the last
// success, with an error that says so.
func TestIdentityClientTokenKeyTimings(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ks := newKeyService(t)
	cred := &fakeCredential{clock: clock, lifetime: 24 * time.Hour}
	c := newIdentityClient(t, ks, cred, clock, nil)
	ctx := context.Background()
	mint := func() (ConnectionInfo, error) {
		return c.ConnectionInfo(ctx, "Chat", &ClientTokenOptions{UserID: "alice"})
	}

	for i := 0; i < 10; i++ {
		ci, err := mint()
		require.NoError(t, err)
		assert.Equal(t, ks.srv.URL+"/client/?hub=chat", ci.URL)
		assert.Equal(t, "kid-1", kidOf(t, ci.AccessToken, "key-1-0123456789abcdef"))
	}
	assert.Equal(t, 1, ks.KeyCalls(), "one key fetch for ten tokens")
	assert.Equal(t, "Bearer entra-1", ks.LastBearer(), "the key is fetched with the Entra token")

	clock.Add(accessKeyRefreshAge - time.Second)
	ci, err := mint()
	require.NoError(t, err)
	assert.Equal(t, "kid-1", kidOf(t, ci.AccessToken, "key-1-0123456789abcdef"))
	assert.Equal(t, 1, ks.KeyCalls())

	clock.Add(time.Second) // 55 minutes
	ci, err = mint()
	require.NoError(t, err)
	assert.Equal(t, "kid-2", kidOf(t, ci.AccessToken, "key-2-0123456789abcdef"))
	assert.Equal(t, 2, ks.KeyCalls())
	lastSuccess := clock.Now()

	// The service now refuses: renewal fails, the key in hand stays in use.
	ks.SetKeyStatus(http.StatusForbidden)
	clock.Add(accessKeyRefreshAge)
	ci, err = mint()
	require.NoError(t, err)
	assert.Equal(t, "kid-2", kidOf(t, ci.AccessToken, "key-2-0123456789abcdef"))
	assert.Equal(t, 3, ks.KeyCalls())
	clock.Add(accessKeyRetryDelay - time.Second)
	_, err = mint()
	require.NoError(t, err)
	assert.Equal(t, 3, ks.KeyCalls(), "no new attempt within 5 minutes of a failure")
	clock.Add(time.Second)
	_, err = mint()
	require.NoError(t, err)
	assert.Equal(t, 4, ks.KeyCalls(), "a new attempt 5 minutes after the failure")

	// 120 minutes after the last success the key is not used any more.
	clock.Add(lastSuccess.Add(accessKeyMaxAge).Sub(clock.Now()))
	_, err = mint()
	require.ErrorIs(t, err, ErrNoAccessKey)
	assert.Equal(t, 5, ks.KeyCalls(), "the expired key is fetched again at once")
	var re *ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusForbidden, re.StatusCode)
	assert.Contains(t, err.Error(), "SignalR App Server")
	_, err = mint()
	require.ErrorIs(t, err, ErrNoAccessKey)
	assert.Equal(t, 5, ks.KeyCalls())
	assert.Contains(t, err.Error(), "the last key was fetched at "+lastSuccess.Format(time.RFC3339))
	assert.Contains(t, err.Error(), "more than 2h0m0s before")
	assert.Contains(t, err.Error(), "the next attempt is after "+clock.Now().Add(accessKeyRetryDelay).Format(time.RFC3339))
	assert.Contains(t, err.Error(), "the identity has no role")

	// The service recovers; after the pause, the key comes back.
	ks.SetKeyStatus(0)
	clock.Add(accessKeyRetryDelay)
	ci, err = mint()
	require.NoError(t, err)
	assert.Equal(t, "kid-6", kidOf(t, ci.AccessToken, "key-6-0123456789abcdef"))
	assert.Equal(t, 1, cred.Calls(), "one Entra token for the whole day")
}

// The first negotiate waits for the first key, bounded by its context; a
// caller that gives up is not counted as a failure of the service.
func TestIdentityFirstKeyWaitsWithContext(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ks := newKeyService(t)
	arrived, release := make(chan struct{}, 4), make(chan struct{})
	ks.keyGate = func(r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	cred := &fakeCredential{clock: clock, lifetime: time.Hour}
	c := newIdentityClient(t, ks, cred, clock, &ClientOptions{Retry: RetryOptions{MaxRetries: -1}})

	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	first, second := make(chan error, 1), make(chan error, 1)
	go func() { _, err := c.ConnectionInfo(ctx1, "chat", nil); first <- err }()
	<-arrived
	go func() { _, err := c.ConnectionInfo(ctx2, "chat", nil); second <- err }()
	cancel2()
	assert.ErrorIs(t, <-second, context.Canceled, "a waiter leaves when its context ends")
	cancel1()
	assert.ErrorIs(t, <-first, context.Canceled)
	assert.Equal(t, 1, ks.KeyCalls())

	close(release)
	ci, err := c.ConnectionInfo(context.Background(), "chat", nil)
	require.NoError(t, err, "a cancelled wait is no failure, so the next call fetches at once")
	assert.Equal(t, "kid-2", kidOf(t, ci.AccessToken, "key-2-0123456789abcdef"))
}

func TestIdentityClientTokensFromService(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ks := newKeyService(t)
	cred := &fakeCredential{clock: clock, lifetime: time.Hour}
	c := newIdentityClient(t, ks, cred, clock, &ClientOptions{ClientTokensFromService: true})
	ci, err := c.ConnectionInfo(context.Background(), "chat", &ClientTokenOptions{UserID: "bob"})
	require.NoError(t, err)
	assert.Equal(t, "service-minted.bob", ci.AccessToken)
	assert.Equal(t, "Bearer entra-1", ks.LastBearer())
	assert.Equal(t, 0, ks.KeyCalls(), "no key is fetched")
	_, err = c.ConnectionInfo(context.Background(), "chat", &ClientTokenOptions{Claims: []Claim{{Type: "role", Value: "x"}}})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.Contains(t, err.Error(), "ClientTokenOptions.Claims")
}

// Bindings: an identity-based connection string needs a credential, which
// BindOptions gives directly (ClientOptions.Credential) or through a
// constructor; a shared Client shares its key with negotiate.
func TestIdentityBindings(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ks := newKeyService(t)
	cred := &fakeCredential{clock: clock, lifetime: time.Hour}
	settings := SettingsFunc(func(name string) (string, bool) {
		return "Endpoint=" + ks.srv.URL + ";AuthType=azure.msi;ClientId=abc", name == DefaultConnectionStringSetting
	})
	b := ConnectionInfoBinding{HubName: "chat", UserID: "{query.user}"}

	_, err := b.Bind(&BindOptions{Settings: settings})
	require.ErrorIs(t, err, ErrMissingCredential)
	assert.Contains(t, err.Error(), "BindOptions.NewCredential")
	_, err = OutputBinding{HubName: "chat"}.Bind(&BindOptions{Settings: settings}, nil)
	require.ErrorIs(t, err, ErrMissingCredential)

	var gotCS *ConnectionString
	in, err := b.bindAt(&BindOptions{Settings: settings, ClientOptions: &ClientOptions{Now: clock.Now}, NewCredential: func(cs *ConnectionString) (azcore.TokenCredential, error) {
		gotCS = cs
		return cred, nil
	}}, clock.Now)
	require.NoError(t, err)
	assert.Equal(t, "abc", gotCS.ClientID())
	r := httptest.NewRequest(http.MethodPost, "/api/negotiate?user=carol", nil)
	ci, err := in.Resolve(r)
	require.NoError(t, err)
	assert.Equal(t, "kid-1", kidOf(t, ci.AccessToken, "key-1-0123456789abcdef"))

	// One shared Client: the output and the input fetch one key and one
	// token between them.
	shared := newIdentityClient(t, ks, cred, clock, nil)
	in2, err := b.Bind(&BindOptions{Settings: settings, Client: shared})
	require.NoError(t, err)
	out, err := OutputBinding{HubName: "chat"}.Bind(&BindOptions{Settings: settings, Client: shared}, nil)
	require.NoError(t, err)
	before, credBefore := ks.KeyCalls(), cred.Calls()
	for i := 0; i < 3; i++ {
		_, err := in2.Resolve(r)
		require.NoError(t, err)
		col := out.NewCollector()
		require.NoError(t, col.AddMessage(Message{Target: "t"}))
		require.NoError(t, col.Flush(context.Background()))
	}
	assert.Equal(t, before+1, ks.KeyCalls())
	assert.Equal(t, credBefore+1, cred.Calls())

	// The negotiate handler maps a missing key to 503.
	ks.SetKeyStatus(http.StatusUnauthorized)
	in3, err := b.Bind(&BindOptions{Settings: settings, ClientOptions: &ClientOptions{Credential: cred}})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	NegotiateHandler(in3).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/negotiate?user=dan", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Contains(t, rec.Body.String(), "SignalR App Server")
	assert.NotContains(t, rec.Body.String(), "entra-")
}
