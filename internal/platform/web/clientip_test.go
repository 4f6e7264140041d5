package web

import (
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies, err := ParseTrustedProxies("127.0.0.0/8, ::1/128, 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct client", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"untrusted peer's header ignored", "203.0.113.7:5555", []string{"1.2.3.4"}, "203.0.113.7"},
		{"front door forwards", "127.0.0.1:4000", []string{"198.51.100.9"}, "198.51.100.9"},
		{"forged left part ignored", "127.0.0.1:4000", []string{"1.1.1.1, 198.51.100.9"}, "198.51.100.9"},
		{"two trusted hops", "10.0.0.5:80", []string{"198.51.100.9, 10.0.0.7"}, "198.51.100.9"},
		{"several headers", "10.0.0.5:80", []string{"198.51.100.9", "10.0.0.7"}, "198.51.100.9"},
		{"only proxies", "127.0.0.1:1", []string{"10.0.0.7"}, "10.0.0.7"},
		{"garbage stops the walk", "127.0.0.1:1", []string{"nonsense"}, "127.0.0.1"},
		{"ipv6", "[::1]:1", []string{"2001:db8::1"}, "2001:db8::1"},
		{"a client on a private network cannot hide", "10.0.0.5:80", []string{"8.8.8.8, 192.168.1.5"}, "192.168.1.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := proxies.ClientIP(r); got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := ParseTrustedProxies("10.0.0.0/8, bogus"); err == nil {
		t.Error("ParseTrustedProxies accepted a bogus prefix")
	}
}
