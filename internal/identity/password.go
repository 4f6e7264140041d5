package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters. They are stored with every
// hash (PHC string format), so raising them later upgrades old hashes at the
// user's next login.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultArgon2 is OWASP's floor for argon2id: 19 MiB, 2 iterations, 1 lane.
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// MaxArgon2MemoryKiB is the most memory one hash may take: 1 GiB. A Hasher
// runs one hash per CPU at a time, so it may hold this much per CPU; a
// misplaced digit in the configuration must not make every login ask the
// machine for more than it has.
const MaxArgon2MemoryKiB = 1 << 20

const (
	saltLen = 16
	keyLen  = 32
)

// Hasher hashes and verifies passwords with argon2id. At most one hash per CPU
// runs at a time, so a flood of logins queues instead of exhausting memory.
type Hasher struct {
	params Argon2Params
	slots  chan struct{}
	dummy  string // verified against when the email is unknown, to equalise timing

	verifications atomic.Int64 // how many hashes were verified, for tests and metrics
}

// NewHasher returns a Hasher with the given parameters, which must be at or
// above OWASP's floor, and take at most MaxArgon2MemoryKiB.
func NewHasher(p Argon2Params) (*Hasher, error) { return newHasher(p, false) }

// weakArgon2 is what tests use when they are not about hashing: the same code
// at a fraction of the cost.
var weakArgon2 = Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}

func newHasher(p Argon2Params, weak bool) (*Hasher, error) {
	if weak {
		p = weakArgon2
	} else if p.MemoryKiB < DefaultArgon2.MemoryKiB || p.Time < DefaultArgon2.Time || p.Threads < 1 {
		return nil, fmt.Errorf("argon2id parameters %+v are below OWASP's floor %+v", p, DefaultArgon2)
	} else if p.MemoryKiB > MaxArgon2MemoryKiB {
		return nil, fmt.Errorf("argon2id memory %d KiB is above the ceiling of %d KiB (1 GiB)",
			p.MemoryKiB, MaxArgon2MemoryKiB)
	}
	h := &Hasher{params: p, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	// The decoy costs a verification what a real hash does (the cost is in
	// the parameters, not in the key), so it need not be hashed from anything:
	// random salt and key are enough, and no password ever matches it. Making
	// it so spares every start an argon2id hash and its 19 MiB.
	salt, key := make([]byte, saltLen), make([]byte, keyLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	h.dummy = encodePHC(p, salt, key)
	return h, nil
}

// Hash returns the PHC string of password under fresh salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.MemoryKiB, h.params.Threads, keyLen)
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches the PHC string encoded, and whether
// the hash should be replaced because its parameters are below the current ones.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	h.verifications.Add(1)
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	ok = subtle.ConstantTimeCompare(got, want) == 1
	rehash = p.MemoryKiB < h.params.MemoryKiB || p.Time < h.params.Time || p.Threads < h.params.Threads
	return ok, rehash, nil
}

// VerifyDummy spends the time a real verification would, for unknown emails.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, h.dummy, password)
	return err
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait to hash: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.slots }

var b64 = base64.RawStdEncoding

func encodePHC(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errBadHash = errors.New("stored password hash is not an argon2id PHC string")

func decodePHC(s string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, errBadHash
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, errBadHash
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// commonPasswordList is zxcvbn's list of the 47,023 most common passwords
// (MIT licence, Dropbox), lower case, one per line, each ending in a newline,
// sorted bytewise (LC_ALL=C sort) for a binary search in place: the list
// costs no heap (a []string of it took 0.7 MiB of every process that checked
// a password, the all-in-one's from its start on).
//
//go:embed common_passwords.txt
var commonPasswordList string

// isCommonPassword reports whether pw, ignoring case, is on the common list.
func isCommonPassword(pw string) bool {
	return inSortedLines(commonPasswordList, strings.ToLower(pw))
}

// inSortedLines reports whether s is one of the lines of list, whose lines
// are sorted bytewise and each end in a newline. It bisects the text: each
// step takes the line around the middle of what is left.
func inSortedLines(list, s string) bool {
	lo, hi := 0, len(list) // list[lo:hi] is whole lines
	for lo < hi {
		mid := lo + (hi-lo)/2
		start := lo + strings.LastIndexByte(list[lo:mid], '\n') + 1
		end := start + strings.IndexByte(list[start:hi], '\n')
		if end < start { // no newline: not a list of whole lines
			return false
		}
		switch line := list[start:end]; {
		case s == line:
			return true
		case s < line:
			hi = start
		default:
			lo = end + 1
		}
	}
	return false
}
