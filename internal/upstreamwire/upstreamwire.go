// Package upstreamwire names the HTTP headers of the serverless upstream:
// the requests SignalR Service sends to an app's upstream endpoint. The
// root package reads them into an InvocationContext, and signalrtest writes
// them to build requests in tests; users of either never spell a header.
package upstreamwire

// Upstream request headers the service sets.
const (
	// HeaderConnectionID is the connection the request is about.
	HeaderConnectionID = "X-ASRS-Connection-Id"
	// HeaderHub is the hub, in lower case.
	HeaderHub = "X-ASRS-Hub"
	// HeaderCategory is "connections" or "messages".
	HeaderCategory = "X-ASRS-Category"
	// HeaderEvent is "connected", "disconnected" or the hub method.
	HeaderEvent = "X-ASRS-Event"
	// HeaderUserID is the connection's user, if any.
	HeaderUserID = "X-ASRS-User-Id"
	// HeaderUserClaims are the connection's claims, "type: value, ...".
	HeaderUserClaims = "X-ASRS-User-Claims"
	// HeaderClientQuery is the query string the client connected with.
	HeaderClientQuery = "X-ASRS-Client-Query"
	// HeaderSignature is "sha256=<hex>" HMACs of the connection id, one per
	// access key.
	HeaderSignature = "X-ASRS-Signature"
)
