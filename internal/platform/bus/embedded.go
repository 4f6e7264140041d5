package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures an in-process NATS server.
type EmbeddedConfig struct {
	// Dir is where JetStream keeps its streams on disk. Required.
	Dir string
	// Listen is a host:port to accept network clients on ("127.0.0.1:0" picks
	// a free port). Empty means in-process connections only.
	Listen string
	// Name is the server name, "emporium" by default. It must stay the same
	// across restarts for JetStream to find its store again.
	Name string
	// ReadyTimeout bounds the wait for the server to accept clients (10s).
	ReadyTimeout time.Duration
	// Logger receives the server's warnings and errors; nil discards them.
	Logger *slog.Logger
}

// Embedded is a NATS server with JetStream running inside this process.
type Embedded struct {
	srv *server.Server
	cfg EmbeddedConfig
}

// StartEmbedded starts a NATS server in-process with JetStream on disk under
// cfg.Dir and waits until it accepts clients.
//
// JetStream syncs every stored message to disk before it acknowledges it
// (sync_interval "always"), where its default is to sync every two minutes.
// The outbox marks an event published once the bus has acknowledged it, in a
// database commit that is itself synced (SQLite's synchronous=FULL), so a
// power loss after that commit must not take the event from the bus. It costs
// an fsync per message: the relay's throughput to one stream is bounded by
// the disk's fsync rate (see BenchmarkRelay in the outbox package). A
// separate nats-server needs the same setting (jetstream { sync_interval:
// always }) for the same promise.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Dir == "" {
		return nil, errors.New("bus start embedded: Dir is required")
	}
	if cfg.Name == "" {
		cfg.Name = "emporium"
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		JetStream:  true,
		SyncAlways: true, // every message is on disk before its ack
		StoreDir:   cfg.Dir,
		DontListen: cfg.Listen == "",
		NoSigs:     true,
		NoLog:      cfg.Logger == nil,
	}
	if cfg.Listen != "" {
		host, port, err := splitListen(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("bus start embedded: %w", err)
		}
		opts.Host, opts.Port = host, port
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus start embedded: %w", err)
	}
	if cfg.Logger != nil {
		srv.SetLoggerV2(serverLogger{cfg.Logger.With("component", "nats-server")},
			false, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("bus start embedded: not ready after %s", cfg.ReadyTimeout)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("bus start embedded: JetStream did not start")
	}
	return &Embedded{srv: srv, cfg: cfg}, nil
}

// splitListen parses host:port; port 0 asks for a free port.
func splitListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("listen %q: bad port", listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// Connect opens an in-process connection named name, with the reconnect
// policy of a Bus. Pass it to New.
func (e *Embedded) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect("", append(connOptions(name), nats.InProcessServer(e.srv))...)
	if err != nil {
		return nil, fmt.Errorf("bus connect embedded: %w", unavailable(err))
	}
	return nc, nil
}

// ClientURL returns the nats:// URL that network clients use, or "" when the
// server does not listen.
func (e *Embedded) ClientURL() string {
	if e.cfg.Listen == "" {
		return ""
	}
	return e.srv.ClientURL()
}

// Addr returns the address the server listens on, or nil.
func (e *Embedded) Addr() net.Addr {
	if e.cfg.Listen == "" {
		return nil
	}
	return e.srv.Addr()
}

// Shutdown stops the server and waits until it has stopped. JetStream's store
// stays on disk for the next start.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// serverLogger passes the server's warnings and errors to slog; notices,
// debug and trace lines are dropped.
type serverLogger struct{ log *slog.Logger }

func (l serverLogger) Noticef(string, ...any) {}
func (l serverLogger) Debugf(string, ...any)  {}
func (l serverLogger) Tracef(string, ...any)  {}
func (l serverLogger) Warnf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...))
}
func (l serverLogger) Errorf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...))
}
func (l serverLogger) Fatalf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...))
}
