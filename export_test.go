package signalr

// NewTransportForBench is the Client's own transport constructor, so the
// output benchmark's bare loop sends through an identically configured
// http.Transport.
var NewTransportForBench = newTransport
