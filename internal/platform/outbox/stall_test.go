package outbox

import (
	"context"
	"errors"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// A relay that hangs, or whose network goes, in the middle of a round holds
// the relay's lock in a transaction that PostgreSQL sees open and idle. Its
// own idle_in_transaction_session_timeout (the round's timeout) ends it, so
// another replica takes the lock and publishes; the pool's limit is an hour
// here, and TCP would not notice for two.
func TestRelayThatHangsMidRoundFreesTheLock(t *testing.T) {
	t.Parallel()
	sqldbtest.NeedPostgres(t)
	dbURL := sqldbtest.PostgresDatabase(t, schemas...)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFreezingProxy(t, u.Host)
	u.Host = proxy.addr()
	hungDB, err := sqldb.OpenPool(ctxT(t), u.String(), sqldb.PoolConfig{IdleInTxTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hungDB.Close() })
	db, err := sqldb.Open(ctxT(t), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := bustest.EmbeddedBus(t)
	s := bustest.NewStream(t, b, bus.StreamConfig{})
	envs := commit(t, db, s.Subject("order", "placed"), 5)

	hung := NewRelay(hungDB, b, RelayConfig{RoundTimeout: 2 * time.Second,
		Logger: bustest.Logger(t)})
	frozen := make(chan struct{})
	hung.beforeMark = func() error {
		proxy.freeze()
		close(frozen)
		return nil
	}
	hungRound := make(chan error, 1)
	go func() {
		_, _, err := hung.round(context.Background())
		hungRound <- err
	}()
	select {
	case <-frozen: // it published the batch and holds the lock
	case err := <-hungRound:
		t.Fatalf("the round to hang returned %v before publishing", err)
	}

	counting := newCounting(b)
	other := NewRelay(db, counting, RelayConfig{Logger: bustest.Logger(t)})
	bustest.Eventually(t, 30*time.Second, func() bool {
		if _, _, err := other.round(ctxT(t)); err != nil {
			t.Logf("other relay: %v", err)
		}
		return backlog(t, db) == 0
	}, "the other relay never got the lock of the hung one")
	if got := len(counting.counts()); got != len(envs) {
		t.Errorf("other relay published %d events, want %d", got, len(envs))
	}
	if got := streamIDs(t, b, s.Name); !slices.Equal(got, ids(envs)) {
		t.Errorf("stream = %v, want one copy each of %v", got, ids(envs))
	}
	select {
	case err := <-hungRound:
		if err == nil {
			t.Error("the hung round succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Error("the hung round never returned")
	}
}

// freezingProxy forwards TCP connections to a server until it is frozen. Then
// it stands for a client that hung or lost its network: it passes nothing on
// and closes nothing, so the server keeps open, silent sessions.
type freezingProxy struct {
	ln      net.Listener
	target  string
	once    sync.Once
	frozen  chan struct{}
	stopped chan struct{}
	mu      sync.Mutex
	conns   []net.Conn
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{ln: ln, target: target, frozen: make(chan struct{}),
		stopped: make(chan struct{})}
	go p.accept()
	t.Cleanup(p.stop)
	return p
}

func (p *freezingProxy) addr() string { return p.ln.Addr().String() }

// freeze stops all traffic and refuses new connections.
func (p *freezingProxy) freeze() {
	p.once.Do(func() {
		close(p.frozen)
		p.ln.Close()
	})
}

// stop closes every connection.
func (p *freezingProxy) stop() {
	p.freeze()
	close(p.stopped)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *freezingProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go p.pipe(server, client)
		go p.pipe(client, server)
	}
}

// pipe copies src to dst until either fails, then closes both; once frozen it
// drops what it reads and leaves both open.
func (p *freezingProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.frozen:
			<-p.stopped
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = errors.Join(err, werr)
			}
		}
		if err != nil {
			src.Close()
			dst.Close()
			return
		}
	}
}
