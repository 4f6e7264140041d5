package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"emporium/internal/platform/observability"
)

// Defaults of ServerConfig's timeouts.
const (
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second // headers and body: a slow sender is cut off
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
)

// ServerConfig configures a Server. Public is required; Internal (the
// service-to-service routes and /metrics, never exposed by the gateway) is
// served only when set.
type ServerConfig struct {
	// Name identifies the server in logs and errors, e.g. "catalog".
	Name string
	// PublicAddr and InternalAddr are listen addresses; ":0" picks a port.
	PublicAddr, InternalAddr string
	// PublicListener and InternalListener, when set, are already bound and
	// used instead of the addresses: the all-in-one binds every service's
	// ports before it builds the services that call each other.
	PublicListener, InternalListener net.Listener
	Public, Internal                 http.Handler
	// Logger receives the server's own messages. Nil means slog.Default().
	Logger *slog.Logger
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// Serve's context is done. Zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout and IdleTimeout are http.Server's; zero means
	// DefaultReadHeaderTimeout and DefaultIdleTimeout.
	ReadHeaderTimeout, IdleTimeout time.Duration
}

// Server serves a public and an internal handler, each on its own listener,
// and shuts both down gracefully.
type Server struct {
	cfg       ServerConfig
	logger    *slog.Logger
	listeners []*listener
}

// listener is one of a Server's two sides.
type listener struct {
	side string // "public" or "internal"
	addr string
	srv  *http.Server
	ln   net.Listener
	// bound is a listener handed in already bound, used by Listen.
	bound net.Listener
}

// NewServer returns a Server for cfg; nothing is bound until Listen or Serve.
func NewServer(cfg ServerConfig) *Server {
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	logger := observability.OrDefault(cfg.Logger).With(slog.String("server", cfg.Name))
	s := &Server{cfg: cfg, logger: logger}
	s.listeners = append(s.listeners,
		s.newListener("public", cfg.PublicAddr, cfg.PublicListener, cfg.Public))
	if cfg.Internal != nil {
		s.listeners = append(s.listeners,
			s.newListener("internal", cfg.InternalAddr, cfg.InternalListener, cfg.Internal))
	}
	return s
}

func (s *Server) newListener(side, addr string, ln net.Listener, h http.Handler) *listener {
	return &listener{side: side, addr: addr, bound: ln, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       DefaultReadTimeout,
		WriteTimeout:      DefaultWriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog: slog.NewLogLogger(
			s.logger.With(slog.String("listener", side)).Handler(), slog.LevelWarn),
	}}
}

// Listen binds the listeners, so that PublicAddr and InternalAddr report the
// real addresses (":0" resolved) before Serve. Serve calls it when needed.
func (s *Server) Listen() error {
	for _, l := range s.listeners {
		if l.ln != nil {
			return fmt.Errorf("web: listen %s: already listening", s.cfg.Name)
		}
		if l.srv.Handler == nil {
			return fmt.Errorf("web: listen %s: no %s handler", s.cfg.Name, l.side)
		}
	}
	for _, l := range s.listeners {
		if l.bound != nil {
			l.ln, l.bound = l.bound, nil
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("web: listen %s %s: %w", s.cfg.Name, l.side, err)
		}
		l.ln = ln
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		if l.ln != nil {
			_ = l.ln.Close()
			l.ln = nil
		}
	}
}

// PublicAddr returns the public listener's address, or "" before Listen.
func (s *Server) PublicAddr() string { return s.addr(0) }

// InternalAddr returns the internal listener's address, or "" before Listen
// or when there is no internal handler.
func (s *Server) InternalAddr() string { return s.addr(1) }

func (s *Server) addr(i int) string {
	if i >= len(s.listeners) || s.listeners[i].ln == nil {
		return ""
	}
	return s.listeners[i].ln.Addr().String()
}

// Serve serves until ctx is done, then shuts down gracefully: the listeners
// close at once (new connections are refused), in-flight requests get up to
// ShutdownTimeout to finish, and whatever is left is then closed. It returns
// nil after a clean shutdown, and an error when a listener fails or requests
// were cut off.
func (s *Server) Serve(ctx context.Context) error {
	if s.listeners[0].ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	served := make(chan error, len(s.listeners))
	for _, l := range s.listeners {
		s.logger.InfoContext(ctx, "serving", slog.String("listener", l.side),
			slog.String("addr", l.ln.Addr().String()))
		go func() {
			err := l.srv.Serve(l.ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			} else if err != nil {
				err = fmt.Errorf("web: serve %s %s: %w", s.cfg.Name, l.side, err)
			}
			served <- err
		}()
	}

	var failed error
	select {
	case <-ctx.Done():
	case failed = <-served: // a listener stopped by itself: stop the other too
	}
	s.logger.InfoContext(ctx, "shutting down", slog.Duration("timeout", s.cfg.ShutdownTimeout))
	err := errors.Join(failed, s.shutdown(context.WithoutCancel(ctx)))
	remaining := len(s.listeners)
	if failed != nil {
		remaining--
	}
	for range remaining {
		err = errors.Join(err, <-served)
	}
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "stopped")
	return nil
}

// shutdown shuts every listener down at once within ShutdownTimeout,
// closing the connections of requests that do not finish in time.
func (s *Server) shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	errc := make(chan error, len(s.listeners))
	var wg sync.WaitGroup
	for _, l := range s.listeners {
		wg.Go(func() {
			if err := l.srv.Shutdown(ctx); err != nil {
				_ = l.srv.Close()
				errc <- fmt.Errorf("web: shut down %s %s: %w", s.cfg.Name, l.side, err)
			}
		})
	}
	wg.Wait()
	close(errc)
	var err error
	for e := range errc {
		err = errors.Join(err, e)
	}
	return err
}
