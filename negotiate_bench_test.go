package signalr

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The negotiate benchmarks compare the library's per-request work (resolve
// the binding expressions, then mint the token) with a bare golang-jwt HS256
// sign of the same claims, measured in the same run.
//
//	go test -run '^$' -bench 'Negotiate' -benchmem -cpu 1 -count 5 .

func benchInput(b *testing.B) (*Input, *http.Request) {
	in, err := ConnectionInfoBinding{HubName: "chat", UserID: "{headers.x-ms-client-principal-id}"}.
		Bind(&BindOptions{Settings: mapSettings(map[string]string{"AzureSignalRConnectionString": emulatorCS})})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/api/negotiate?negotiateVersion=1", nil)
	r.Header.Set("X-Ms-Client-Principal-Id", "0c8b2f6e-4b1d-4c1a-9a53-3f0e2d4a7b19")
	return in, r
}

func benchBareSign(b *testing.B) {
	key := []byte(testKey)
	user := "0c8b2f6e-4b1d-4c1a-9a53-3f0e2d4a7b19"
	aud := "http://localhost:8888/client/?hub=chat"
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"asrs.s.uid": user, "nameid": user,
			"nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "aud": aud,
		})
		if _, err := tok.SignedString(key); err != nil {
			b.Fatal(err)
		}
	}
}

func benchResolve(b *testing.B) {
	in, r := benchInput(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := in.Resolve(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNegotiate reports each side and, as "x-bare", our cost as a
// multiple of the bare golang-jwt sign timed in the same run.
func BenchmarkNegotiate(b *testing.B) {
	b.Run("bare-golang-jwt-sign", benchBareSign)
	b.Run("resolve-and-mint", benchResolve)
	b.Run("handler", func(b *testing.B) {
		in, r := benchInput(b)
		h := NegotiateHandler(in)
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		}
	})
}

// BenchmarkNegotiateRatio interleaves batches of the bare sign and of ours
// inside one benchmark, so both see the same machine load, and reports our
// time as a multiple of the bare sign ("x-bare").
func BenchmarkNegotiateRatio(b *testing.B) {
	in, r := benchInput(b)
	key := []byte(testKey)
	user := "0c8b2f6e-4b1d-4c1a-9a53-3f0e2d4a7b19"
	aud := "http://localhost:8888/client/?hub=chat"
	const batch = 200
	var bare, ours time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		for range batch {
			now := time.Now()
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
				"asrs.s.uid": user, "nameid": user,
				"nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "aud": aud,
			})
			if _, err := tok.SignedString(key); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for range batch {
			if _, err := in.Resolve(r); err != nil {
				b.Fatal(err)
			}
		}
		bare += mid.Sub(start)
		ours += time.Since(mid)
		n += batch
	}
	b.ReportMetric(float64(ours)/float64(bare), "x-bare")
	b.ReportMetric(float64(ours.Nanoseconds())/float64(n), "ours-ns/op")
	b.ReportMetric(float64(bare.Nanoseconds())/float64(n), "bare-ns/op")
}
