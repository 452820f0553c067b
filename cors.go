package signalr

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CORSOptions configure CORS. The nil value allows every origin but without
// credentials, like CORS "*" in Functions Core Tools: no other site can read a
// response made with the user's cookies, such as a negotiate token minted for
// a signed-in user. List your origins to allow credentials.
type CORSOptions struct {
	// AllowedOrigins are the origins allowed to call with credentials, such
	// as "https://app.example.com", compared case-insensitively. The
	// request's origin is echoed back with Access-Control-Allow-Credentials,
	// which the official SignalR clients need by default (withCredentials).
	// Empty means every origin, without credentials; browser clients on
	// another origin must then be built with withCredentials: false.
	AllowedOrigins []string
	// MaxAge is how long a browser may cache a preflight answer; zero means
	// ten minutes.
	MaxAge time.Duration
}

// CORS wraps h so browsers on allowed origins can call it: it echoes the
// allowed Origin, sets Access-Control-Allow-Credentials when origins are
// listed, and answers preflight requests itself (204, with the requested
// method and headers allowed; 403 for an origin that is not allowed).
// Requests without an Origin header pass through untouched.
func CORS(h http.Handler, opts *CORSOptions) http.Handler {
	var allowed map[string]bool
	maxAge := 10 * time.Minute
	if opts != nil {
		if len(opts.AllowedOrigins) > 0 {
			allowed = make(map[string]bool, len(opts.AllowedOrigins))
			for _, o := range opts.AllowedOrigins {
				allowed[strings.ToLower(strings.TrimRight(o, "/"))] = true
			}
		}
		if opts.MaxAge > 0 {
			maxAge = opts.MaxAge
		}
	}
	maxAgeSeconds := strconv.Itoa(int(maxAge / time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if origin == "" {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		if allowed != nil && !allowed[strings.ToLower(origin)] {
			if preflight {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		if allowed != nil {
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		if !preflight {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Access-Control-Request-Method")
		w.Header().Add("Vary", "Access-Control-Request-Headers")
		w.Header().Set("Access-Control-Allow-Methods", r.Header.Get("Access-Control-Request-Method"))
		if hdrs := r.Header.Get("Access-Control-Request-Headers"); hdrs != "" {
			w.Header().Set("Access-Control-Allow-Headers", hdrs)
		}
		w.Header().Set("Access-Control-Max-Age", maxAgeSeconds)
		w.WriteHeader(http.StatusNoContent)
	})
}
