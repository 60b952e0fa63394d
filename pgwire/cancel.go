package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// backendKey is the process id and secret the gateway gives a client in
// BackendKeyData. It is the gateway's own: the client never learns the
// upstream backend's key.
type backendKey struct {
	pid    uint32
	secret [4]byte
}

// upstreamKey is where a cancel request for one client goes.
type upstreamKey struct {
	address string
	pid     uint32
	secret  []byte
}

// cancelMap routes CancelRequests from the gateway's keys to upstream
// backends.
type cancelMap struct {
	mu   sync.Mutex
	keys map[uint32]cancelEntry
}

type cancelEntry struct {
	secret [4]byte
	up     upstreamKey
}

func newCancelMap() *cancelMap { return &cancelMap{keys: map[uint32]cancelEntry{}} }

// register gives a new client connection its own key for up.
func (m *cancelMap) register(up upstreamKey) backendKey {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		var b [8]byte
		rand.Read(b[:])
		pid := binary.BigEndian.Uint32(b[:4]) & 0x7fffffff
		if _, taken := m.keys[pid]; taken || pid == 0 {
			continue
		}
		var k backendKey
		k.pid = pid
		copy(k.secret[:], b[4:])
		m.keys[pid] = cancelEntry{secret: k.secret, up: up}
		return k
	}
}

func (m *cancelMap) unregister(k backendKey) {
	m.mu.Lock()
	delete(m.keys, k.pid)
	m.mu.Unlock()
}

// cancel forwards a client's CancelRequest to the upstream backend its key
// maps to. Unknown keys are ignored, as PostgreSQL does.
func (m *cancelMap) cancel(ctx context.Context, s *Server, req *pgproto3.CancelRequest) {
	m.mu.Lock()
	e, ok := m.keys[req.ProcessID]
	m.mu.Unlock()
	if !ok || len(req.SecretKey) != 4 || subtle.ConstantTimeCompare(req.SecretKey, e.secret[:]) != 1 {
		s.Log.Info("pgwire: cancel request with an unknown key")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", e.up.address)
	if err != nil {
		s.Log.Warn("pgwire: cancel: dial upstream", "err", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf, err := (&pgproto3.CancelRequest{ProcessID: e.up.pid, SecretKey: e.up.secret}).Encode(nil)
	if err != nil {
		return
	}
	if _, err := c.Write(buf); err != nil {
		s.Log.Warn("pgwire: cancel: write upstream", "err", err)
		return
	}
	// The server closes the connection once it has handled the request.
	var one [1]byte
	c.Read(one[:])
}
