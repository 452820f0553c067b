// Package signalr brings the Azure Functions SignalR Service bindings to plain
// Go HTTP servers.
//
// Azure Functions gives C#, JavaScript, Python and Java apps three bindings
// for Azure SignalR Service in serverless mode; this package is their Go
// form, for net/http handlers:
//
//   - The SignalRConnectionInfo input binding becomes ConnectionInfoBinding:
//     bind it once, then NegotiateHandler answers the clients' negotiate
//     request with {"url", "accessToken"}, a short-lived HS256 token for one
//     hub and optionally one user (userId may be a binding expression such as
//     {headers.x-ms-client-principal-id}).
//   - The SignalR output binding becomes OutputBinding: an Output makes a
//     Collector per request, the handler adds Message and GroupAction items
//     (it finds the Collector with CollectorFromContext), and WithOutput
//     flushes them to the SignalR Service REST API through a Client shared by
//     every binding of a connection string, reporting every item that could
//     not be delivered.
//   - Client is the REST API itself: NewClient returns an error for a bad
//     connection string or options, and every operation is Op(ctx, hub,
//     ids…, *OpOptions) with nil options meaning the defaults.
//   - The SignalR trigger becomes TriggerBinding and Upstream: an
//     http.Handler for the serverless upstream endpoint
//     (DefaultUpstreamPath) that checks X-ASRS-Signature against the access
//     keys, decodes JSON and MessagePack bodies, and dispatches connected,
//     disconnected and client hub-method invocations by (hub, category,
//     event) to TriggerHandlers, answering a blocking invocation with a
//     framed Completion of the handler's result.
//   - NewHub is the class-based hub (the Functions ServerlessHub): the
//     exported methods of a Go value become hub methods with typed
//     parameters decoded from JSON and MessagePack, OnConnected and
//     OnDisconnected the connection events; HubCall's Clients and Groups
//     send through the request's Collector, ClientMethod and ClientFunc
//     type the client methods, and HubFilters wrap every call.
//     NewNegotiateHandler adds validated negotiate, diagnostic clients,
//     close on authentication expiration, token lifetime and
//     ApplicationName to a ConnectionInfoBinding.
//   - Bindings can be declared in Go or loaded from the same function.json a
//     Functions app uses (LoadFunctionJSON), with connection strings read
//     from the environment or local.settings.json (DefaultSettings).
//
// # Identity-based connections
//
// Where access keys are disabled, a connection string with AuthType=azure,
// azure.msi or azure.app (and no AccessKey) plus an azcore.TokenCredential
// (ClientOptions.Credential, or BindOptions.NewCredential for bindings
// that read their connection string from a setting; package azidentity
// builds one from the connection string) authenticates with Microsoft Entra
// ID: REST calls carry the credential's token for EntraScope, and client
// tokens (Client.ConnectionInfo, the one way to mint them) are signed with a
// key fetched from the service, named in their kid header and renewed on the
// SDKs' schedule (see ClientOptions.Credential), or minted by the service
// (ClientTokensFromService).
//
// Collectors send through the Sender interface, the same call for a Client
// and for the recording fake of package signalrtest, which unit tests make
// an Output from with NewOutput. Package emulator is a local SignalR
// Service that speaks the real client and REST protocols, so the official
// @microsoft/signalr client and this package's Client work against it on a
// laptop or in CI; in production the same code talks to Azure SignalR
// Service.
//
// # Errors
//
// Bad input wraps one of the sentinel errors (ErrInvalidConnectionString,
// ErrInvalidBinding, ErrInvalidMessage, ...) for errors.Is and names the
// field at fault. A REST failure is a *ResponseError for errors.As; a flush
// that could not deliver some items returns one *DeliveryError per item.
// Access keys, client secrets and tokens never appear in errors, logs or
// String output.
//
// # Limits
//
// Every decoder of data from clients, the service or REST callers is
// bounded in size and in nesting: values nested deeper than
// MaxNestingDepth (100 arrays and objects) are refused with an error
// wrapping ErrTooDeep, counted without recursion before any handler or
// recursive decoder sees them (an upstream body is answered 400).
//
// # Azure Functions
//
// Package customhandler runs the same handlers as an Azure Functions custom
// handler: the Functions host resolves the bindings, and NewInputFunc and
// InvocationContext.SetParameterNames let that package hand the handlers
// the host's connection info and trigger data in the types they take here.
package signalr
