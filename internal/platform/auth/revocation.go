package auth

import (
	"sync"
	"time"
)

// MaxTokenLifetime is the longest an access token may live; identity refuses
// a longer configured lifetime, and services keep revocations this long.
const MaxTokenLifetime = time.Hour

// Revocations tells a Verifier since when each user's tokens are valid. Tokens
// whose iat is before NotBefore(sub) are refused; the zero time means none are.
//
// A token's iat has a resolution of one second, so NotBefore is compared in
// whole seconds: a token issued in the same second as the revocation is still
// accepted. Otherwise a token minted right after a password change or role
// change (a login or refresh in the same second) would be refused.
type Revocations interface {
	NotBefore(userID string) time.Time
}

// RevocationList is an in-memory Revocations fed by the "user tokens revoked"
// events. The zero value is ready to use and safe for concurrent use.
type RevocationList struct {
	mu        sync.RWMutex
	notBefore map[string]time.Time
}

// Set records that userID's tokens issued before notBefore are revoked. An
// earlier time than the one already recorded is ignored, so redelivered or
// reordered events cannot shorten a revocation.
func (l *RevocationList) Set(userID string, notBefore time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.notBefore == nil {
		l.notBefore = make(map[string]time.Time)
	}
	if cur, ok := l.notBefore[userID]; ok && !notBefore.After(cur) {
		return
	}
	l.notBefore[userID] = notBefore
}

// NotBefore returns the time before which userID's tokens are refused, or the
// zero time.
func (l *RevocationList) NotBefore(userID string) time.Time {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.notBefore[userID]
}

// Prune forgets revocations older than cutoff. Once every token issued before
// a revocation has expired (access tokens live 15 minutes) the entry no longer
// matters; call Prune with now minus the longest token lifetime to bound memory.
func (l *RevocationList) Prune(cutoff time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, t := range l.notBefore {
		if t.Before(cutoff) {
			delete(l.notBefore, id)
		}
	}
}
