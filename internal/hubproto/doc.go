// Package hubproto is the one codec of the SignalR hub protocol in this
// module: the message types, the JSON and MessagePack encodings of every
// message the module writes or reads, their framing (the 0x1E record
// separator of JSON, the VarInt length prefix of MessagePack), the
// handshake, and the serverless upstream bodies (an Invocation without its
// framing, and the open and close connection events).
//
// The root package uses it to decode upstream bodies and encode the
// Completion it answers with, the emulator to speak to its clients, and
// signalrtest to build upstream requests and read their answers, so the
// three cannot drift apart on the wire.
//
// A Protocol value (JSON or MessagePack) carries the methods that differ by
// protocol. Encoders return whole framed messages that callers may share
// but must not modify. Decoders of client data are bounded: a Reader
// refuses a message over its limit, and every decoder and conversion
// refuses a value nested deeper than MaxNestingDepth (100 levels of arrays
// and objects, in either protocol) with an error wrapping ErrTooDeep. The
// depth is checked without recursion (CheckJSONDepth counts brackets
// outside strings; MessagePack is walked with a stack of counters) before
// encoding/json, msgpack or a conversion, which recurse, see the data.
//
// It is not a hub: it keeps no connection state, does no I/O, and knows
// nothing of transports, invocation ids or REST. It does not decode
// arguments into Go values either; the root package's Argument does that.
// Stateful reconnect's Ack (type 8) and Sequence (type 9) are here too
// (statefulreconnect.go); the service protocol's messages belong here when
// they are implemented.
package hubproto
