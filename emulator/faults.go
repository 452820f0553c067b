package emulator

import (
	"net/http"
	"sync/atomic"
)

// faultSet holds the faults armed on an emulator; see Faults.
type faultSet struct {
	count atomic.Int32 // faults armed
}

// armed reports whether any fault is armed: one atomic load.
func (f *faultSet) armed() bool { return f.count.Load() > 0 }

// applyHTTP applies the faults of r's route and reports whether one
// answered r.
func (f *faultSet) applyHTTP(w http.ResponseWriter, r *http.Request, kind EventKind) bool {
	return false
}

func (e *Emulator) serveFaults(w http.ResponseWriter, r *http.Request) {
	controlError(w, http.StatusNotFound, "fault injection is not available in this build")
}
