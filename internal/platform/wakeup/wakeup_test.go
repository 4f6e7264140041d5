package wakeup

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestNotifyWakesWhoWantsTheTopic(t *testing.T) {
	var topics Topics
	orders, stopOrders := topics.Listen(func(s string) bool { return strings.HasPrefix(s, "orders.") })
	carts, stopCarts := topics.Listen(func(s string) bool { return strings.HasPrefix(s, "cart.") })
	defer stopCarts()

	topics.Notify("orders.order.placed")
	topics.Notify("orders.order.paid") // kept as one signal
	select {
	case <-orders:
	default:
		t.Fatal("the orders listener was not woken")
	}
	select {
	case <-orders:
		t.Fatal("two signals kept; want one")
	case <-carts:
		t.Fatal("the cart listener was woken by an orders topic")
	default:
	}

	stopOrders()
	if n := topics.Listening(); n != 1 {
		t.Errorf("%d listening after a stop, want 1", n)
	}
	topics.Notify("orders.order.placed")
	select {
	case <-orders:
		t.Error("a stopped listener was woken")
	default:
	}
}

func TestSleep(t *testing.T) {
	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	if !Sleep(context.Background(), time.Hour, wake) {
		t.Error("Sleep woken reported false")
	}
	if !Sleep(context.Background(), time.Millisecond, nil) {
		t.Error("Sleep that ran its time reported false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour, nil) {
		t.Error("Sleep with its context ended reported true")
	}
}
