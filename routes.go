package signalr

import (
	"strconv"
	"strings"
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

// opKind decides the retry policy of an operation.
type opKind uint8

const (
	kindSend   opKind = iota // a message; not retried on a plain 500
	kindGroup                // a group membership change
	kindClose                // closing connections
	kindExists               // an existence check
	kindHealth               // the health probe; never retried
)

// opID names one REST operation.
type opID uint8

const (
	opBroadcast opID = iota
	opSendToUser
	opSendToConnection
	opSendToGroup
	opCloseAll
	opCloseGroup
	opCloseUser
	opCloseConnection
	opConnectionExists
	opGroupExists
	opUserExists
	opUserInGroup
	opAddConnectionToGroup
	opRemoveConnectionFromGroup
	opRemoveConnectionFromAllGroups
	opAddUserToGroup
	opRemoveUserFromGroup
	opRemoveUserFromAllGroups
	opHealth
)

// opSpec is one row of the route table. Templates hold {hub}, {user},
// {group} and {connection}; an empty v1 template means v1 lacks the route.
type opSpec struct {
	name   string
	method string
	kind   opKind
	v2022  string
	v1     string
	// notFound is the error code that makes a 404 an expected answer:
	// success for adds and closes, false for existence checks.
	notFound string
}

// Error codes of expected 404s.
const (
	codeConnectionNotExistedError   = "Error.Connection.NotExisted"
	codeConnectionNotExistedWarning = "Warning.Connection.NotExisted"
	codeGroupNotExisted             = "Warning.Group.NotExisted"
	codeUserNotExisted              = "Warning.User.NotExisted"
	codeUserNotInGroup              = "Info.User.NotInGroup"
)

var ops = [...]opSpec{
	opBroadcast:                     {"broadcast", "POST", kindSend, "/api/hubs/{hub}/:send", "/api/v1/hubs/{hub}", ""},
	opSendToUser:                    {"send to user", "POST", kindSend, "/api/hubs/{hub}/users/{user}/:send", "/api/v1/hubs/{hub}/users/{user}", ""},
	opSendToConnection:              {"send to connection", "POST", kindSend, "/api/hubs/{hub}/connections/{connection}/:send", "/api/v1/hubs/{hub}/connections/{connection}", ""},
	opSendToGroup:                   {"send to group", "POST", kindSend, "/api/hubs/{hub}/groups/{group}/:send", "/api/v1/hubs/{hub}/groups/{group}", ""},
	opCloseAll:                      {"close all connections", "POST", kindClose, "/api/hubs/{hub}/:closeConnections", "", ""},
	opCloseGroup:                    {"close group connections", "POST", kindClose, "/api/hubs/{hub}/groups/{group}/:closeConnections", "", ""},
	opCloseUser:                     {"close user connections", "POST", kindClose, "/api/hubs/{hub}/users/{user}/:closeConnections", "", ""},
	opCloseConnection:               {"close connection", "DELETE", kindClose, "/api/hubs/{hub}/connections/{connection}", "/api/v1/hubs/{hub}/connections/{connection}", codeConnectionNotExistedWarning},
	opConnectionExists:              {"check connection", "HEAD", kindExists, "/api/hubs/{hub}/connections/{connection}", "/api/v1/hubs/{hub}/connections/{connection}", codeConnectionNotExistedWarning},
	opGroupExists:                   {"check group", "HEAD", kindExists, "/api/hubs/{hub}/groups/{group}", "/api/v1/hubs/{hub}/groups/{group}", codeGroupNotExisted},
	opUserExists:                    {"check user", "HEAD", kindExists, "/api/hubs/{hub}/users/{user}", "/api/v1/hubs/{hub}/users/{user}", codeUserNotExisted},
	opUserInGroup:                   {"check user in group", "HEAD", kindExists, "/api/hubs/{hub}/users/{user}/groups/{group}", "/api/v1/hubs/{hub}/groups/{group}/users/{user}", codeUserNotInGroup},
	opAddConnectionToGroup:          {"add connection to group", "PUT", kindGroup, "/api/hubs/{hub}/groups/{group}/connections/{connection}", "/api/v1/hubs/{hub}/groups/{group}/connections/{connection}", codeConnectionNotExistedError},
	opRemoveConnectionFromGroup:     {"remove connection from group", "DELETE", kindGroup, "/api/hubs/{hub}/groups/{group}/connections/{connection}", "/api/v1/hubs/{hub}/groups/{group}/connections/{connection}", codeConnectionNotExistedError},
	opRemoveConnectionFromAllGroups: {"remove connection from all groups", "DELETE", kindGroup, "/api/hubs/{hub}/connections/{connection}/groups", "", ""},
	opAddUserToGroup:                {"add user to group", "PUT", kindGroup, "/api/hubs/{hub}/users/{user}/groups/{group}", "/api/v1/hubs/{hub}/groups/{group}/users/{user}", ""},
	opRemoveUserFromGroup:           {"remove user from group", "DELETE", kindGroup, "/api/hubs/{hub}/users/{user}/groups/{group}", "/api/v1/hubs/{hub}/groups/{group}/users/{user}", ""},
	opRemoveUserFromAllGroups:       {"remove user from all groups", "DELETE", kindGroup, "/api/hubs/{hub}/users/{user}/groups", "/api/v1/hubs/{hub}/users/{user}/groups", ""},
	opHealth:                        {"health check", "HEAD", kindHealth, "/api/health", "/api/v1/health", ""},
}

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
func buildRoute(base string, v APIVersion, spec *opSpec, a *routeArgs) (aud, rawURL string, ok bool) {
	tmpl := spec.v2022
	if v == APIVersionV1 {
		tmpl = spec.v1
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
