package identity

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestHasher(t *testing.T) {
	ctx := context.Background()
	h, err := NewHasher(DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not carry OWASP's parameters", hash)
	}
	other, _ := h.Hash(ctx, "correct horse battery")
	if other == hash {
		t.Error("two hashes of one password are equal: no salt")
	}
	tests := []struct {
		password   string
		ok, rehash bool
	}{
		{"correct horse battery", true, false},
		{"correct horse batterY", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		ok, rehash, err := h.Verify(ctx, hash, tt.password)
		if err != nil || ok != tt.ok || rehash != tt.rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want %v, %v", tt.password, ok, rehash, err, tt.ok, tt.rehash)
		}
	}
	weak, _ := newHasher(DefaultArgon2, true)
	old, _ := weak.Hash(ctx, "correct horse battery")
	if ok, rehash, _ := h.Verify(ctx, old, "correct horse battery"); !ok || !rehash {
		t.Errorf("a hash below the current parameters: ok %v rehash %v, want both", ok, rehash)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=x$y$z", "plain"} {
		if _, _, err := h.Verify(ctx, bad, "pw"); err == nil {
			t.Errorf("Verify accepted the stored hash %q", bad)
		}
	}
	if _, err := NewHasher(Argon2Params{MemoryKiB: 4096, Time: 2, Threads: 1}); err == nil {
		t.Error("NewHasher accepted parameters below OWASP's floor")
	}
}

func TestCommonPasswords(t *testing.T) {
	lines := strings.SplitAfter(commonPasswordList, "\n")
	if last := lines[len(lines)-1]; last != "" {
		t.Fatalf("the list does not end in a newline: %q", last)
	}
	lines = lines[:len(lines)-1]
	if len(lines) < 10000 {
		t.Fatalf("the list has %d passwords, want at least 10,000", len(lines))
	}
	for i, l := range lines {
		if i > 0 && lines[i-1] >= l {
			t.Fatalf("line %d %q is not after %q: keep the list sorted (LC_ALL=C sort -u)", i+1, l, lines[i-1])
		}
		if pw := strings.TrimSuffix(l, "\n"); !isCommonPassword(pw) {
			t.Fatalf("%q, line %d, is not found", pw, i+1)
		}
	}
	for _, pw := range []string{"password", "PASSWORD1", "12345678", "qwertyuiop", "iloveyou", "sunshine"} {
		if !isCommonPassword(pw) {
			t.Errorf("%q is not refused", pw)
		}
	}
	for _, pw := range []string{"correct horse battery", "", "password1x", "qwertyuiop!", "\x00", "\xff\xff"} {
		if isCommonPassword(pw) {
			t.Errorf("%q is refused", pw)
		}
	}
}

func TestInSortedLines(t *testing.T) {
	for _, c := range []struct {
		list, s string
		want    bool
	}{
		{"", "a", false},
		{"a\n", "a", true},
		{"a\n", "", false},
		{"\n", "", true},
		{"a\nb\nc\n", "a", true},
		{"a\nb\nc\n", "c", true},
		{"a\nb\nc\n", "bb", false},
		{"a\nb\nc\n", "0", false},
		{"a\nb\nc\n", "d", false},
		{"ab\nabc\nb\n", "abc", true},
		{"ab\nabc\nb\n", "ab", true},
		{"abc", "abc", false}, // not whole lines
	} {
		if got := inSortedLines(c.list, c.s); got != c.want {
			t.Errorf("inSortedLines(%q, %q) = %v, want %v", c.list, c.s, got, c.want)
		}
	}
}

// TestLoginUpgradesOldHashes: a hash made with weaker parameters is replaced
// at the next login.
func TestLoginUpgradesOldHashes(t *testing.T) {
	natsURL := newNATS(t)
	dbURL := sqliteURL(t)
	e := startOn(t, dbURL, natsURL, nil) // weak test parameters
	e.register("old@example.com", goodPassword)
	e.stop()
	e = startOn(t, dbURL, natsURL, func(c *Config) { c.weakHash, c.KeyEncryptionKey = false, e.cfg.KeyEncryptionKey })
	expect(t, e.login("old@example.com", goodPassword), http.StatusOK, "")
	u, err := userBy(context.Background(), e.svc.db, "email", "old@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u.passwordHash, "m=19456,t=2") {
		t.Errorf("hash after login: %.40s…, want the current parameters", u.passwordHash)
	}
	expect(t, e.login("old@example.com", goodPassword), http.StatusOK, "")
}

// TestArgon2MemoryCeiling: a hash may take at most 1 GiB; the configuration
// says so at start, naming the variable.
func TestArgon2MemoryCeiling(t *testing.T) {
	tests := []struct {
		kib  uint32
		want bool // accepted
	}{
		{DefaultArgon2.MemoryKiB, true},
		{1 << 20, true},
		{1<<20 + 1, false},
		{1 << 30, false},
	}
	for _, tt := range tests {
		cfg := testConfig()
		cfg.Argon2MemoryKiB = tt.kib
		err := cfg.Validate()
		if got := err == nil; got != tt.want {
			t.Errorf("IDENTITY_ARGON2_MEMORY_KIB=%d: Validate() = %v, want accepted %v", tt.kib, err, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), "IDENTITY_ARGON2_MEMORY_KIB") {
			t.Errorf("the error %q does not name the variable", err)
		}
	}
	// The hasher refuses it without allocating it.
	if _, err := NewHasher(Argon2Params{MemoryKiB: 1<<20 + 1, Time: 2, Threads: 1}); err == nil {
		t.Error("NewHasher accepted more than 1 GiB per hash")
	}
}

// The decoy verified for unknown emails carries the Hasher's own parameters
// and a key of full length, so verifying it costs what a real hash does; no
// password matches it.
func TestDummyCostsAVerification(t *testing.T) {
	h, err := NewHasher(DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	p, salt, key, err := decodePHC(h.dummy)
	if err != nil || p != DefaultArgon2 || len(salt) != saltLen || len(key) != keyLen {
		t.Fatalf("decoy %q: params %+v salt %d key %d, %v", h.dummy, p, len(salt), len(key), err)
	}
	if err := h.VerifyDummy(context.Background(), "not a real password, used for timing"); err != nil {
		t.Fatal(err)
	}
	if n := h.verifications.Load(); n != 1 {
		t.Errorf("%d verifications, want 1", n)
	}
	if ok, _, _ := h.Verify(context.Background(), h.dummy, ""); ok {
		t.Error("a password matched the decoy")
	}
	if other, _ := NewHasher(DefaultArgon2); other.dummy == h.dummy {
		t.Error("two hashers share a decoy")
	}
}
