package signalr

import (
	"strconv"
	"strings"

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
)

// routeArgs are the values that fill a route and its query.
type routeArgs struct {
	hub, user, group, connection string
	excluded                     []string
	reason                       string
	ttl                          int64 // seconds; used when hasTTL
	hasTTL                       bool
}

// buildRoute returns the request URL without query (the token audience)
// and the full request URL, both escaped. The hub is lower-cased.
func buildRoute(base string, v APIVersion, spec *restapi.Route, a *routeArgs) (aud, rawURL string, ok bool) {
	tmpl := spec.Path
	if v == APIVersionV1 {
		tmpl = spec.PathV1
	}
	if tmpl == "" {
		return "", "", false
	}
	n := len(base) + len(tmpl) + len(a.hub) + len(a.user) + len(a.group) + len(a.connection) + len(a.reason) + 48
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
	// One string holds both; the audience is its prefix.
	rawURL = string(b)
	return rawURL[:audLen], rawURL, true
}
