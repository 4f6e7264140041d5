package chaos

import (
	"slices"
	"testing"
)

// TestPlaced: the orders each customer's key was answered with, each once,
// from the placed ops only.
func TestPlaced(t *testing.T) {
	h := &History{}
	for _, op := range []Op{
		{Kind: "checkout", Customer: "u1", Key: "k1", Status: 503},
		{Kind: "checkout", Customer: "u1", Key: "k1", Status: 201},
		{Kind: "placed", Customer: "u1", Key: "k1", OrderID: "A", Status: 201},
		{Kind: "placed", Customer: "u1", Key: "k1", OrderID: "A", Status: 201},
		{Kind: "placed", Customer: "u2", Key: "k1", OrderID: "B", Status: 201},
		{Kind: "placed", Customer: "u2", Key: "k1", OrderID: "C", Status: 201},
	} {
		h.Add(op)
	}
	got := h.Placed()
	if len(got) != 2 || !slices.Equal(got["u1 k1"], []string{"A"}) || !slices.Equal(got["u2 k1"], []string{"B", "C"}) {
		t.Errorf("Placed() = %v", got)
	}
}
