package signalr

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/funcsignalr/signalr/internal/restapi"
)

// APIVersion selects the family of REST routes a Client calls.
type APIVersion string

const (
	// APIVersion20220601 is the current data-plane API:
	// /api/hubs/{hub}/...?api-version=2022-06-01. It is the default.
	APIVersion20220601 APIVersion = "2022-06-01"
	// APIVersionV1 is the older /api/v1/hubs/{hub}/... family, for services
	// or emulators that lack the 2022-06-01 routes. It has no routes for
	// closing connections in bulk or removing a connection from all groups;
	// those operations fail with ErrUnsupportedOperation.
	APIVersionV1 APIVersion = "v1"
	// APIVersion20230701 adds Execute and service-minted client tokens (and the
	// access key route) to 2022-06-01; the older routes are unchanged.
	APIVersion20230701 APIVersion = "2023-07-01"
	// APIVersion20241201 adds Invoke, the connection streams and the group
	// member listing to 2023-07-01.
	APIVersion20241201 APIVersion = "2024-12-01"
)

// apiVersionOrder ranks the dated versions; v1 is not in it.
var apiVersionOrder = map[APIVersion]int{APIVersion20220601: 1, APIVersion20230701: 2, APIVersion20241201: 3}

// routeVersion returns the version a request for spec is sent with: the
// Client's, or the operation's first version when the Client's is older.
// ok is false when the Client speaks v1 and v1 has no such route.
func routeVersion(v APIVersion, spec *restapi.Route) (APIVersion, bool) {
	if v == APIVersionV1 {
		return v, spec.PathV1 != "" && spec.Since == ""
	}
	if since := APIVersion(spec.Since); since != "" && apiVersionOrder[since] > apiVersionOrder[v] {
		return since, true
	}
	return v, true
}

// routeArgs are the values that fill a route and its query.
type routeArgs struct {
	hub, user, group, connection, stream string
	excluded                             []string
	reason                               string
	ttl                                  int64 // seconds; used when hasTTL
	hasTTL                               bool
	// query holds further parameters, name then value, in order.
	query []string
}

// buildRoute returns the request URL without query (the token audience)
// and the full request URL, both escaped. The hub is lower-cased.
func buildRoute(base string, v APIVersion, spec *restapi.Route, a *routeArgs) (aud, rawURL string, ok bool) {
	v, ok = routeVersion(v, spec)
	if !ok {
		return "", "", false
	}
	tmpl := spec.Path
	if v == APIVersionV1 {
		tmpl = spec.PathV1
	}
	n := len(base) + len(tmpl) + len(a.hub) + len(a.user) + len(a.group) + len(a.connection) + len(a.stream) + len(a.reason) + 48
	for _, q := range a.query {
		n += len(q) + 8
	}
	for _, id := range a.excluded {
		n += len(id) + 10
	}
	b := make([]byte, 0, n)
	b = append(b, base...)
	for tmpl != "" {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b = append(b, tmpl...)
			break
		}
		b = append(b, tmpl[:i]...)
		j := strings.IndexByte(tmpl, '}')
		switch tmpl[i+1 : j] {
		case "hub":
			b = appendEscaped(b, strings.ToLower(a.hub))
		case "user":
			b = appendSegment(b, a.user)
		case "group":
			b = appendSegment(b, a.group)
		case "connection":
			b = appendSegment(b, a.connection)
		case "stream":
			b = appendSegment(b, a.stream)
		}
		tmpl = tmpl[j+1:]
	}
	audLen := len(b)
	sep := byte('?')
	add := func(k, val string) {
		b = append(b, sep)
		sep = '&'
		b = append(b, k...)
		b = append(b, '=')
		b = appendEscaped(b, val)
	}
	if v != APIVersionV1 {
		b = append(b, "?api-version="...)
		b = append(b, v...)
		sep = '&'
	}
	for _, id := range a.excluded {
		add("excluded", id)
	}
	if a.reason != "" {
		add("reason", a.reason)
	}
	if a.hasTTL {
		add("ttl", strconv.FormatInt(a.ttl, 10))
	}
	for i := 0; i+1 < len(a.query); i += 2 {
		add(a.query[i], a.query[i+1])
	}
	// One string holds both; the audience is its prefix. b is not used
	// again, so the string can share its bytes, as strings.Builder does.
	rawURL = unsafe.String(unsafe.SliceData(b), len(b))
	return rawURL[:audLen], rawURL, true
}
