package sqldb

import (
	"testing"
	"time"
)

func TestTime(t *testing.T) {
	in := time.Date(2025, 1, 31, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	got := Time(in)
	want := time.Date(2025, 1, 31, 11, 0, 0, 123456000, time.UTC)
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Time(%v) = %v, want %v", in, got, want)
	}
	if now := Now(); now.Nanosecond()%1000 != 0 || now.Location() != time.UTC {
		t.Errorf("Now() = %v, want UTC in whole microseconds", now)
	}
}
