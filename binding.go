package signalr

// ConnectionInfoBinding declares a SignalRConnectionInfo input binding, the
// Go form of a function.json entry with "type": "signalRConnectionInfo".
// Bind it once at start-up, then resolve it per request.
type ConnectionInfoBinding struct {
	// Name is the binding's name in function.json; informational in Go.
	Name string `json:"name"`
	// HubName is the hub to connect to. Required. It may hold binding
	// expressions such as {query.hub}.
	HubName string `json:"hubName"`
	// UserID is the user the token is for, usually a binding expression such
	// as {headers.x-ms-client-principal-id}. Empty means anonymous.
	UserID string `json:"userId"`
	// IDToken is a JWT, usually {headers.authorization}, whose claims named
	// in ClaimTypeList are copied into the access token. It is read, not
	// validated, as in the Functions extension; a "Bearer " prefix is
	// removed.
	IDToken string `json:"idToken"`
	// ClaimTypeList names the IDToken claims to copy (exact, case-sensitive).
	ClaimTypeList []string `json:"claimTypeList"`
	// ConnectionStringSetting names the app setting holding the connection
	// string; empty means DefaultConnectionStringSetting.
	ConnectionStringSetting string `json:"connectionStringSetting"`
}

// OutputBinding declares a SignalR output binding, the Go form of a
// function.json entry with "type": "signalR".
type OutputBinding struct {
	// Name is the binding's name in function.json; informational in Go.
	Name string `json:"name"`
	// HubName is the hub messages and group actions go to. Required.
	HubName string `json:"hubName"`
	// ConnectionStringSetting names the app setting holding the connection
	// string; empty means DefaultConnectionStringSetting.
	ConnectionStringSetting string `json:"connectionStringSetting"`
}
