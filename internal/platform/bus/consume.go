package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"emporium/internal/event"
	"emporium/internal/platform/backoff"
)

// ConsumerConfig describes a durable consumer and what it does with events.
//
// Delivery is at least once and, unless Ordered is set, not in order: a
// message whose handler fails is retried after its backoff while the
// messages behind it go ahead, and replicas of one service pull from the same
// durable and handle different messages at the same time. So a handler must
// be idempotent (apply each event once with the inbox package) and must not
// rely on the order of events: compare versions or timestamps carried in the
// event with the state it already holds, and ignore what is older. Set
// Ordered only where that cannot be done.
type ConsumerConfig struct {
	Stream  string
	Durable string // also names the consumer in logs, metrics and dead letters
	// FilterSubjects limits the consumer to these subjects; empty takes all.
	// More than one needs nats-server 2.10 or later.
	FilterSubjects []string
	// MaxDeliver is how many deliveries a message gets before it is
	// dead-lettered; 5 when zero. The server itself never gives up on a
	// message (its MaxDeliver is unlimited): the consumer terminates a message
	// only once its dead letter is stored. While that fails, the message is
	// kept and redelivered after the last Backoff delay, and every failure is
	// logged at error level and counted as
	// emporium_bus_consumed_total{result="deadletter_failed"}. A delivery
	// past MaxDeliver does not call the handler again, so a message that
	// crashes the process is dead-lettered rather than crashing it forever.
	MaxDeliver int
	// Backoff is the delay before redelivery after the nth failed delivery;
	// the last entry repeats. 1s, 5s, 30s, 2m when empty.
	Backoff []time.Duration
	// AckWait is how long a delivery may stay unanswered before the server
	// redelivers it; 30s when zero. The clock restarts when the handler
	// starts on the message, and the handler's context ends a tenth of
	// AckWait before it runs out, leaving time to answer.
	AckWait time.Duration
	// Prefetch is how many messages are pulled ahead of the handlers; 10
	// when zero, and at least Concurrency. The server's AckWait clock runs
	// for them while they wait, so keep Prefetch ÷ Concurrency × handler
	// time well under AckWait: past half of it the consumer logs a warning,
	// as messages waiting may be redelivered (and then handled twice) before
	// their turn.
	Prefetch int
	// Concurrency is how many messages this process handles at once; 1 when
	// zero. More than one needs nothing a handler does not already need
	// (idempotent, not relying on order; replicas handle messages at the same
	// time anyway), and keeps a handler that waits on its database from
	// holding up the messages behind it. Ordered consumers handle one.
	Concurrency int
	// Ordered handles the consumer's messages strictly in stream order, one
	// at a time across all replicas: the server holds the next message back
	// until the one before is acknowledged or dead-lettered (MaxAckPending 1).
	// A failing message then holds up all the messages behind it for its
	// whole retry schedule, and throughput is one message per handler call
	// and round trip. Prefetch and Concurrency do not apply.
	Ordered bool
	// Handler applies one event. nil acknowledges it; an error retries it
	// with backoff, or dead-letters it at once when marked with Permanent.
	Handler func(ctx context.Context, env event.Envelope) error
}

func (cfg *ConsumerConfig) setDefaults() error {
	if cfg.Stream == "" || cfg.Durable == "" || cfg.Handler == nil {
		return errors.New("Stream, Durable and Handler are required")
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = 5
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second,
			2 * time.Minute}
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 10
	}
	cfg.Prefetch = max(cfg.Prefetch, cfg.Concurrency)
	if cfg.Ordered {
		// The server sends one message at a time; pulling more only waits.
		cfg.Prefetch, cfg.Concurrency = 1, 1
	}
	return nil
}

// Consumer is a running durable pull consumer. It starts handling its
// messages in the order the server delivers them, which is not stream order
// after a retry unless ConsumerConfig.Ordered is set, up to
// ConsumerConfig.Concurrency at a time.
type Consumer struct {
	bus  *Bus
	cfg  ConsumerConfig
	log  *slog.Logger
	cons jetstream.Consumer
	base context.Context // handler contexts derive from it; never cancelled

	// slots holds a token per handler running; inflight counts them for Stop.
	slots    chan struct{}
	inflight sync.WaitGroup

	statsMu sync.Mutex // guards pace and causes, which handlers share
	pace    pace
	// causes keeps the handler error of messages whose dead letter could not
	// be stored, by stream sequence, for their next delivery.
	causes map[uint64]error

	mu      sync.Mutex
	iter    jetstream.MessagesContext
	halted  bool
	haltCtx context.Context // ends when the consumer stops
	haltNow context.CancelFunc
	done    chan struct{}
	unhook  func() bool
	stopped sync.Once
}

// Consume creates or updates the durable consumer cfg.Durable on cfg.Stream
// (explicit acks; the consumer, not the server, decides when to give up) and
// handles its messages until Stop is called or ctx ends. A handler that runs
// when ctx ends is let finish. A stream that does not exist yet (its service
// has never started) is waited for in the background, not an error.
//
// Events may be delivered more than once and, unless cfg.Ordered is set, out
// of order: see ConsumerConfig.
func (b *Bus) Consume(ctx context.Context, cfg ConsumerConfig) (*Consumer, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("bus consume: %w", err)
	}
	c := &Consumer{
		bus:    b,
		cfg:    cfg,
		log:    b.log.With("consumer", cfg.Durable, "stream", cfg.Stream),
		base:   context.WithoutCancel(ctx),
		causes: map[uint64]error{},
		slots:  make(chan struct{}, cfg.Concurrency),
		done:   make(chan struct{}),
	}
	c.haltCtx, c.haltNow = context.WithCancel(context.Background())
	if err := c.open(ctx); err != nil {
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("bus consume %s: %w", cfg.Durable, err)
		}
		// The stream's own service creates it when it first starts, and may
		// start after this one: there is nothing to consume until then, and
		// this service runs regardless. Nothing is missed: the consumer
		// starts from the stream's first message.
		c.log.Info("bus consumer: the stream does not exist yet; waiting for it")
	}
	c.unhook = context.AfterFunc(ctx, c.halt)
	go c.run()
	return c, nil
}

