package signalr

import "github.com/funcsignalr/signalr/internal/hubproto"

// MaxNestingDepth is the deepest nesting of arrays and objects (MessagePack
// maps) the package accepts in data a client, the service or an app hands
// it: `[[1]]` is nested 2 deep. An upstream body deeper than that is
// answered 400 before any handler runs, and an Argument deeper than that
// fails to Decode or marshal; the same limit holds in the emulator.
//
// 100 is what the official JavaScript client's MessagePack encoder accepts
// (it throws beyond it), so nothing a real client sends is refused, and the
// recursive decoders behind the check (encoding/json, msgpack) stay a few
// KiB of stack deep. The depth is counted without recursion.
const MaxNestingDepth = hubproto.MaxNestingDepth

// ErrTooDeep is wrapped by the errors for data nested deeper than
// MaxNestingDepth; use errors.Is.
var ErrTooDeep = hubproto.ErrTooDeep
