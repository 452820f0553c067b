package signalr

import "errors"

// Sentinel errors, usable with errors.Is. Every error the package returns for
// bad input wraps one of them and names the offending field.
var (
	// ErrInvalidConnectionString means a SignalR connection string could not
	// be used: a key is missing, repeated or malformed.
	ErrInvalidConnectionString = errors.New("signalr: invalid connection string")

	// ErrUnsupportedAuthType means the connection string asks for
	// identity-based authentication (AuthType=aad, azure, azure.app or
	// azure.msi), which this library does not support yet.
	ErrUnsupportedAuthType = errors.New("signalr: identity-based connection strings are not supported yet")

	// ErrInvalidHubName means a hub name does not match the service's
	// pattern ^[A-Za-z][A-Za-z0-9_`,.[\]]{0,127}$.
	ErrInvalidHubName = errors.New("signalr: invalid hub name")

	// ErrInvalidGroupName means a group name is empty, only white space or
	// longer than 1024 bytes.
	ErrInvalidGroupName = errors.New("signalr: invalid group name")

	// ErrTokenTooLong means a client access token would be longer than the
	// 4096 characters the service accepts, usually because of too many or
	// too large custom claims.
	ErrTokenTooLong = errors.New("signalr: access token longer than 4K")

	// ErrInvalidClaim means a custom claim cannot be put in a token.
	ErrInvalidClaim = errors.New("signalr: invalid claim")

	// ErrMissingSetting means the app setting that should hold the
	// connection string is not set anywhere it was looked up.
	ErrMissingSetting = errors.New("signalr: connection string setting not found")

	// ErrInvalidBinding means a binding declaration (in Go or in a
	// function.json file) is malformed.
	ErrInvalidBinding = errors.New("signalr: invalid binding")

	// ErrMissingBindingData means a binding expression such as
	// {headers.x-ms-client-principal-id} referred to a value the request does
	// not have. The library never mints an anonymous token in its place.
	ErrMissingBindingData = errors.New("signalr: binding expression refers to a missing value")
)