// open creates or updates the consumer on the server and starts pulling.
// The server's MaxDeliver is unlimited: past it the server would stop
// redelivering a message and move on as if it were handled, so only the
// consumer decides when a message is done (see ConsumerConfig.MaxDeliver).
func (c *Consumer) open(ctx context.Context) error {
	jcfg := jetstream.ConsumerConfig{
		Durable:       c.cfg.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.cfg.AckWait,
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if c.cfg.Ordered {
		jcfg.MaxAckPending = 1
	}
	// A single filter goes in FilterSubject, which servers before 2.10 know.
	if len(c.cfg.FilterSubjects) == 1 {
		jcfg.FilterSubject = c.cfg.FilterSubjects[0]
	} else {
		jcfg.FilterSubjects = c.cfg.FilterSubjects
	}
	cons, err := c.bus.js.CreateOrUpdateConsumer(ctx, c.cfg.Stream, jcfg)
	if err != nil {
		return classify(err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(c.cfg.Prefetch))
	if err != nil {
		return classify(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.halted {
		iter.Stop()
		return errors.New("stopped")
	}
	c.cons, c.iter = cons, iter
	return nil
}

// Stop stops pulling messages and waits for the handlers in progress, if any.
// Messages pulled ahead and not handled are given back to the server (a nak
// without delay), so that another replica gets them at once rather than
// after AckWait; while the bus is disconnected they cannot be, and the
// server redelivers them after AckWait.
func (c *Consumer) Stop() {
	c.stopped.Do(func() {
		if c.unhook != nil {
			c.unhook()
		}
		c.halt()
	})
	<-c.done
}

func (c *Consumer) halt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.halted {
		return
	}
	c.halted = true
	c.haltNow()
	if c.iter == nil {
		return
	}
	// Draining keeps the messages already pulled for run to give back; a
	// disconnected connection cannot give them back, nor drain promptly.
	if c.bus.nc.IsConnected() {
		c.iter.Drain()
	} else {
		c.iter.Stop()
	}
}

// nextPolicy spaces the attempts to read the next message after an error.
var nextPolicy = backoff.Policy{Initial: 250 * time.Millisecond, Max: 5 * time.Second,
	Jitter: 0.2}

func (c *Consumer) run() {
	defer close(c.done)
	// Every handler ends before the consumer counts as stopped.
	defer c.inflight.Wait()
	c.mu.Lock()
	waiting := c.iter == nil
	c.mu.Unlock()
	if waiting && !c.reopen() {
		return
	}
	failures := 0
	var unhandled []jetstream.Msg // pulled ahead when the consumer stopped
	for {
		c.mu.Lock()
		iter := c.iter
		c.mu.Unlock()
		msg, err := iter.Next()
		if err == nil {
			failures = 0
			if !c.start(msg) {
				unhandled = append(unhandled, msg)
			}
			continue
		}
		if c.isHalted() {
			// Given back only now that the drain is complete: before, the
			// server could hand them straight back to this pull, which no
			// longer reads them.
			c.giveBack(unhandled)
			return
		}
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			// Closed under us: the connection closed for good, or the consumer
			// was deleted. Reopen it, unless the connection is gone.
			if !c.reopen() {
				return
			}
			continue
		}
		failures++
		c.log.Warn("bus consumer: next message", "err", err, "failures", failures)
		if !backoff.Sleep(c.haltCtx, nextPolicy.Delay(failures)) {
			return
		}
	}
}

// start hands msg to a handler of its own once fewer than Concurrency run,
// and reports false, leaving msg unhandled, when the consumer halts first.
func (c *Consumer) start(msg jetstream.Msg) bool {
	if c.isHalted() {
		return false
	}
	select {
	case c.slots <- struct{}{}:
	case <-c.haltCtx.Done():
		return false
	}
	c.inflight.Add(1)
	go func() {
		defer c.inflight.Done()
		defer func() { <-c.slots }()
		c.handle(msg)
	}()
	return true
}

// giveBack returns messages pulled ahead of a consumer that stopped to the
// server, for redelivery now to another replica or the next start.
func (c *Consumer) giveBack(msgs []jetstream.Msg) {
	for _, msg := range msgs {
		if err := msg.Nak(); err != nil {
			c.log.Warn("bus consumer: giving back a prefetched message", "subject",
				msg.Subject(), "err", err)
			continue
		}
		c.bus.metrics.consumed.WithLabelValues(c.cfg.Durable, "returned").Inc()
	}
}

// reopen recreates the consumer with backoff until it works, Stop is called,
// or the connection is closed for good.
func (c *Consumer) reopen() bool {
	for attempt := 1; ; attempt++ {
		if c.bus.nc.IsClosed() {
			c.log.Error("bus consumer: connection closed, consumer stops")
			return false
		}
		ctx, cancel := context.WithTimeout(c.base, requestTimeout)
		err := c.open(ctx)
		cancel()
		if err == nil {
			c.log.Info("bus consumer: reopened")
			return true
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			// Waiting for the stream's service to start is no failure.
			c.log.Debug("bus consumer: waiting for the stream", "attempt", attempt)
		} else {
			c.log.Warn("bus consumer: reopen", "attempt", attempt, "err", err)
		}
		if !backoff.Sleep(c.haltCtx, reconnectDelay(attempt)) {
			return false
		}
	}
}

func (c *Consumer) isHalted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.halted
}
