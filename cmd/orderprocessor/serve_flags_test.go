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

// TestServeFlagsFX: the exchange-rate flags reach the platform's config,
// from the command line or their environment variables; a spread that is
// not a decimal in [0, 1) is refused.
func TestServeFlagsFX(t *testing.T) {
	t.Setenv(envName("fx-max-age"), "90m")
	f := newEnvFlags("serve")
	var sf serveFlags
	sf.register(f, 0)
	if err := sf.parse(f, []string{"--fx-feed", "simulated", "--fx-spread", "0.002", "--fx-interval", "30s", "--fx-seed", "7", "--fx-url", "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := sf.config(validSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FXFeed != "simulated" || cfg.Trading.FXSpread.String() != "0.002" || cfg.Trading.FXMaxAge != 90*time.Minute ||
		cfg.FXInterval != 30*time.Second || cfg.FXSeed != 7 || cfg.FXHTTP.URL != "http://127.0.0.1:1" {
		t.Fatalf("config %+v", cfg)
	}
	for _, bad := range []string{"1", "-0.1", "x"} {
		f := newEnvFlags("serve")
		var sf serveFlags
		sf.register(f, 0)
		if err := sf.parse(f, []string{"--fx-spread", bad}); err != nil {
			t.Fatal(err)
		}
		if _, err := sf.config(validSecret, ""); err == nil {
			t.Errorf("--fx-spread %s accepted", bad)
		}
	}
}
