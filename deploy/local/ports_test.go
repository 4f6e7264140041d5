package local

import (
	"net"
	"strconv"
	"testing"
)

// The ports a topology is given are free, distinct, and out of the range
// outgoing connections take theirs from.
func TestFreeAddrIsBelowTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	below := low > portFloor+1000 // else FreeAddr falls back to a port the kernel picks
	seen := map[string]bool{}
	for range 200 {
		addr, err := FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		if seen[addr] {
			t.Fatalf("%s given twice", addr)
		}
		seen[addr] = true
		_, p, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(p)
		if below && (port < portFloor || port >= low) {
			t.Fatalf("port %d outside [%d, %d)", port, portFloor, low)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is not free: %v", addr, err)
		}
		ln.Close()
	}
}
