package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/trading"
)

func TestVerifyRunningServer(t *testing.T) {
	const password = "Admin!Passw0rd1"
	p, err := platform.Open(context.Background(), platform.Config{DataDir: t.TempDir(), AdminPassword: password,
		Gateway: gateway.DefaultConfig(), Trading: trading.DefaultConfig(), PriceFeed: "static",
		PasswordParams: auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Logger:         slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := httptest.NewServer(p.Handler)
	defer srv.Close()

	for _, tc := range []struct {
		name, password string
		code           int
		out, errOut    string
	}{
		{"clean", password, verifyOK, "verified " + srv.URL + ": 1 users", ""},
		{"no password", "", verifyError, "", "needs $ORDERPROCESSOR_ADMIN_PASSWORD"},
		{"wrong password", "Wrong!Passw0rd1", verifyError, "", "admin login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("ORDERPROCESSOR_ADMIN_PASSWORD", tc.password)
			var out, errOut bytes.Buffer
			code := verifyMain(context.Background(), []string{"--url", srv.URL}, &out, &errOut)
			if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errOut.String(), tc.errOut) {
				t.Fatalf("code %d, stdout %q, stderr %q", code, out.String(), errOut.String())
			}
		})
	}
}
