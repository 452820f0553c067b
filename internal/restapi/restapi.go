// Package restapi is the one table of SignalR Service data-plane REST
// routes, shared by the root package's Client (which builds requests from
// it) and the emulator (which routes requests with it). Both sides are
// tested against the published swagger files in testdata/rest-api, so a
// mistake here cannot hide behind the sharing.
package restapi

import "strings"

// Kind groups operations that share a retry policy.
type Kind uint8

const (
	KindSend   Kind = iota // a message; not retried on a plain 500
	KindGroup              // a group membership change
	KindClose              // closing connections
	KindExists             // an existence check
	KindHealth             // the health probe; never retried
	KindInvoke             // a client invocation; never retried (not idempotent)
	KindRead               // a read (group listing, access key, token); retried like a check
)

// Op names one REST operation; both API versions share them.
type Op uint8

const (
	Broadcast Op = iota
	SendToUser
	SendToConnection
	SendToGroup
	CloseAll
	CloseGroup
	CloseUser
	CloseConnection
	ConnectionExists
	GroupExists
	UserExists
	UserInGroup
	AddConnectionToGroup
	RemoveConnectionFromGroup
	RemoveConnectionFromAllGroups
	AddUserToGroup
	RemoveUserFromGroup
	RemoveUserFromAllGroups
	Health
	// Added by 2023-07-01.
	GetAccessKey
	Execute
	GenerateClientToken
	// Added by 2024-12-01.
	InvokeConnection
	SendToConnectionStream
	CompleteConnectionStream
	ListConnectionsInGroup
	numOps
)

// API versions that introduced operations (Route.Since).
const (
	Version20230701 = "2023-07-01"
	Version20241201 = "2024-12-01"
)

// Route is one operation. Path templates are absolute and hold {hub},
// {user}, {group}, {connection} and {stream}, one path segment each.
type Route struct {
	Op     Op
	Name   string // for errors: "send to user"
	Method string // as in the swagger; existence checks are HEAD
	Kind   Kind
	// Path is the template of 2022-06-01 and later versions (the paths
	// did not change).
	Path string
	// PathV1 is the /api/v1 template, or "" when v1 lacks the operation.
	PathV1 string
	// Aliases are further templates the emulator answers (as the Azure
	// emulator does); the client never calls them.
	Aliases []string
	// Status is the success status of the 2022-06-01 API; StatusV1 that
	// of v1 (0 means Status).
	Status, StatusV1 int
	// NotFound is the error code that makes a 404 an expected answer:
	// success for adds and closes, false for existence checks.
	NotFound string
	// Since is the first API version that has the operation: "" for
	// 2022-06-01 (and v1 when PathV1 is set), else Version20230701 or
	// Version20241201.
	Since string
}

// Error codes of expected 404s.
const (
	CodeConnectionNotExistedError   = "Error.Connection.NotExisted"
	CodeConnectionNotExistedWarning = "Warning.Connection.NotExisted"
	CodeGroupNotExisted             = "Warning.Group.NotExisted"
	CodeUserNotExisted              = "Warning.User.NotExisted"
	CodeUserNotInGroup              = "Info.User.NotInGroup"
)

