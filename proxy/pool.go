package proxy

import (
	"io"
	"net/http"
	"sync/atomic"
)

// Pool spreads requests over the proxies to the replicas of one service:
// each request goes to the next replica in turn whose circuit breaker lets
// it through. A replica that refuses the connection (nothing of the request
// was sent) or whose breaker is open is passed over for the next one, so a
// dead replica costs its clients nothing once it refuses connections; a
// request that reached a replica is never sent to another (it may have had
// an effect), and a failure after the connection is answered as by a
// single Proxy. When every replica is passed over, the last one's answer
// (502 or 503) is the client's.
type Pool struct {
	name    string
	members []*Proxy
	next    atomic.Uint64
}

// NewPool returns a pool over members, the proxies to the replicas of the
// service name. It panics without members.
func NewPool(name string, members ...*Proxy) *Pool {
	if len(members) == 0 {
		panic("proxy: pool " + name + " without members")
	}
	return &Pool{name: name, members: members}
}

// Name returns the service's name.
func (p *Pool) Name() string { return p.name }

// Members returns the pool's proxies.
func (p *Pool) Members() []*Proxy { return p.members }

// ServeHTTP forwards r to one replica.
func (p *Pool) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := uint64(len(p.members))
	if n == 1 {
		p.members[0].ServeHTTP(w, r)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		// The transport closes the body of a request it could not send;
		// the server closes it when the handler returns.
		r.Body = keepOpen{r.Body}
	}
	start := p.next.Add(1)
	for i := range n {
		if p.members[(start+i)%n].serve(w, r, i == n-1) {
			return
		}
	}
}

// keepOpen is a request body whose Close does nothing, so that a request
// whose sending failed before its body was read can be sent again.
type keepOpen struct{ io.Reader }

func (keepOpen) Close() error { return nil }
