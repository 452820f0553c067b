// Package serviceproto is the one codec of the Azure SignalR service
// protocol: the MessagePack messages an app server and the service
// exchange over the /server/ WebSocket. The root package's persistent
// transport writes them; the emulator's /server/ endpoint reads them and
// answers.
//
// Layouts are the ones the C# SDK writes (Microsoft.Azure.SignalR.Protocols,
// longer than the old spec's): the decoder accepts the short forms too,
// skips unknown extension keys and reports unknown message types as
// ignorable (ErrUnknownType), as the C# reader does.
//
// Framing is the hub protocol's binary framing (a VarInt length, then the
// body); Append frames, and NewReader cuts a stream of WebSocket frames
// into bodies with a size bound. Decode bounds nesting by
// hubproto.MaxNestingDepth before it reads a value. Client payloads inside
// messages are hub-protocol bytes made by internal/hubproto; this package
// never encodes a hub message.
package serviceproto
