package sqldb

import "time"

// Resolution is the precision at which the databases keep a time:
// PostgreSQL's TIMESTAMP holds microseconds (SQLite keeps what it is given).
const Resolution = time.Microsecond

// Time is t as a database keeps it: in UTC, truncated to Resolution, without
// a monotonic clock reading. A time that is both stored and answered should
// pass through it before either, so that the answer given when it is made
// equals the one read back later, on every dialect.
func Time(t time.Time) time.Time { return t.UTC().Truncate(Resolution) }

// Now is the current time as a database keeps it (see Time).
func Now() time.Time { return Time(time.Now()) }
