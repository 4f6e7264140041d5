package identity

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"emporium/internal/platform/sqldb"
)

// querier is what both *sqldb.DB (reads) and *sqldb.Tx offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const userColumns = `id, email, name, phone, sms_opt_in, roles, password_hash, tokens_not_before,
	created_at, updated_at`

// scanner is a row, from QueryRow or from Rows.
type scanner interface{ Scan(dest ...any) error }

func scanUser(s scanner) (*User, error) {
	var u User
	var phone sql.NullString
	var roles string
	var notBefore sql.NullTime
	err := s.Scan(&u.ID, &u.Email, &u.Name, &phone, &u.SMSOptIn, &roles, &u.passwordHash, &notBefore,
		&u.CreatedAt, &u.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if phone.Valid {
		u.Phone = &phone.String
	}
	u.Roles = strings.Split(roles, ",")
	u.tokensNotBefore = notBefore.Time.UTC()
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

// userBy reads one user by a unique column, inside tx or from db. A
// transaction that writes the user reads it with lockUser instead.
func userBy(ctx context.Context, q querier, column, value string) (*User, error) {
	return queryUser(ctx, q, "SELECT "+userColumns+" FROM users WHERE "+column+" = $1", value)
}

// lockUser reads one user by a unique column inside tx and keeps the row
// locked until tx ends, so that transactions that read and write a user run
// one after the other instead of writing back what the other changed. On
// PostgreSQL that is FOR UPDATE; SQLite has a single writer, whose
// transactions already run one at a time.
func lockUser(ctx context.Context, tx *sqldb.Tx, column, value string) (*User, error) {
	query := "SELECT " + userColumns + " FROM users WHERE " + column + " = $1"
	if tx.Dialect() == sqldb.Postgres {
		query += " FOR UPDATE"
	}
	return queryUser(ctx, tx, query, value)
}

// roleChangesLock is the key of the PostgreSQL advisory lock that
// lockRoleChanges takes.
const roleChangesLock = 0x6964656e_726f6c65 // "idenrole"

// lockRoleChanges makes tx the only transaction changing roles until it
// ends, so that what it counts (the admins) does not change under it.
// SQLite's single writer already does that.
func lockRoleChanges(ctx context.Context, tx *sqldb.Tx) error {
	if tx.Dialect() != sqldb.Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(roleChangesLock))
	return err
}

func queryUser(ctx context.Context, q querier, query, value string) (*User, error) {
	rows, err := q.QueryContext(ctx, query, value)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, ErrUserNotFound
	}
	u, err := scanUser(rows)
	if err != nil {
		return nil, err
	}
	return u, rows.Close()
}

func insertUser(ctx context.Context, tx *sqldb.Tx, u *User) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		u.ID, u.Email, u.Name, u.Phone, u.SMSOptIn, strings.Join(u.Roles, ","), u.passwordHash,
		nullTime(u.tokensNotBefore), u.CreatedAt, u.UpdatedAt)
	if sqldb.IsUnique(err, "email") {
		return ErrEmailTaken
	}
	return err
}

// updateUser writes every mutable column of u.
func updateUser(ctx context.Context, tx *sqldb.Tx, u *User) error {
	_, err := tx.ExecContext(ctx, `UPDATE users SET name = $2, phone = $3, sms_opt_in = $4, roles = $5,
		password_hash = $6, tokens_not_before = $7, updated_at = $8 WHERE id = $1`,
		u.ID, u.Name, u.Phone, u.SMSOptIn, strings.Join(u.Roles, ","), u.passwordHash,
		nullTime(u.tokensNotBefore), u.UpdatedAt)
	return err
}

// updatePasswordHash replaces u's password hash (a rehash of the same
// password), and nothing else, unless the hash changed since u was read.
func updatePasswordHash(ctx context.Context, tx *sqldb.Tx, u *User, hash string,
	now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $3, updated_at = $4
		WHERE id = $1 AND password_hash = $2`, u.ID, u.passwordHash, hash, now)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 1 { // otherwise a new password was set meanwhile, and it stays
		u.passwordHash, u.UpdatedAt = hash, now
	}
	return nil
}

