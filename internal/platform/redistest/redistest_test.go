package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// The failure tests make go-redis log failed dials.
	SilenceLogger()
	os.Exit(m.Run())
}

func TestClientOptions(t *testing.T) {
	t.Parallel()
	for _, contextTimeouts := range []bool{false, true} {
		t.Run(fmt.Sprint("context-timeouts=", contextTimeouts), func(t *testing.T) {
			t.Parallel()
			client := Require(t, Options{ContextTimeouts: contextTimeouts})
			if got := client.Options().ContextTimeoutEnabled; got != contextTimeouts {
				t.Errorf("ContextTimeoutEnabled = %v, want %v", got, contextTimeouts)
			}
			if err := client.Ping(context.Background()).Err(); err != nil {
				t.Errorf("ping: %v", err)
			}
		})
	}
}

func TestClientWithoutURL(t *testing.T) {
	t.Setenv(URLEnv, "")
	if client := Client(t, Options{}); client != nil {
		t.Errorf("Client with %s unset = %v, want nil", URLEnv, client)
	}
	ft := run(func(t testing.TB) { Require(t, Options{}) })
	if want := URLEnv + " is not set"; ft.skipped != want {
		t.Errorf("Require with %s unset skipped with %q, want %q", URLEnv, ft.skipped, want)
	}
}

func TestClientFailsWhenRedisDoesNotAnswer(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"nobody listening", "redis://:s3cret@" + ClosedAddr(t) + "/0?max_retries=-1",
			"is set but Redis does not answer"},
		{"not a URL", "redis://:s3cret@[::1", "is not a Redis URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(URLEnv, tt.url)
			ft := run(func(t testing.TB) { Client(t, Options{}) })
			if !strings.Contains(ft.fatal, tt.want) || strings.Contains(ft.fatal, "s3cret") {
				t.Errorf("failure %q: want it to say %q and not show the password",
					ft.fatal, tt.want)
			}
		})
	}
}

func TestPrefixKeysAreDeletedAtCleanup(t *testing.T) {
	t.Parallel()
	client := Require(t, Options{ContextTimeouts: true})
	ctx := context.Background()
	var prefixes []string
	t.Run("user", func(t *testing.T) {
		for range 2 {
			prefix := Prefix(t, client, "redistest")
			prefixes = append(prefixes, prefix)
			for i := range 150 { // more than one SCAN page
				key := fmt.Sprint(prefix, i)
				if err := client.Set(ctx, key, "v", time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	if len(prefixes) != 2 || prefixes[0] == prefixes[1] {
		t.Fatalf("prefixes = %q, want two different ones", prefixes)
	}
	for _, prefix := range prefixes {
		if !strings.HasPrefix(prefix, "emporium-test:redistest:") ||
			!strings.HasSuffix(prefix, ":") {
			t.Errorf("prefix %q, want emporium-test:redistest:<random>:", prefix)
		}
		keys, err := client.Keys(ctx, prefix+"*").Result()
		if err != nil || len(keys) != 0 {
			t.Errorf("keys under %s after cleanup = %d (%v), want none", prefix, len(keys), err)
		}
	}
}

func TestClosedAddrRefuses(t *testing.T) {
	t.Parallel()
	c, err := net.DialTimeout("tcp", ClosedAddr(t), 10*time.Second)
	if err == nil {
		c.Close()
		t.Fatal("dial succeeded, want a refusal")
	}
}

func TestProxy(t *testing.T) {
	t.Parallel()
	p := StartProxy(t, echoServer(t))
	up := dial(t, p.Addr())
	if got := roundTrip(up, "before"); got != "before" {
		t.Fatalf("echo through the proxy = %q, want %q", got, "before")
	}

	p.SetDown(true)
	if got := roundTrip(up, "cut"); got != "" {
		t.Errorf("echo on a connection open when the proxy went down = %q, want none", got)
	}
	if got := roundTrip(dial(t, p.Addr()), "down"); got != "" {
		t.Errorf("echo on a connection made while down = %q, want none", got)
	}

	p.SetDown(false)
	if got := roundTrip(dial(t, p.Addr()), "back"); got != "back" {
		t.Errorf("echo after the proxy is back = %q, want %q", got, "back")
	}
}

// echoServer returns the address of a server that echoes what it reads.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// dial connects to addr; the connection gives up on reads and writes after
// 10s and is closed at cleanup.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c
}

// roundTrip writes msg to c and returns what comes back, "" when the
// connection is closed.
func roundTrip(c net.Conn, msg string) string {
	if _, err := c.Write([]byte(msg)); err != nil {
		return ""
	}
	buf := make([]byte, len(msg))
	n := 0
	for n < len(msg) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			break
		}
	}
	return string(buf[:n])
}

// fakeT records how a helper ends a test. Methods the helpers under test
// should not call panic through the nil testing.TB.
type fakeT struct {
	testing.TB
	fatal, skipped string
	cleanups       []func()
}

func (*fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeT) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

// run calls fn with a fakeT in a goroutine of its own, as the testing
// package runs a test, then runs its cleanups.
func run(fn func(t testing.TB)) *fakeT {
	ft := &fakeT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ft)
	}()
	<-done
	for i := len(ft.cleanups) - 1; i >= 0; i-- {
		ft.cleanups[i]()
	}
	return ft
}
