// Package customhandler runs the handlers of a signalr app, unchanged, as an
// Azure Functions custom handler: the Functions host reads each function
// folder's function.json, resolves the SignalR bindings itself (through the
// extension bundle) and calls the Go process over HTTP; this package turns
// those calls into what the handlers get in a plain Go server.
//
//   - An httpTrigger function's handler is an http.Handler. It gets the
//     trigger's request as an *http.Request (method, URL with its query,
//     headers, body, and the route parameters as PathValue) and its response
//     becomes the function's http output binding.
//   - A signalRConnectionInfo input is a *signalr.Input (Server.ConnectionInfo)
//     whose Resolve returns what the host resolved, so NegotiateHandler
//     serves it and the app mints nothing.
//   - A signalRTrigger function's handler is a signalr.TriggerHandler. It gets
//     the invocation as a *signalr.InvocationContext with the binding's
//     parameterNames; its result becomes the ReturnValue.
//   - A signalR output binding is a *signalr.Output (Server.Output) whose
//     Collectors add their messages and group actions to the response's
//     Outputs entry for the binding, for the host to send.
//
// An app decides the mode by its environment: Port reports whether
// FUNCTIONS_CUSTOMHANDLER_PORT is set, and the Server is served on
// 127.0.0.1 at that port. examples/chat does both, and its README shows the
// host.json and the func commands.
//
// # What the host sends and reads
//
// The host's behaviour, from github.com/Azure/azure-functions-host (commit
// 89dc438d, 2024-10), which this package relies on:
//
//   - The host starts the process with FUNCTIONS_CUSTOMHANDLER_PORT set and
//     calls http://127.0.0.1:<port>/<FunctionName>, the function's folder
//     name, with POST (src/WebJobs.Script/Workers/Http/HttpWorkerProcess.cs,
//     HttpWorkerConstants.cs, DefaultHttpWorkerService.cs,
//     Workers/WorkerConstants.cs). Until the process listens it polls the
//     root with GET; any answer means ready. Output written to stdout and
//     stderr goes to the host's log (Workers/ProcessManagement/WorkerProcess.cs),
//     which is where this package's error lines appear.
//   - The body is {"Data":{…},"Metadata":{…}}; Data holds a value per input
//     binding, by the name in function.json
//     (Workers/MessageExtensions/ScriptInvocationContextExtensions.cs). Other
//     values are sent as JObject.FromObject(value) and, when that fails, as
//     the string JsonConvert.SerializeObject(value): hence every value here
//     may also arrive as a JSON string holding its JSON (older hosts always
//     sent strings), and a null value arrives as the string "null".
//   - An httpTrigger value is {"Url","Method","Query","Headers","Params",
//     "Identities","Body"} (Extensions/HttpRequestExtensions.cs
//     GetRequestAsJObject). Query is an object of strings since host commit
//     1ea19bf5 (2020-09, "Send query params as JObject"), a string holding
//     one before; Headers map names to arrays of strings; Body is a string,
//     base64 for application/octet-stream and multipart/* bodies, and absent
//     when the request had no Content-Length.
//   - A signalRConnectionInfo value is {"url","accessToken"} and, from newer
//     extensions, "tokenLifetimeSeconds" (not passed on: ConnectionInfo has no
//     such field); the extension gives it as a JObject, or as its indented
//     JObject.ToString() when the binding's type is string
//     (azure-sdk-for-net …/src/Bindings/SignalRConnectionInfo.cs and
//     SignalRInputBindings/SignalRConnectionInputBinding/SignalRConnectionInfoValueProvider.cs).
//   - A signalRTrigger value is the SignalR extension's InvocationContext
//     serialized with JObject.FromObject, so with PascalCase keys: Arguments,
//     Error, Category, Event, Hub, ConnectionId, UserId, Headers, Query,
//     Claims (github.com/Azure/azure-sdk-for-net,
//     sdk/signalr/Microsoft.Azure.WebJobs.Extensions.SignalRService/src/
//     TriggerBindings/SignalRTriggerBinding.cs and Context/InvocationContext.cs).
//     It has no invocation id, so InvocationContext.InvocationID stays empty.
//   - The answer is {"Outputs":{…},"Logs":[…],"ReturnValue":…}
//     (Workers/Http/HttpScriptInvocationResult.cs). Any status but 2xx fails
//     the invocation before Outputs or Logs are read
//     (DefaultHttpWorkerService.ProcessDefaultInvocationRequest,
//     EnsureSuccessStatusCode); the host logs the body only under Core
//     Tools, so this package also logs every failure itself.
//   - An http output's value must deserialize to StatusCode, Status, Body and
//     Headers (Workers/Http/HttpScriptInvocationResultExtensions.cs,
//     HttpOutputBindingResponse.cs). Any other output's value, when it is a
//     string that parses as base64, is turned into bytes unless the binding's
//     dataType is binary (same file, GetBindingValue): so SignalR items are
//     sent as JSON objects in an array, never as strings.
//   - An array output is added to the binding's IAsyncCollector one element
//     at a time (Binding/FunctionBinding.cs ReadAsEnumerable,
//     BindAsyncCollectorAsync); the SignalR extension reads each JObject as a
//     message when it has "target", else as a group action when it has
//     "action" (azure-sdk-for-net …/src/Bindings/SignalROutputConverter.cs).
//   - ReturnValue is used as the function's return value
//     (HttpScriptInvocationResultExtensions.ToScriptInvocationResult). The
//     host only gives a script function a return value when function.json
//     declares a "$return" output binding or the trigger's attribute sets
//     TriggerHandlesReturnValue
//     (Description/Workers/WorkerFunctionDescriptorProvider.cs), which
//     SignalRTriggerAttribute does not; whether the result then reaches the
//     client's invoke is not confirmed against a running host.
//
// A signalRConnectionInfo input whose userId is {headers.NAME} or
// {query.NAME} fails the whole invocation on the host when the request lacks
// that header or parameter, before the Go process is called ("Error while
// accessing 'x-ms-client-principal-id': property doesn't exist",
// Azure/azure-functions-signalrservice-extension#58). A plain server
// resolves a binding only when the handler asks for it; under the host a
// function that declares two such inputs needs both values present.
//
// # Limits
//
// Every invocation body is bounded in size (Options.MaxBodyBytes) and in the
// nesting of its arrays and objects (Options.MaxDepth). A bad body (no Data,
// a binding the function.json does not declare, a value of the wrong type)
// is answered with 500 and a message naming the function and the binding (a
// *PayloadError); nothing panics, and a handler's panic fails only its
// invocation. An HTTP response body is sent as text (a body that is not
// UTF-8 fails the invocation rather than reach the client changed), and a
// header with several values as one value joined with ", ", since the host
// sets one string per header name (Binding/Http/RawScriptResult.cs); more
// than one Set-Cookie fails the invocation.
package customhandler
