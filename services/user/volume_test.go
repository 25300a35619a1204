package user

import (
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
)

var volumeNow = time.Date(2026, 12, 6, 10, 30, 15, 0, time.UTC)

// TestParseVolumeRange: the defaults, the bucket of from, dates, and each
// refusal at its parameter.
func TestParseVolumeRange(t *testing.T) {
	for _, tc := range []struct {
		interval, from, to string
		want               VolumeRange
		buckets            int
	}{
		{"", "", "", VolumeRange{dao.Hour, time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), volumeNow}, 25},
		{"1m", "", "", VolumeRange{dao.Minute, time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC), volumeNow}, 61},
		{"1d", "", "", VolumeRange{dao.Day, time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC), volumeNow}, 31},
		{"1d", "2026-12-01", "2026-12-03", VolumeRange{dao.Day, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)}, 3},
		{"1h", "2026-12-06T11:59:59+02:00", "2026-12-06T10:00:00Z", VolumeRange{dao.Hour, time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC), time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}, 2},
		{"1m", "1990-01-01", "", VolumeRange{}, 0},
	} {
		got, err := ParseVolumeRange(tc.interval, tc.from, tc.to, volumeNow)
		if tc.buckets == 0 {
			if err == nil {
				t.Errorf("%q %q %q: accepted %+v", tc.interval, tc.from, tc.to, got)
			}
			continue
		}
		if err != nil || got != tc.want || got.Buckets() != tc.buckets {
			t.Errorf("%q %q %q = %+v (%d buckets), %v; want %+v (%d)", tc.interval, tc.from, tc.to, got, got.Buckets(), err, tc.want, tc.buckets)
		}
	}
	for _, tc := range []struct{ interval, from, to, loc string }{
		{"5m", "", "", "interval"},
		{"1H", "", "", "interval"},
		{"1h", "today", "", "from"},
		{"1h", "", "2026-02-30", "to"},
		{"1h", "2026-12-06T10:00:00Z", "2026-12-06T09:00:00Z", "from"},
		{"1m", "2026-12-01", "2026-12-06", "from"},
		{"1h", "", "10000-01-01T00:00:00Z", "to"},
		{"1h", "1999-12-31T23:59:59Z", "", "from"},
	} {
		_, err := ParseVolumeRange(tc.interval, tc.from, tc.to, volumeNow)
		if f := apperr.FieldsOf(err); len(f) != 1 || len(f[0].Loc) != 2 || f[0].Loc[0] != "query" || f[0].Loc[1] != tc.loc || !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%q %q %q: error %v (fields %+v), want invalid at query.%s", tc.interval, tc.from, tc.to, err, f, tc.loc)
		}
	}
}

// FuzzParseVolumeRange: any query is either refused as invalid at a query
// parameter or gives a range of at most dao.MaxBuckets buckets, from the
// start of a bucket to a later or equal time.
func FuzzParseVolumeRange(f *testing.F) {
	f.Add("1h", "", "")
	f.Add("1m", "2026-12-06T10:00:00Z", "2026-12-06T11:00:00Z")
	f.Add("1d", "2000-01-01", "9999-12-31")
	f.Add("1d", "2026-12-06", "2026-12-06T00:00:00.999999999-23:59")
	f.Fuzz(func(t *testing.T, interval, from, to string) {
		r, err := ParseVolumeRange(interval, from, to, volumeNow)
		if err != nil {
			if fs := apperr.FieldsOf(err); !apperr.Is(err, apperr.Invalid) || len(fs) != 1 || fs[0].Loc[0] != "query" {
				t.Fatalf("error %v is not a query field error", err)
			}
			return
		}
		if r.To.Before(r.From) || !r.Interval.Truncate(r.From).Equal(r.From) || r.Buckets() < 1 || r.Buckets() > dao.MaxBuckets {
			t.Fatalf("range %+v (%d buckets)", r, r.Buckets())
		}
	})
}
