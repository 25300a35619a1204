package platform

import (
	"context"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/trading"
)

// TestConfigValidate: each startup rule refuses a bad config with its
// message; good configs of every role pass.
func TestConfigValidate(t *testing.T) {
	secret := []byte(testSecret)
	all := Upstreams{User: "http://u", Order: "http://o", Inventory: "http://i"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "": valid
	}{
		{"all, no secret", Config{}, ""},
		{"all, secret", Config{Role: RoleAll, JWTSecret: secret, PriceFeed: "http"}, ""},
		{"gateway", Config{Role: RoleGateway, JWTSecret: secret, Upstreams: all}, ""},
		{"user", Config{Role: RoleUser, JWTSecret: secret}, ""},
		{"order", Config{Role: RoleOrder, JWTSecret: secret}, ""},
		{"inventory", Config{Role: RoleInventory, JWTSecret: secret, PriceFeed: "simulated"}, ""},
		{"feed of a role without one", Config{Role: RoleUser, JWTSecret: secret, PriceFeed: "random"}, ""},

		{"unknown role", Config{Role: "cashier", JWTSecret: secret},
			`unknown role "cashier" (all, gateway, user, order or inventory)`},
		{"role without secret", Config{Role: RoleOrder},
			"role order: the JWT secret must be set (it is shared by the gateway and the services)"},
		{"gateway without secret", Config{Role: RoleGateway, Upstreams: all},
			"role gateway: the JWT secret must be set (it is shared by the gateway and the services)"},
		{"short secret", Config{JWTSecret: secret[:31]}, "the JWT secret must be at least 32 bytes"},
		{"gateway without the user URL", Config{Role: RoleGateway, JWTSecret: secret, Upstreams: Upstreams{Order: "http://o", Inventory: "http://i"}},
			"role gateway: the user service URL is not set"},
		{"gateway without the order URL", Config{Role: RoleGateway, JWTSecret: secret, Upstreams: Upstreams{User: "http://u", Inventory: "http://i"}},
			"role gateway: the order service URL is not set"},
		{"gateway without the inventory URL", Config{Role: RoleGateway, JWTSecret: secret, Upstreams: Upstreams{User: "http://u", Order: "http://o"}},
			"role gateway: the inventory service URL is not set"},
		{"unknown price feed", Config{PriceFeed: "random"}, `unknown price feed "random" (static, simulated or http)`},
		{"unknown price feed, inventory", Config{Role: RoleInventory, JWTSecret: secret, PriceFeed: "random"},
			`unknown price feed "random" (static, simulated or http)`},
		{"fx feeds", Config{Role: RoleInventory, JWTSecret: secret, FXFeed: "http"}, ""},
		{"unknown fx feed", Config{FXFeed: "ecb"}, `unknown fx feed "ecb" (static, simulated or http)`},
		{"fx feed of a role without one", Config{Role: RoleOrder, JWTSecret: secret, FXFeed: "ecb"}, ""},
		{"spread of 1", Config{Trading: trading.Config{FXSpread: decimal.FromInt(1)}}, "fx spread 1: want 0 <= spread < 1"},
		{"negative spread", Config{Trading: trading.Config{FXSpread: decimal.MustParse("-0.001")}}, "fx spread -0.001: want 0 <= spread < 1"},
		{"negative fx max age", Config{Trading: trading.Config{FXMaxAge: -time.Second}}, "fx max age -1s: want 0 (no bound) or more"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: Validate = %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%s: Validate = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestConfigPriceInterval: the price feed ticks at PriceInterval when set,
// else every minute for the http feed and every 2 s for the others.
func TestConfigPriceInterval(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{PriceFeed: "simulated"}, "2s"},
		{Config{PriceFeed: "http"}, "1m0s"},
		{Config{PriceFeed: "http", PriceInterval: 5e9}, "5s"},
		{Config{PriceFeed: "simulated", PriceInterval: 5e9}, "5s"},
	} {
		if got := tc.cfg.priceInterval().String(); got != tc.want {
			t.Errorf("%s feed, PriceInterval %s: priceInterval = %s, want %s", tc.cfg.PriceFeed, tc.cfg.PriceInterval, got, tc.want)
		}
	}
}

// TestOpenInvalidClosesStore: Open closes the store it was given when the
// config is invalid, as when it fails later.
func TestOpenInvalidClosesStore(t *testing.T) {
	db, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := &closeRecorder{Store: db}
	if _, err := Open(context.Background(), Config{Store: s, Role: "cashier"}); err == nil {
		t.Fatal("Open with an unknown role: no error")
	}
	if !s.closed {
		t.Error("the store is still open")
	}
}

// closeRecorder records that its store was closed.
type closeRecorder struct {
	store.Store
	closed bool
}

func (s *closeRecorder) Close() error {
	s.closed = true
	return s.Store.Close()
}
