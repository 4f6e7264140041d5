package bus

import (
	"log/slog"
	"time"
)

// pace compares a consumer's handler time with the time messages pulled
// ahead of the handler may wait. The server's AckWait clock runs for a
// message from its delivery, so one that waits in the prefetch buffer past
// AckWait is redelivered while it waits and is then handled twice.
type pace struct {
	avg      time.Duration // moving average of the handler's time
	warnedAt time.Time
}

// paceWarnEvery spaces the warnings of one consumer.
const paceWarnEvery = 5 * time.Minute

// observe records one handler call and warns when the messages pulled ahead,
// handled Concurrency at a time at the average pace, take more than half of
// AckWait.
func (p *pace) observe(took time.Duration, cfg ConsumerConfig, log *slog.Logger) {
	if p.avg == 0 {
		p.avg = took
	} else {
		p.avg += (took - p.avg) / 8
	}
	if cfg.Ordered {
		return // the server sends nothing ahead
	}
	wait := p.avg * time.Duration(cfg.Prefetch) / time.Duration(cfg.Concurrency)
	if wait <= cfg.AckWait/2 || time.Since(p.warnedAt) < paceWarnEvery {
		return
	}
	p.warnedAt = time.Now()
	log.Warn("bus consumer: handler too slow for the prefetch; messages waiting may be "+
		"redelivered and handled twice: lower Prefetch or raise AckWait",
		"prefetch", cfg.Prefetch, "handle_avg", p.avg, "ack_wait", cfg.AckWait)
}
