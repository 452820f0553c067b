package serviceproto

// Type is a service protocol message's type, its array's first item.
type Type int

// The message types. Obsolete types 30 and 31 and the Entra key exchange
// (28, 29) are decoded as unknown: no peer here sends them.
const (
	TypeHandshakeRequest                Type = 1
	TypeHandshakeResponse               Type = 2
	TypePing                            Type = 3
	TypeOpenConnection                  Type = 4
	TypeCloseConnection                 Type = 5
	TypeConnectionData                  Type = 6
	TypeMultiConnectionData             Type = 7
	TypeUserData                        Type = 8
	TypeMultiUserData                   Type = 9
	TypeBroadcastData                   Type = 10
	TypeJoinGroup                       Type = 11
	TypeLeaveGroup                      Type = 12
	TypeGroupBroadcastData              Type = 13
	TypeMultiGroupBroadcastData         Type = 14
	TypeServiceError                    Type = 15
	TypeUserJoinGroup                   Type = 16
	TypeUserLeaveGroup                  Type = 17
	TypeJoinGroupWithAck                Type = 18
	TypeLeaveGroupWithAck               Type = 19
	TypeAck                             Type = 20
	TypeCheckUserInGroupWithAck         Type = 21
	TypeServiceEvent                    Type = 22
	TypeCheckGroupExistenceWithAck      Type = 23
	TypeCheckConnectionExistenceWithAck Type = 24
	TypeCheckUserExistenceWithAck       Type = 25
	TypeUserJoinGroupWithAck            Type = 26
	TypeUserLeaveGroupWithAck           Type = 27
	TypeCloseUserConnectionsWithAck     Type = 32
	TypeCloseGroupConnectionsWithAck    Type = 33
	TypeClientInvocation                Type = 34
	TypeClientCompletion                Type = 35
	TypeErrorCompletion                 Type = 36
	TypeServiceMapping                  Type = 37
	TypeConnectionReconnect             Type = 38
)

// Version is the protocol version a HandshakeRequest carries.
const Version = 1

// Connection kinds (HandshakeRequest.ConnectionType).
const (
	ConnectionDefault  = 0 // carries clients; the service must accept it
	ConnectionOnDemand = 1 // opened when the service asks; carries clients
	ConnectionWeak     = 2 // send-only: the Management SDK's persistent mode
)

// Ack statuses, as the C# AckStatus enum numbers them.
const (
	AckOk                  = 1
	AckNotFound            = 2
	AckTimeout             = 3
	AckInternalServerError = 4
)

// Data message types (Ext.DataMessageType).
const (
	DataHandshake  = 1
	DataInvocation = 2
	DataOther      = 3
)

// Ext is the extension map most messages end with. Only set fields are
// written, in key order; Decode skips keys it does not know.
type Ext struct {
	TracingID       uint64 // key 1; 0 means unset
	TTL             int32  // key 2, seconds; written when HasTTL
	HasTTL          bool
	Protocol        string // key 3; "" means unset
	Filter          string // key 4; "" means unset
	DataMessageType int32  // key 5; 0 means unset
	IsPartial       bool   // key 6; false means unset
}

// Payload is one entry of a payloads map: a hub message already framed
// for the client protocol named Protocol ("json", "messagepack").
type Payload struct {
	Protocol string
	Data     []byte
}

// Pair is one claim of an OpenConnection: claims may repeat a key.
type Pair struct{ Key, Value string }

// Header is one request header of an OpenConnection or CloseConnection.
type Header struct {
	Key    string
	Values []string
}

// Message is any service protocol message. Type says which fields are in
// use; the layout comment on each type in Append names them in order.
// Fields a type does not use are ignored by Append and left zero by
// Decode.
type Message struct {
	Type Type

	// HandshakeRequest.
	Version, ConnectionType, MigrationLevel int
	// HasStatefulReconnect writes the newer 7th item,
	// AllowStatefulReconnects.
	HasStatefulReconnect, AllowStatefulReconnect bool

	// ConnectionID is the client connection of 4, 5, 6, 11, 12, 18, 19,
	// 24, 34–38, or the server connection id of a HandshakeResponse.
	ConnectionID string
	// UserID is the user of 8, 16, 17, 21, 25, 26, 27, 32.
	UserID string
	// Group is the group of 11–13, 16–19, 21, 23, 26, 27, 33. For 19 and
	// 27, AllGroups writes nil instead ("from every group").
	Group     string
	AllGroups bool
	// Target is the HandshakeRequest's target.
	Target string
	// Error is the error text of 2, 5, 15, 36 and the reason of 32, 33.
	Error string
	// IDs is the list of 7 (connections), 9 (users), 14 (groups) and the
	// excluded connections of 10, 13, 32, 33.
	IDs []string
	// ExcludedUsers and CallerUserID are GroupBroadcastData's last items.
	ExcludedUsers []string
	CallerUserID  string
	// Payloads are the per-protocol hub messages of 7–10, 13, 14, 34.
	Payloads []Payload
	// Payload is the bytes of 6 and 35.
	Payload []byte
	// AckID numbers a WithAck message and its Ack.
	AckID int32
	// Status and Message are an Ack's status and text.
	Status  int32
	Message string
	// Ping holds a Ping's strings: keys and values, flat.
	Ping []string
	// Invocation fields of 34–37: InvocationID, CallerServerID (34–36),
	// Protocol (35), InstanceID (37).
	InvocationID, CallerServerID, Protocol, InstanceID string
	// OpenConnection's claims, headers and query string, and Close's
	// headers.
	Claims      []Pair
	Headers     []Header
	QueryString string
	// ServiceEvent fields.
	ObjectType, Kind int32
	ObjectID         string

	Ext Ext
}
