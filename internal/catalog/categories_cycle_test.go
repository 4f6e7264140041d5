package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/sqldb"
)

// doWithin is e.do with a deadline: when the answer takes longer than d the
// request is cancelled and the test fails, instead of waiting for ever.
func (e *env) doWithin(d time.Duration, method, path, token string, body any) response {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.client.HTTP.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: no answer within %s: %v", method, path, d, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// holdCategoryRows begins a transaction on PostgreSQL that locks the
// categories' rows, so that moves of them wait inside their own transactions
// until release is called (or the test ends). lockWaiters counts the
// sessions of the database that wait for a lock meanwhile.
func holdCategoryRows(t *testing.T, dbURL string, ids ...string) (release func(),
	lockWaiters func() int) {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tx, err := db.Writer().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	release = func() { _ = tx.Rollback() }
	t.Cleanup(release)
	rows, err := tx.QueryContext(ctx, "SELECT id FROM categories WHERE id IN ("+
		placeholders(1, len(ids))+") FOR UPDATE", anys(ids)...)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	lockWaiters = func() int {
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return release, lockWaiters
}

// TestCategoryOppositeMoves: two moves that together would close a cycle — X
// under Y and Y under X — sent at the same time, end with one 200 and one
// 422 naming parent_id, and the tree stays a tree. On PostgreSQL the test
// holds both rows until both moves wait inside their transactions, so that
// they really overlap.
func TestCategoryOppositeMoves(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		x := e.newCategory("X", "x", "", 0)
		y := e.newCategory("Y", "y", "", 1)
		release, lockWaiters := func() {}, func() int { return 2 }
		if e.svc.db.Dialect() == sqldb.Postgres {
			release, lockWaiters = holdCategoryRows(t, dbURL, x.ID, y.ID)
		}

		burst, token := e.burstClient(), e.adminToken()
		moves := [][2]string{{x.ID, y.ID}, {y.ID, x.ID}} // category, new parent
		got := make([]response, len(moves))
		errs := make([]error, len(moves))
		var wg sync.WaitGroup
		for i, m := range moves {
			wg.Go(func() {
				got[i], errs[i] = burst.trySend(e.url, "PATCH", "/api/v1/categories/"+m[0],
					map[string]any{"parent_id": m[1]}, "Authorization", "Bearer "+token)
			})
		}
		eventually(t, 10*time.Second, "both moves wait for a lock",
			func() bool { return lockWaiters() >= 2 })
		release()
		wg.Wait()

		var statuses []int
		for i, r := range got {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			statuses = append(statuses, r.status)
			if r.status == http.StatusUnprocessableEntity {
				expectInvalid(t, r, "parent_id")
			}
		}
		slices.Sort(statuses)
		want := []int{http.StatusOK, http.StatusUnprocessableEntity}
		if !slices.Equal(statuses, want) {
			t.Fatalf("the opposite moves answered %v, want %v", statuses, want)
		}
		tree := e.treeOverHTTP()
		if shape := treeShape(tree); shape != "x[y]" && shape != "y[x]" {
			t.Errorf("the tree is %q, want x[y] or y[x]", shape)
		}
		checkParents(t, tree, nil)
	})
}

// TestCategoryCycleInDatabase: a cycle of parent links stored in the
// database (what concurrent moves could leave behind before they were
// serialized) neither hides its categories from the tree, nor makes the
// listing filtered by one of them, or a move under one of them, run for
// ever; and moving one of them to the top repairs the tree.
func TestCategoryCycleInDatabase(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		x := e.newCategory("X", "x", "", 0)
		y := e.newCategory("Y", "y", x.ID, 0)
		z := e.newCategory("Z", "z", "", 1)
		px := e.createProduct("CYCLE-X", 100, 0, x.ID)
		py := e.createProduct("CYCLE-Y", 200, 0, y.ID)
		_, err := e.svc.db.ExecContext(context.Background(),
			"UPDATE categories SET parent_id = $1 WHERE id = $2", y.ID, x.ID) // x → y → x
		if err != nil {
			t.Fatal(err)
		}
		const d = 10 * time.Second

		r := e.doWithin(d, "GET", "/api/v1/categories", "", nil)
		expect(t, r, http.StatusOK, "")
		var tree struct {
			Items []*Category `json:"items"`
		}
		r.json(t, &tree)
		if got, want := treeShape(tree.Items), "x[y] z"; got != want {
			t.Errorf("the tree is %q, want %q", got, want)
		}

		for _, slug := range []string{"x", "y"} {
			r := e.doWithin(d, "GET", "/api/v1/products?sort=price&category="+slug, "", nil)
			expect(t, r, http.StatusOK, "")
			var pg productPage
			r.json(t, &pg)
			if got, want := idsOf(pg.Items), []string{px.ID, py.ID}; !slices.Equal(got, want) {
				t.Errorf("category=%s lists %v, want %v", slug, got, want)
			}
		}

		// Z under X would walk up X's parents for ever: it is refused.
		r = e.doWithin(d, "PATCH", "/api/v1/categories/"+z.ID, e.adminToken(),
			map[string]any{"parent_id": x.ID})
		expectInvalid(t, r, "parent_id")

		// An admin repairs the tree by moving X to the top.
		r = e.doWithin(d, "PATCH", "/api/v1/categories/"+x.ID, e.adminToken(),
			map[string]any{"parent_id": nil})
		expect(t, r, http.StatusOK, "")
		tree.Items = e.treeOverHTTP()
		if got, want := treeShape(tree.Items), "x[y] z"; got != want {
			t.Errorf("after the repair the tree is %q, want %q", got, want)
		}
		checkParents(t, tree.Items, nil)
	})
}
