package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/orderprocessor/orderprocessor/verify"
)

// verifyRemote logs in as admin at the server at base and runs its ledger
// check (GET /api/v1/admin/verify).
func verifyRemote(ctx context.Context, base, password string) (verify.Report, error) {
	if password == "" {
		return verify.Report{}, fmt.Errorf("--url needs $ORDERPROCESSOR_ADMIN_PASSWORD (the admin account's password)")
	}
	base = strings.TrimRight(base, "/")
	client := &http.Client{Timeout: 10 * time.Minute}
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": password})
	var login struct {
		AccessToken string `json:"access_token"`
	}
	if err := call(ctx, client, http.MethodPost, base+"/api/v1/auth/login", "", body, &login); err != nil {
		return verify.Report{}, fmt.Errorf("admin login: %w", err)
	}
	var rep verify.Report
	if err := call(ctx, client, http.MethodGet, base+"/api/v1/admin/verify", login.AccessToken, nil, &rep); err != nil {
		return verify.Report{}, err
	}
	return rep, nil
}

func call(ctx context.Context, client *http.Client, method, url, token string, body []byte, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, into)
}
