package chaos

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line through addr on c and reads the echo.
func roundTrip(c net.Conn) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err := bufio.NewReader(c).ReadString('\n')
	return err
}

func TestProxy(t *testing.T) {
	p, err := NewProxy("test→echo", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	t.Run("latency", func(t *testing.T) {
		p.SetLatency(100 * time.Millisecond)
		defer p.SetLatency(0)
		start := time.Now()
		if err := roundTrip(c); err != nil {
			t.Fatal(err)
		}
		// Each way is delayed: the round trip takes two latencies at least.
		if got := time.Since(start); got < 200*time.Millisecond {
			t.Errorf("round trip with 100ms latency each way took %s", got)
		}
	})

	t.Run("drop", func(t *testing.T) {
		if n := p.Drop(); n != 1 {
			t.Errorf("Drop closed %d connections, want 1", n)
		}
		if err := roundTrip(c); err == nil {
			t.Error("a dropped connection still answers")
		}
	})

	t.Run("refuse", func(t *testing.T) {
		p.Refuse(true)
		refused, err := net.Dial("tcp", p.Addr())
		if err == nil {
			defer refused.Close()
			err = roundTrip(refused)
		}
		if err == nil {
			t.Error("a refused connection answers")
		}
		p.Heal()
		healed, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer healed.Close()
		if err := roundTrip(healed); err != nil {
			t.Errorf("after Heal: %v", err)
		}
	})
}
