// Package emulator is a local Azure SignalR Service in serverless mode, for
// development and tests where Azure cannot be reached.
//
// It speaks the real protocols, so the official clients and SDKs work
// against it unchanged:
//
//   - the client endpoint: POST /client/negotiate?hub=<hub> (negotiate
//     versions 0 and 1) and, at /client/?hub=<hub>&id=<token>, the
//     WebSockets, Server-Sent Events and Long Polling transports with the
//     JSON and MessagePack hub protocols (handshake, pings, Close messages,
//     client timeout). Server-Sent Events carries text only, so negotiate
//     lists it for JSON only, as ASP.NET Core does. A Long Polling poll
//     waits up to Options.PollTimeout; a second poll ends the first with
//     204; DELETE ends the connection; a client that has no poll waiting
//     for Options.ClientTimeout is dropped;
//   - the data-plane REST API of api-versions 2022-06-01, 2023-07-01 and
//     2024-12-01 under /api/... and of v1 under /api/v1/...: send to all,
//     users, groups and connections, group membership of connections and
//     users (with ttl), closing connections, existence checks and health;
//     and, from the dated versions, client invocations (:invoke), paged
//     group listing, :execute with an OData filter, connection streams,
//     :generateToken and the access key (also at /api/v1/auth/accessKey,
//     where the SDKs call it);
//   - CORS for browsers on every route.
//
// Client and REST tokens are checked as the service checks them: HS256 with
// the access key's UTF-8 bytes, an exp in the future, and an aud equal to
// the client URL or the REST request URL (with or without the port). Hub
// names are case-insensitive; user ids and group names are not.
//
// Stateful reconnect (the clients' withStatefulReconnect()) is granted on
// WebSockets: a connection whose socket drops waits
// Options.StatefulReconnectWindow (15s) for the client to reopen it, then
// replays what the client has not acknowledged; see statefulreconnect.go.
//
// Closing connections through the REST API sends each client a Close
// message with the reason as its error and allowReconnect set, as the Azure
// emulator does; a client built withAutomaticReconnect therefore reconnects.
//
// Upstream (Options.Upstream, the CLI's -upstream and -config): as the
// service does in serverless mode, the emulator POSTs connected after a
// client's handshake, disconnected after it closes (a Long Polling client
// that stopped polling included), and each client Invocation as
// messages/<target> to the first matching URL template, with the X-ASRS-*
// headers and the X-ASRS-Signature of the access key. The Invocation goes
// up as the client sent it without its framing: JSON as application/json,
// a MessagePack array as application/x-msgpack; the app answers in the
// client's protocol. The
// upstream's answer to a blocking invocation becomes its Completion (the
// framed body as sent; an empty 200 or a 204 is an empty Completion; any
// other status, a timeout or an unreachable upstream is an error
// Completion). Each connection's events go out in order on its own
// goroutine, so a slow upstream holds up only that connection.
// StreamInvocation messages, client stream items and CancelInvocation are
// not forwarded, as in Azure SignalR Service; a stream invocation gets an
// error Completion. With no matching template, an invocation that expects a
// result gets a Completion with an error saying no upstream is configured,
// and a fire-and-forget one is dropped.
//
// The other way round, REST :invoke sends the client an Invocation with an
// invocation id and answers {"result": ...} from its Completion; a client
// error is 500 Error.Invocation.ClientError, a connection that closes first
// 500 Error.Invocation.ConnectionClosed, no answer within
// Options.InvokeTimeout (default 60s) 504 Error.Invocation.Timeout, and an
// unknown connection 404 Error.Connection.NotExisted. Group listing pages in
// connection id order with an absolute nextLink, so that paging neither
// repeats nor skips a member that stays. :execute selects connections with
// the filter (see internal/odata for the grammar; a parse error is a 400 that
// names the character), then applies the commands in order to each; it
// takes at most MaxExecuteCommands (1,000) commands and answers 400 naming
// that limit beyond it. A batch is not atomic: it holds the hub's lock a
// few hundred steps at a time, so other calls on the hub wait for a chunk,
// never for the whole batch, and may see it half done. Stream
// items become StreamItem messages for the stream id and :complete a
// Completion (see rest_stream.go for this reading of the swagger).
// :generateToken mints a client token for <this endpoint>/client/?hub=<hub>
// that negotiate accepts. GET /api/auth/accessKey, for a caller with a valid
// REST token, returns {"KeyId","AccessKey"}: client tokens whose kid header
// names KeyId are checked against that key. Its errors have no body, as
// the swagger gives their response no schema: x-ms-error-code says what
// failed and, for a 401, WWW-Authenticate's error_description why.
//
// Identity mode (Options.Identity, or the command's -identity-key) stands in
// for Microsoft Entra ID: the REST API also accepts ES256 tokens of a local
// test issuer with audience https://signalr.azure.com (and says which check
// failed when it refuses one), the access-key route serves those callers
// only, and RotateAccessKey rotates the key (the previous one stays valid)
// so that renewal paths can be tested. The access key keeps working beside
// it. See identity.go.
//
// A REST send is encoded once per hub protocol, however many connections
// get it; MessagePack clients get its JSON arguments as MessagePack with
// their types kept (integers as integers, other numbers as float64,
// strings, booleans, null, arrays and maps with their keys in order).
//
// A broadcast is appended once to its hub's log, which every connection
// reads from its own place and writes from without a copy; a connection
// writes whatever is waiting as soon as it can, in frames of up to 16 KiB,
// and never waits for more to fill a frame. For WebSocket connections a few
// writer goroutines (as many as GOMAXPROCS, started when there is work)
// walk the connections with something waiting and write it, rather than
// each connection's goroutine being woken per burst; a connection whose
// socket has no room, or that has anything but messages to send, is left
// to its own goroutine.
//
// Each connection has a send queue bounded by count and by bytes
// (Options.SendQueueSize, Options.SendQueueBytes; the broadcasts it has not
// been handed yet count too), and every write has a
// deadline (Options.WriteTimeout). A client that does not keep up is closed,
// with WebSocket status 1008 (policy violation) when the queue overflows,
// rather than slowing down the others or growing the emulator's memory.
// Every goroutine a connection starts ends with it, and Shutdown waits for
// all of them; once it has begun, negotiate and the REST API answer 503.
//
// What clients and REST callers send is bounded in size
// (Options.MaxMessageSize) and in nesting: a hub message, REST body, stream
// item, :execute command, filter, access token or settings file nested
// deeper than the module's one limit, signalr.MaxNestingDepth (100 levels
// of arrays and objects), is refused before anything decodes it or sends it
// upstream: the client gets a Close saying so, the REST caller a 400.
//
// Hubs, pending connection tokens and user group memberships are kept per
// hub with their own locks; a hub that holds nothing is dropped. A user
// keeps the latest 100 group memberships added without a ttl, as the
// service documents; with one, the membership ends at its ttl.
//
// As a test instrument: GET / on the emulator's port is a dashboard, and
// /_emulator/api/... the JSON control and state API behind it (loopback
// clients only unless Options.RemoteControl); Events streams the traffic
// feed (events.go), Hubs/Connections/Groups/Users page through the state
// (state.go), Options.Record writes the feed as redacted JSON Lines
// (record.go), and AddFault, DropConnections and SetOffline make the
// emulator misbehave on purpose, deterministically under Options.FaultSeed
// (faults.go).
//
// There are three ways to start one. Programs call New, which returns an
// error for bad Options, and serve the Emulator (an http.Handler) with
// their own http.Server, or with Serve on a listener of their choosing.
// Examples call NewServer, which listens on a free port of 127.0.0.1 and,
// like httptest.NewServer, panics when it cannot. Tests call
// signalrtest.NewEmulator, which fails the test instead and closes the
// emulator when the test ends. The signalr-emulator command serves one on
// 127.0.0.1:8888.
package emulator