// Routes is the table, indexed by Op.
var Routes = [numOps]Route{
	Broadcast:                     {Broadcast, "broadcast", "POST", KindSend, "/api/hubs/{hub}/:send", "/api/v1/hubs/{hub}", nil, 202, 202, "", ""},
	SendToUser:                    {SendToUser, "send to user", "POST", KindSend, "/api/hubs/{hub}/users/{user}/:send", "/api/v1/hubs/{hub}/users/{user}", nil, 202, 202, "", ""},
	SendToConnection:              {SendToConnection, "send to connection", "POST", KindSend, "/api/hubs/{hub}/connections/{connection}/:send", "/api/v1/hubs/{hub}/connections/{connection}", nil, 202, 202, "", ""},
	SendToGroup:                   {SendToGroup, "send to group", "POST", KindSend, "/api/hubs/{hub}/groups/{group}/:send", "/api/v1/hubs/{hub}/groups/{group}", nil, 202, 202, "", ""},
	CloseAll:                      {CloseAll, "close all connections", "POST", KindClose, "/api/hubs/{hub}/:closeConnections", "", nil, 204, 0, "", ""},
	CloseGroup:                    {CloseGroup, "close group connections", "POST", KindClose, "/api/hubs/{hub}/groups/{group}/:closeConnections", "", nil, 204, 0, "", ""},
	CloseUser:                     {CloseUser, "close user connections", "POST", KindClose, "/api/hubs/{hub}/users/{user}/:closeConnections", "", nil, 204, 0, "", ""},
	CloseConnection:               {CloseConnection, "close connection", "DELETE", KindClose, "/api/hubs/{hub}/connections/{connection}", "/api/v1/hubs/{hub}/connections/{connection}", nil, 200, 202, CodeConnectionNotExistedWarning, ""},
	ConnectionExists:              {ConnectionExists, "check connection", "HEAD", KindExists, "/api/hubs/{hub}/connections/{connection}", "/api/v1/hubs/{hub}/connections/{connection}", nil, 200, 200, CodeConnectionNotExistedWarning, ""},
	GroupExists:                   {GroupExists, "check group", "HEAD", KindExists, "/api/hubs/{hub}/groups/{group}", "/api/v1/hubs/{hub}/groups/{group}", nil, 200, 200, CodeGroupNotExisted, ""},
	UserExists:                    {UserExists, "check user", "HEAD", KindExists, "/api/hubs/{hub}/users/{user}", "/api/v1/hubs/{hub}/users/{user}", nil, 200, 200, CodeUserNotExisted, ""},
	UserInGroup:                   {UserInGroup, "check user in group", "HEAD", KindExists, "/api/hubs/{hub}/users/{user}/groups/{group}", "/api/v1/hubs/{hub}/groups/{group}/users/{user}", nil, 200, 200, CodeUserNotInGroup, ""},
	AddConnectionToGroup:          {AddConnectionToGroup, "add connection to group", "PUT", KindGroup, "/api/hubs/{hub}/groups/{group}/connections/{connection}", "/api/v1/hubs/{hub}/groups/{group}/connections/{connection}", []string{"/api/hubs/{hub}/connections/{connection}/groups/{group}"}, 200, 200, CodeConnectionNotExistedError, ""},
	RemoveConnectionFromGroup:     {RemoveConnectionFromGroup, "remove connection from group", "DELETE", KindGroup, "/api/hubs/{hub}/groups/{group}/connections/{connection}", "/api/v1/hubs/{hub}/groups/{group}/connections/{connection}", []string{"/api/hubs/{hub}/connections/{connection}/groups/{group}"}, 200, 200, CodeConnectionNotExistedError, ""},
	RemoveConnectionFromAllGroups: {RemoveConnectionFromAllGroups, "remove connection from all groups", "DELETE", KindGroup, "/api/hubs/{hub}/connections/{connection}/groups", "", nil, 200, 0, "", ""},
	AddUserToGroup:                {AddUserToGroup, "add user to group", "PUT", KindGroup, "/api/hubs/{hub}/users/{user}/groups/{group}", "/api/v1/hubs/{hub}/groups/{group}/users/{user}", nil, 200, 202, "", ""},
	RemoveUserFromGroup:           {RemoveUserFromGroup, "remove user from group", "DELETE", KindGroup, "/api/hubs/{hub}/users/{user}/groups/{group}", "/api/v1/hubs/{hub}/groups/{group}/users/{user}", nil, 204, 202, "", ""},
	RemoveUserFromAllGroups:       {RemoveUserFromAllGroups, "remove user from all groups", "DELETE", KindGroup, "/api/hubs/{hub}/users/{user}/groups", "/api/v1/hubs/{hub}/users/{user}/groups", nil, 204, 200, "", ""},
	Health:                        {Health, "health check", "HEAD", KindHealth, "/api/health", "/api/v1/health", nil, 200, 200, "", ""},
	// The SDKs call the access key route below /api/v1 with no api-version,
	// so PathV1 is set although v1's swagger does not list it.
	GetAccessKey:             {GetAccessKey, "get access key", "GET", KindRead, "/api/auth/accessKey", "/api/v1/auth/accessKey", nil, 200, 200, "", Version20230701},
	Execute:                  {Execute, "execute commands", "POST", KindSend, "/api/hubs/{hub}/:execute", "", nil, 202, 0, "", Version20230701},
	GenerateClientToken:      {GenerateClientToken, "generate client token", "POST", KindRead, "/api/hubs/{hub}/:generateToken", "", nil, 200, 0, "", Version20230701},
	InvokeConnection:         {InvokeConnection, "invoke connection", "POST", KindInvoke, "/api/hubs/{hub}/connections/{connection}/:invoke", "", nil, 200, 0, "", Version20241201},
	SendToConnectionStream:   {SendToConnectionStream, "send to connection stream", "POST", KindSend, "/api/hubs/{hub}/connections/{connection}/streams/{stream}/:send", "", nil, 202, 0, "", Version20241201},
	CompleteConnectionStream: {CompleteConnectionStream, "complete connection stream", "POST", KindSend, "/api/hubs/{hub}/connections/{connection}/streams/{stream}/:complete", "", nil, 202, 0, "", Version20241201},
	ListConnectionsInGroup:   {ListConnectionsInGroup, "list connections in group", "GET", KindRead, "/api/hubs/{hub}/groups/{group}/connections", "", nil, 200, 0, "", Version20241201},
}

// Prefixes of the two API families.
const (
	Prefix2022 = "/api/"
	PrefixV1   = "/api/v1/"
)

// Uses reports whether the route's template holds the parameter name
// ("user", "group" or "connection").
func (r *Route) Uses(param string) bool {
	return strings.Contains(r.Path, "{"+param+"}")
}

// V1Status is the v1 success status.
func (r *Route) V1Status() int {
	if r.StatusV1 != 0 {
		return r.StatusV1
	}
	return r.Status
}

// Relative returns every template of the route (Path, PathV1 and Aliases)
// with its API prefix removed, without duplicates, in that order: the
// paths the emulator answers below either prefix.
func (r *Route) Relative() []string {
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		if strings.HasPrefix(p, PrefixV1) {
			p = strings.TrimPrefix(p, PrefixV1)
		} else {
			p = strings.TrimPrefix(p, Prefix2022)
		}
		for _, have := range out {
			if have == p {
				return
			}
		}
		out = append(out, p)
	}
	add(r.Path)
	add(r.PathV1)
	for _, a := range r.Aliases {
		add(a)
	}
	return out
}

// Error codes of a failed client invocation (:invoke). The service does
// not document them; these are the emulator's, and the Client recognizes
// them. The statuses are 500 for a client-side error and for a connection
// that closed before answering, and 504 for a timeout.
const (
	CodeInvocationClientError      = "Error.Invocation.ClientError"
	CodeInvocationConnectionClosed = "Error.Invocation.ConnectionClosed"
	CodeInvocationTimeout          = "Error.Invocation.Timeout"
)
