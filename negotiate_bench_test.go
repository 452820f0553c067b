package signalr

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funcsignalr/signalr/internal/benchhub"
)

// BenchmarkNegotiateHTTP compares, end to end over loopback HTTP, the
// library's NegotiateHandler (bound from a ConnectionInfoBinding with
// userId {headers.x-ms-client-principal-id}) with two bare net/http
// handlers that read the same header, sign the same claims with golang-jwt
// and write the same JSON: one with jwt.MapClaims, as golang-jwt's
// examples do, and one with a claims struct, its fastest use (our handler
// signs a struct too, so this is the like-for-like baseline). Batches of
// requests to each rotate inside one benchmark, from the same client and
// the same number of concurrent callers, so all see the same machine load;
// each round is a batch of each, and which goes first rotates from round
// to round. It reports the median of the per-round ratios of our requests
// per second to the MapClaims handler's ("x-bare-rps") and to the struct
// handler's ("x-bare-struct-rps"), the lowest and highest, and the ratios
// of the totals.
//
//	go test -run '^$' -bench NegotiateHTTP -benchtime 20000x .
func BenchmarkNegotiateHTTP(b *testing.B) {
	const (
		user    = "0c8b2f6e-4b1d-4c1a-9a53-3f0e2d4a7b19"
		workers = 4
		batch   = 1000 // requests per side per round
	)
	in, err := ConnectionInfoBinding{HubName: "chat", UserID: "{headers.x-ms-client-principal-id}"}.
		Bind(&BindOptions{Settings: mapSettings(map[string]string{"AzureSignalRConnectionString": emulatorCS})})
	require.NoError(b, err)
	ours := httptest.NewServer(NegotiateHandler(in))
	defer ours.Close()
	key := []byte(testKey)
	aud := "http://localhost:8888/client/?hub=chat"
	// bareHandler answers negotiate as a hand-written golang-jwt handler
	// would, with the token sign makes for the caller's user id.
	bareHandler := func(sign func(uid string) (string, error)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, err := sign(r.Header.Get("X-Ms-Client-Principal-Id"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(struct {
				URL         string `json:"url"`
				AccessToken string `json:"accessToken"`
			}{aud, tok})
		})
	}
	bare := httptest.NewServer(bareHandler(func(uid string) (string, error) {
		now := time.Now().Unix()
		return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"asrs.s.uid": uid, "nameid": uid,
			"nbf": now, "exp": now + 3600, "iat": now, "aud": aud,
		}).SignedString(key)
	}))
	defer bare.Close()
	bareStruct := httptest.NewServer(bareHandler(func(uid string) (string, error) {
		now := time.Now()
		return jwt.NewWithClaims(jwt.SigningMethodHS256, benchClaims{
			UserID: uid, NameID: uid, Audience: aud,
			RegisteredClaims: jwt.RegisteredClaims{
				NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
				IssuedAt: jwt.NewNumericDate(now),
			},
		}).SignedString(key)
	}))
	defer bareStruct.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers * 2}}
	defer hc.CloseIdleConnections()

	run := func(url string, n int) time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		per := n / workers
		wg.Add(workers)
		for range workers {
			go func() {
				defer wg.Done()
				for range per {
					req, _ := http.NewRequest(http.MethodPost, url+"/api/negotiate?negotiateVersion=1", nil)
					req.Header.Set("X-Ms-Client-Principal-Id", user)
					resp, err := hc.Do(req)
					if err != nil {
						assert.NoError(b, err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					assert.False(b, resp.StatusCode != http.StatusOK, "status %d", resp.StatusCode)
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	urls := []string{ours.URL, bare.URL, bareStruct.URL}
	for _, u := range urls {
		run(u, workers*10) // warm the connections
	}
	var totals [3]time.Duration
	var ratios, structRatios []float64
	n := 0
	b.ResetTimer()
	for round := 0; n < b.N; round++ {
		var d [3]time.Duration
		for k := range urls {
			i := (round + k) % len(urls) // rotate which goes first
			d[i] = run(urls[i], batch)
			totals[i] += d[i]
		}
		ratios = append(ratios, d[1].Seconds()/d[0].Seconds())
		structRatios = append(structRatios, d[2].Seconds()/d[0].Seconds())
		n += 2 * batch
	}
	sum := benchhub.Summarize(ratios)
	ss := benchhub.Summarize(structRatios)
	b.ReportMetric(sum.Median, "x-bare-rps")
	b.ReportMetric(sum.Min, "x-bare-min")
	b.ReportMetric(sum.Max, "x-bare-max")
	b.ReportMetric(ss.Median, "x-bare-struct-rps")
	b.ReportMetric(ss.Min, "x-bare-struct-min")
	b.ReportMetric(ss.Max, "x-bare-struct-max")
	b.ReportMetric(float64(sum.N), "rounds")
	b.ReportMetric(totals[1].Seconds()/totals[0].Seconds(), "x-bare-total")
	b.ReportMetric(totals[2].Seconds()/totals[0].Seconds(), "x-bare-struct-total")
	b.ReportMetric(float64(n/2)/totals[0].Seconds(), "ours-req/s")
	b.ReportMetric(float64(n/2)/totals[1].Seconds(), "bare-req/s")
	b.ReportMetric(float64(n/2)/totals[2].Seconds(), "bare-struct-req/s")
	if b.N > 1 { // not the framework's probe run
		fmt.Printf("%s per-round ours ÷ bare (MapClaims): %v [%s]\n", b.Name(), sum, benchhub.List(ratios))
		fmt.Printf("%s per-round ours ÷ bare (claims struct): %v [%s]\n", b.Name(), ss, benchhub.List(structRatios))
	}
}

// benchClaims are the bare handler's claims as a struct: the same members
// NegotiateHandler signs, aud a string as in its tokens (the outer field
// hides RegisteredClaims' aud, which would be an array).
type benchClaims struct {
	UserID   string `json:"asrs.s.uid"`
	NameID   string `json:"nameid"`
	Audience string `json:"aud"`
	jwt.RegisteredClaims
}
