package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/redistest"
	"emporium/internal/platform/testkit"
)

func TestRedisReplicasShareCounts(t *testing.T) {
	t.Parallel()
	redistest.Require(t, asOpen)
	// Two clients, as two replicas of a service would have.
	one, two := redistest.Client(t, asOpen), redistest.Client(t, asOpen)
	prefix := redistest.Prefix(t, one, "ratelimit")
	replicas := []*Redis{NewRedis(one, prefix), NewRedis(two, prefix)}
	ctx := context.Background()
	l := Limit{Max: 4, Window: time.Minute}

	for i := range 4 {
		got, err := replicas[i%2].Hit(ctx, "login:acct:a@example.com", l)
		if err != nil {
			t.Fatal(err)
		}
		if got.Count != i+1 || got.Limited != (i+1 == l.Max) {
			t.Errorf("hit %d on replica %d = %+v, want Count %d", i+1, i%2, got, i+1)
		}
	}
	if err := replicas[1].Reset(ctx, "login:acct:a@example.com"); err != nil {
		t.Fatal(err)
	}
	got, err := replicas[0].Check(ctx, "login:acct:a@example.com", l)
	if err != nil || got != (Result{}) {
		t.Errorf("check on one replica after a reset on the other = %+v, %v; want zero", got, err)
	}
}

func TestRedisKeysStayBoundedAndExpire(t *testing.T) {
	t.Parallel()
	client := redistest.Require(t, asOpen)
	prefix := redistest.Prefix(t, client, "ratelimit")
	s := NewRedis(client, prefix)
	ctx := context.Background()
	l := Limit{Max: 3, Window: 300 * time.Millisecond}
	for range 10 {
		if _, err := s.Hit(ctx, "k", l); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := client.ZCard(ctx, prefix+"k").Result(); err != nil || n != int64(l.Max+1) {
		t.Errorf("sorted set holds %d members (%v), want %d", n, err, l.Max+1)
	}
	if ttl, err := client.PTTL(ctx, prefix+"k").Result(); err != nil || ttl <= 0 ||
		ttl > l.Window {
		t.Errorf("PTTL = %s (%v), want in (0, %s]", ttl, err, l.Window)
	}
	testkit.Eventually(t, l.Window+3*time.Second, func() bool {
		n, err := client.Exists(ctx, prefix+"k").Result()
		return err == nil && n == 0
	}, "key %sk never expired", prefix)
}

func TestRedisEventIDIsTheMember(t *testing.T) {
	t.Parallel()
	client := redistest.Require(t, asOpen)
	prefix := redistest.Prefix(t, client, "ratelimit")
	s := NewRedis(client, prefix)
	ctx := context.Background()
	l := Limit{Max: 2, Window: time.Minute}
	var ids []string
	for _, admit := range []bool{false, true, true} {
		call := s.Hit
		if admit {
			call = s.Admit
		}
		res, err := call(ctx, "k", l)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	if ids[0] == "" || ids[1] == "" || ids[2] != "" {
		t.Fatalf("IDs of hit, admit, refused admit = %q, want two, then none", ids)
	}
	members, err := client.ZRange(ctx, prefix+"k", 0, -1).Result()
	if err != nil || len(members) != 2 {
		t.Fatalf("members = %q (%v), want the two recorded events", members, err)
	}
	for _, id := range ids[:2] {
		if err := s.Forget(ctx, "k", id); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := client.Exists(ctx, prefix+"k").Result(); err != nil || n != 0 {
		t.Errorf("key exists (%d, %v) after forgetting all its events", n, err)
	}
}

func TestRedisDownIsUnavailable(t *testing.T) {
	t.Parallel()
	client := unreachableClient(t, func(o *redis.Options) {
		o.MaxRetries, o.DialerRetries = -1, 1
	})
	s := NewRedis(client, "x:")
	ctx := context.Background()
	l := Limit{Max: 3, Window: time.Minute}
	_, hitErr := s.Hit(ctx, "k", l)
	_, admitErr := s.Admit(ctx, "k", l)
	_, checkErr := s.Check(ctx, "k", l)
	forgetErr := s.Forget(ctx, "k", "some-id")
	resetErr := s.Reset(ctx, "k")
	for op, err := range map[string]error{"hit": hitErr, "admit": admitErr, "check": checkErr,
		"forget": forgetErr, "reset": resetErr} {
		if kind := errs.KindOf(err); kind != errs.Unavailable {
			t.Errorf("%s with Redis down: error %v of kind %v, want %v", op, err, kind,
				errs.Unavailable)
		}
	}
}
