package local

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// FreeAddr is a free loopback address for a process to bind: a port below
// the kernel's ephemeral range, bound and closed again, never handed out
// twice by this process.
//
// A port is picked before the process that binds it starts, so something
// else could take it in between. Outgoing connections take their local
// ports from the ephemeral range — a topology opens hundreds while its
// processes start — so a port picked there (by binding port 0) is soon
// somebody's source port and the process fails with "address already in
// use". Below that range only another listener can take it.
func FreeAddr() (string, error) {
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.given == nil {
		ports.given = make(map[int]bool)
	}
	if low := ephemeralLow(); low > portFloor+1000 {
		for range 500 {
			port := portFloor + rand.IntN(low-portFloor)
			if ports.given[port] {
				continue
			}
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				continue
			}
			ln.Close()
			ports.given[port] = true
			return ln.Addr().String(), nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// portFloor is the lowest port FreeAddr picks: above the well-known and
// most registered services' ports.
const portFloor = 10000

var ports struct {
	mu    sync.Mutex
	given map[int]bool
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default when it cannot be read).
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	return low
}
