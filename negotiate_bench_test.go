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

	"github.com/funcsignalr/signalr/internal/benchhub"
)

// BenchmarkNegotiateHTTP compares, end to end over loopback HTTP, the
// library's NegotiateHandler (bound from a ConnectionInfoBinding with
// userId {headers.x-ms-client-principal-id}) with a bare net/http handler
// that reads the same header, signs the same claims with golang-jwt and
// writes the same JSON. Batches of requests to each alternate inside one
// benchmark, from the same client and the same number of concurrent
// callers, so both see the same machine load; each round is a batch of
// each, and which goes first alternates from round to round. It reports
// the median of the per-round ratios of our requests per second to the
// bare handler's ("x-bare-rps"), the lowest and highest, and the ratio of
// the totals.
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
	if err != nil {
		b.Fatal(err)
	}
	ours := httptest.NewServer(NegotiateHandler(in))
	defer ours.Close()
	key := []byte(testKey)
	aud := "http://localhost:8888/client/?hub=chat"
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uid := r.Header.Get("X-Ms-Client-Principal-Id")
		now := time.Now().Unix()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"asrs.s.uid": uid, "nameid": uid,
			"nbf": now, "exp": now + 3600, "iat": now, "aud": aud,
		}).SignedString(key)
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
	}))
	defer bare.Close()
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
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	run(ours.URL, workers*10) // warm the connections
	run(bare.URL, workers*10)
	var tOurs, tBare time.Duration
	var ratios []float64
	n := 0
	b.ResetTimer()
	for round := 0; n < b.N; round++ {
		var dOurs, dBare time.Duration
		if round%2 == 0 {
			dBare = run(bare.URL, batch)
			dOurs = run(ours.URL, batch)
		} else {
			dOurs = run(ours.URL, batch)
			dBare = run(bare.URL, batch)
		}
		tOurs, tBare = tOurs+dOurs, tBare+dBare
		ratios = append(ratios, dBare.Seconds()/dOurs.Seconds())
		n += 2 * batch
	}
	sum := benchhub.Summarize(ratios)
	b.ReportMetric(sum.Median, "x-bare-rps")
	b.ReportMetric(sum.Min, "x-bare-min")
	b.ReportMetric(sum.Max, "x-bare-max")
	b.ReportMetric(float64(sum.N), "rounds")
	b.ReportMetric(tBare.Seconds()/tOurs.Seconds(), "x-bare-total")
	b.ReportMetric(float64(n/2)/tOurs.Seconds(), "ours-req/s")
	b.ReportMetric(float64(n/2)/tBare.Seconds(), "bare-req/s")
	if b.N > 1 { // not the framework's probe run
		fmt.Printf("%s per-round ours ÷ bare: %v [%s]\n", b.Name(), sum, benchhub.List(ratios))
	}
}
