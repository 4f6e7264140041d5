package orders

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"sync"
	"time"

	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/web"
)

// A customer's page waits for the order's payment without polling: GET
// /api/v1/orders/{id} with If-None-Match naming the order as the client has
// it and "Prefer: wait=N" answers as soon as the order changes, or 304 after
// N seconds (at most maxOrderWait).
const (
	maxOrderWait = 10 * time.Second
	// waitRecheck is how often a waiting request reads the order again: a
	// change committed by this process wakes it at once, one made by another
	// replica is seen at the next look.
	waitRecheck = time.Second
)

// watchers are the requests waiting for orders to change, by order id.
type watchers struct {
	mu      sync.Mutex
	byOrder map[string]map[chan struct{}]struct{}
}

// watch registers a wait for order id to change: the channel is closed at
// the next change committed in this process. stop unregisters it.
func (w *watchers) watch(id string) (changed <-chan struct{}, stop func()) {
	ch := make(chan struct{})
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byOrder == nil {
		w.byOrder = map[string]map[chan struct{}]struct{}{}
	}
	if w.byOrder[id] == nil {
		w.byOrder[id] = map[chan struct{}]struct{}{}
	}
	w.byOrder[id][ch] = struct{}{}
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if set := w.byOrder[id]; set != nil {
			delete(set, ch)
			if len(set) == 0 {
				delete(w.byOrder, id)
			}
		}
	}
}

// changed wakes every wait for order id.
func (w *watchers) changed(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.byOrder[id] {
		close(ch)
	}
	delete(w.byOrder, id)
}

// update writes o's change (see updateOrder) and, once the transaction
// commits, wakes the requests waiting for the order to change.
func (s *Service) update(ctx context.Context, tx *sqldb.Tx, o *Order, readStatus string,
	before int) (bool, error) {
	ok, err := updateOrder(ctx, tx, o, readStatus, before)
	if ok && err == nil {
		id := o.id
		tx.OnCommit(func() { s.watchers.changed(id) })
	}
	return ok, err
}

// renderedOrder is an order as GET answers it: its JSON and its ETag.
type renderedOrder struct {
	Body []byte
	ETag string
}

// WaitOrder returns an order the viewer may see (see Order). When ifNoneMatch
// names the order as it stands, it waits up to wait for the order to change
// and returns it then; changed is false when it did not (or ifNoneMatch
// named it and wait is 0): the caller answers 304.
func (s *Service) WaitOrder(ctx context.Context, v Viewer, id, ifNoneMatch string,
	wait time.Duration) (a renderedOrder, changed bool, err error) {
	if ifNoneMatch == "" || wait <= 0 {
		a, err = s.orderAnswer(ctx, v, id)
		return a, ifNoneMatch == "" || !web.ETagMatches(ifNoneMatch, a.ETag), err
	}
	deadline := time.Now().Add(wait)
	for {
		woke, stop := s.watchers.watch(id) // before the read: no change is missed
		a, err = s.orderAnswer(ctx, v, id)
		if err != nil || !web.ETagMatches(ifNoneMatch, a.ETag) {
			stop()
			return a, true, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			stop()
			return a, false, nil
		}
		t := time.NewTimer(min(left, waitRecheck))
		select {
		case <-woke:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		stop()
		if ctx.Err() != nil {
			return a, false, ctx.Err()
		}
	}
}

// orderAnswer reads an order the viewer may see and renders it.
func (s *Service) orderAnswer(ctx context.Context, v Viewer, id string) (renderedOrder, error) {
	o, err := s.Order(ctx, v, id)
	if err != nil {
		return renderedOrder{}, err
	}
	body, err := json.Marshal(o)
	if err != nil {
		return renderedOrder{}, err
	}
	h := fnv.New64a()
	h.Write(body)
	return renderedOrder{Body: append(body, '\n'), ETag: `"` + hex.EncodeToString(h.Sum(nil)) + `"`}, nil
}
