package identity

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"emporium/internal/platform/sqldb"
)

// Keyring holds the Ed25519 signing keys. The newest key whose signs_from has
// passed signs; every key whose tokens may still be live, and a key published
// ahead of signing, is in the JWKS. Keys live in the database, their private
// halves sealed with the key-encryption key, so every replica signs with the
// same key and a restart keeps them.
type Keyring struct {
	db       *sqldb.DB
	kek      cipher.AEAD
	tokenTTL time.Duration
	now      func() time.Time

	mu   sync.RWMutex
	keys []signingKey // by signs_from, oldest first
}

type signingKey struct {
	kid       string
	pub       ed25519.PublicKey
	priv      ed25519.PrivateKey
	signsFrom time.Time
	signer    jose.Signer
}

// keyLeeway is how long past a successor's start a retired key stays in the
// JWKS beyond the token lifetime: verifiers' clock leeway and cache lag.
const keyLeeway = 5 * time.Minute

func newKeyring(db *sqldb.DB, kek []byte, tokenTTL time.Duration, now func() time.Time) (*Keyring, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keyring{db: db, kek: aead, tokenTTL: tokenTTL, now: now}, nil
}

// Ensure makes sure a key signs now, creating the first one on a new database.
func (k *Keyring) Ensure(ctx context.Context) error {
	if err := k.Load(ctx); err != nil {
		return err
	}
	if _, ok := k.current(); ok {
		return nil
	}
	return k.add(ctx, 0)
}

// Rotate publishes a new key that starts signing after ahead, unless one is
// already waiting. Publishing ahead lets verifiers fetch it before they meet
// a token it signed.
func (k *Keyring) Rotate(ctx context.Context, ahead time.Duration) error {
	return k.add(ctx, ahead)
}

func (k *Keyring) add(ctx context.Context, ahead time.Duration) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	kid := uuid.NewString()
	nonce := make([]byte, k.kek.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sealed := k.kek.Seal(nonce, nonce, priv.Seed(), []byte(kid))
	now := k.now().UTC()
	// Serializable, so that replicas rotating at once add one waiting key, not two.
	err = k.db.TxOptions(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable}, func(tx *sqldb.Tx) error {
		var waiting int
		err := tx.QueryRowContext(ctx, "SELECT count(*) FROM signing_keys WHERE signs_from > $1", now).Scan(&waiting)
		if err != nil || waiting > 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, public_key, sealed_key, created_at, signs_from)
			VALUES ($1, $2, $3, $4, $5)`, kid, b64url.EncodeToString(pub), b64url.EncodeToString(sealed),
			now, now.Add(ahead))
		return err
	})
	if err != nil {
		return fmt.Errorf("add signing key: %w", err)
	}
	return k.Load(ctx)
}

var b64url = base64.RawURLEncoding

// Load reads the keys that may still matter from the database.
func (k *Keyring) Load(ctx context.Context) error {
	rows, err := k.db.QueryContext(ctx,
		"SELECT kid, public_key, sealed_key, signs_from FROM signing_keys ORDER BY signs_from, kid")
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	defer rows.Close()
	var keys []signingKey
	for rows.Next() {
		var kid, pub, sealed string
		var from time.Time
		if err := rows.Scan(&kid, &pub, &sealed, &from); err != nil {
			return fmt.Errorf("load signing keys: %w", err)
		}
		key, err := k.open(kid, pub, sealed, from)
		if err != nil {
			return fmt.Errorf("load signing key %s: %w", kid, err)
		}
		keys = append(keys, key)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}

func (k *Keyring) open(kid, pub, sealed string, from time.Time) (signingKey, error) {
	pubBytes, err := b64url.DecodeString(pub)
	if err != nil || len(pubBytes) != ed25519.PublicKeySize {
		return signingKey{}, errors.New("bad public key")
	}
	box, err := b64url.DecodeString(sealed)
	if err != nil || len(box) < k.kek.NonceSize() {
		return signingKey{}, errors.New("bad sealed key")
	}
	seed, err := k.kek.Open(nil, box[:k.kek.NonceSize()], box[k.kek.NonceSize():], []byte(kid))
	if err != nil {
		return signingKey{}, errors.New("cannot unseal: wrong IDENTITY_KEY_ENCRYPTION_KEY?")
	}
	priv := ed25519.NewKeyFromSeed(seed)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return signingKey{}, err
	}
	return signingKey{kid: kid, pub: pubBytes, priv: priv, signsFrom: from.UTC(), signer: signer}, nil
}

// current returns the key that signs now.
func (k *Keyring) current() (signingKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	now := k.now()
	for i := len(k.keys) - 1; i >= 0; i-- {
		if !k.keys[i].signsFrom.After(now) {
			return k.keys[i], true
		}
	}
	return signingKey{}, false
}

// published returns the keys for the JWKS: the signing key, keys waiting to
// sign, and retired keys whose tokens may still be live.
func (k *Keyring) published() []signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	now := k.now()
	var out []signingKey
	for i, key := range k.keys {
		if i+1 < len(k.keys) {
			// Retired when its successor started signing.
			if next := k.keys[i+1].signsFrom; !next.After(now) && now.Sub(next) > k.tokenTTL+keyLeeway {
				continue
			}
		}
		out = append(out, key)
	}
	return slices.Clip(out)
}

// JWKS returns the public keys as a JSON Web Key Set.
func (k *Keyring) JWKS() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, key := range k.published() {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: key.pub, KeyID: key.kid, Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	if set.Keys == nil {
		set.Keys = []jose.JSONWebKey{}
	}
	return set
}

// newestSignsFrom reports when the newest key starts (or started) signing,
// for the rotation worker.
func (k *Keyring) newestSignsFrom() (time.Time, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if len(k.keys) == 0 {
		return time.Time{}, false
	}
	return k.keys[len(k.keys)-1].signsFrom, true
}
