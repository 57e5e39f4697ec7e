package api

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"

	"github.com/tre-go/tre/internal/funchost"
	"github.com/tre-go/tre/internal/tre"
)

// guardTrigger admits a trigger invocation only from the Functions host (or
// the local stand-in for it): the peer must be on loopback, as the host is
// beside its custom handler, and, when the API has a TriggerKey, the
// request must carry it. Anyone else could otherwise post a deployed status
// with outputs of their choosing, or fill the store with rejected messages.
// Returns CodeForbidden.
func (a *API) guardTrigger(r *http.Request) error {
	if !loopbackPeer(r.RemoteAddr) {
		return tre.Errorf(tre.CodeForbidden, "Trigger routes answer only the Functions host, over loopback")
	}
	if a.TriggerKey == "" {
		return nil
	}
	got := r.Header.Get(funchost.TriggerKeyHeader)
	if subtle.ConstantTimeCompare([]byte(got), []byte(a.TriggerKey)) != 1 {
		return tre.Errorf(tre.CodeForbidden, "Trigger routes answer only the Functions host: the trigger key is missing or wrong")
	}
	return nil
}

// loopbackPeer reports whether a request's RemoteAddr is a loopback
// address (127.0.0.0/8, ::1, or IPv4 on loopback mapped into IPv6).
func loopbackPeer(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.Unmap().IsLoopback()
}
