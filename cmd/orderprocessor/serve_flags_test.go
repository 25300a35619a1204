package main

import (
	"os"
	"testing"
	"time"
)

// TestServeFlagsPriceInterval: without --price-interval the platform picks
// the feed's tick period (a minute for the http feed); with it, the flag's.
func TestServeFlagsPriceInterval(t *testing.T) {
	t.Setenv(envName("price-interval"), "") // restored after the test
	os.Unsetenv(envName("price-interval"))
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{[]string{"--price-feed", "http"}, 0},
		{[]string{"--price-feed", "simulated"}, 0},
		{[]string{"--price-feed", "http", "--price-interval", "5s"}, 5 * time.Second},
	} {
		f := newEnvFlags("serve")
		var sf serveFlags
		sf.register(f, 0)
		if err := sf.parse(f, tc.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := sf.config(validSecret, "")
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if cfg.PriceInterval != tc.want {
			t.Errorf("%v: PriceInterval = %s, want %s", tc.args, cfg.PriceInterval, tc.want)
		}
	}
}
