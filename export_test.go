package signalr

import "time"

// NewTransportForBench is the Client's own transport constructor, so the
// output benchmark's bare loop sends through an identically configured
// http.Transport.
var NewTransportForBench = newTransport

// bindAt is Bind with the clock the input's client tokens are minted by
// (their iat, nbf and exp), so a test can compare them with fixed times.
func (b ConnectionInfoBinding) bindAt(opts *BindOptions, now func() time.Time) (*Input, error) {
	in, err := b.Bind(opts)
	if in != nil {
		in.now = now
	}
	return in, err
}