// listUsers returns up to limit+1 users by id after the given id, filtered by
// email when it is not empty.
func listUsers(ctx context.Context, db *sqldb.DB, email, after string, limit int) ([]*User, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE ($1 = '' OR email = $1) AND id > $2 ORDER BY id LIMIT $3`, email, after, limit+1)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var users []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// countAdmins counts the users holding the admin role, inside tx or from db.
func countAdmins(ctx context.Context, q querier) (int, error) {
	rows, err := q.QueryContext(ctx, `SELECT count(*) FROM users
		WHERE ',' || roles || ',' LIKE '%,admin,%'`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// session is a refresh token's row with its family's.
type session struct {
	familyID      string
	userID        string
	tokenExpires  time.Time
	rotatedAt     sql.NullTime
	familyExpires time.Time
	revokedAt     sql.NullTime
}

const sessionQuery = `SELECT f.id, f.user_id, t.expires_at, t.rotated_at, f.expires_at, f.revoked_at
	FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
	WHERE t.token_hash = $1`

// sessionByToken reads the session of a refresh token without locking it:
// enough to learn its user, or to revoke its family (which the UPDATE locks).
func sessionByToken(ctx context.Context, tx *sqldb.Tx, hash string) (*session, error) {
	return querySession(ctx, tx, sessionQuery, hash)
}

// lockSession reads the session of a refresh token to use it: it locks the
// user's row (lockUser), then the family's row, and reads both afresh under
// the locks. Every transaction that ends sessions or access tokens holds one
// of the two until it commits: a password change, logout with all and a role
// change lock the user's row; a logout and a reuse revocation write the
// family's row. So a revocation that committed before these locks were taken
// is seen here, and one that had not yet waits until tx ends. The order,
// user then family, is the order the revocations take them in.
func lockSession(ctx context.Context, tx *sqldb.Tx, hash string) (*session, *User, error) {
	sn, err := sessionByToken(ctx, tx, hash)
	if err != nil {
		return nil, nil, err
	}
	u, err := lockUser(ctx, tx, "id", sn.userID)
	if err != nil {
		return nil, nil, err
	}
	query := sessionQuery
	if tx.Dialect() == sqldb.Postgres {
		query += " FOR UPDATE OF f"
	}
	// Read again: what was read before the user's lock may have changed.
	if sn, err = querySession(ctx, tx, query, hash); err != nil {
		return nil, nil, err
	}
	return sn, u, nil
}

func querySession(ctx context.Context, tx *sqldb.Tx, query, hash string) (*session, error) {
	var s session
	err := tx.QueryRowContext(ctx, query, hash).Scan(&s.familyID, &s.userID, &s.tokenExpires,
		&s.rotatedAt, &s.familyExpires, &s.revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrInvalidRefreshToken // unknown, or deleted meanwhile by the sweeper
	}
	return &s, err
}

func insertFamily(ctx context.Context, tx *sqldb.Tx, id, userID string, now, expires time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_families (id, user_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4)`, id, userID, now, expires)
	return err
}

func insertRefreshToken(ctx context.Context, tx *sqldb.Tx, hash, familyID string, now, expires time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4)`, hash, familyID, now, expires)
	return err
}

// markRotated marks a token used, and reports false when it already was: of
// two concurrent refreshes with one token, exactly one wins this update.
func markRotated(ctx context.Context, tx *sqldb.Tx, hash string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET rotated_at = $2
		WHERE token_hash = $1 AND rotated_at IS NULL`, hash, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func revokeFamily(ctx context.Context, tx *sqldb.Tx, familyID, cause string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = $2, revoke_cause = $3
		WHERE id = $1 AND revoked_at IS NULL`, familyID, now, cause)
	return err
}

func revokeUserFamilies(ctx context.Context, tx *sqldb.Tx, userID, cause string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = $2, revoke_cause = $3
		WHERE user_id = $1 AND revoked_at IS NULL`, userID, now, cause)
	return err
}

// sessionSweepChunk is how many families one sweep transaction deletes.
const sessionSweepChunk = 500

// deleteExpiredSessions removes up to sessionSweepChunk families whose absolute
// lifetime ended before cutoff, with their tokens.
func deleteExpiredSessions(ctx context.Context, db *sqldb.DB, cutoff time.Time) (int64, error) {
	var n int64
	err := db.Tx(ctx, func(tx *sqldb.Tx) error {
		const pick = `SELECT id FROM refresh_families WHERE expires_at < $1 ORDER BY id LIMIT $2`
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM refresh_tokens WHERE family_id IN (`+pick+`)`, cutoff, sessionSweepChunk); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM refresh_families WHERE id IN (`+pick+`)`,
			cutoff, sessionSweepChunk)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

func nullTime(t time.Time) sql.NullTime {
	return sql.NullTime{Time: t, Valid: !t.IsZero()}
}

// queuedEmailNormalizations returns up to limit users whose email migration
// 00002 queued for normalizeStoredEmails, the oldest account first.
func queuedEmailNormalizations(ctx context.Context, db *sqldb.DB, limit int) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT q.user_id FROM email_normalization q
		JOIN users u ON u.id = q.user_id ORDER BY u.created_at, u.id LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// dequeueEmailNormalization takes a user off normalizeStoredEmails' queue.
func dequeueEmailNormalization(ctx context.Context, tx *sqldb.Tx, userID string) error {
	_, err := tx.ExecContext(ctx, "DELETE FROM email_normalization WHERE user_id = $1", userID)
	return err
}

// updateEmail replaces u's email; ErrEmailTaken when another account has it.
func updateEmail(ctx context.Context, tx *sqldb.Tx, u *User) error {
	_, err := tx.ExecContext(ctx, "UPDATE users SET email = $2, updated_at = $3 WHERE id = $1",
		u.ID, u.Email, u.UpdatedAt)
	if sqldb.IsUnique(err, "email") {
		return ErrEmailTaken
	}
	return err
}
