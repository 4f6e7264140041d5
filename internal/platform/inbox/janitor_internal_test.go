package inbox

import (
	"testing"
	"time"
)

func TestJanitorDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		retention, interval         time.Duration
		wantRetention, wantInterval time.Duration
	}{
		{0, 0, DefaultRetention, DefaultJanitorInterval},
		{-time.Hour, -time.Second, DefaultRetention, DefaultJanitorInterval},
		{7 * 24 * time.Hour, time.Minute, 7 * 24 * time.Hour, time.Minute},
	}
	for _, tt := range tests {
		r, i := janitorDefaults(tt.retention, tt.interval)
		if r != tt.wantRetention || i != tt.wantInterval {
			t.Errorf("janitorDefaults(%s, %s) = %s, %s; want %s, %s", tt.retention,
				tt.interval, r, i, tt.wantRetention, tt.wantInterval)
		}
	}
}
