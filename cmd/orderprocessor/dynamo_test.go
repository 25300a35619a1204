package main

import "testing"

func TestDynamoRoleResolution(t *testing.T) {
	for _, tc := range []struct {
		name, flag, envRole, tokenFile, wantRole string
	}{
		{"flag wins", "arn:aws:iam::1:role/flag", "arn:aws:iam::1:role/env", "", "arn:aws:iam::1:role/flag"},
		{"AWS_ROLE_ARN assumed through STS", "", "arn:aws:iam::1:role/env", "", "arn:aws:iam::1:role/env"},
		{"web identity handles AWS_ROLE_ARN itself", "", "arn:aws:iam::1:role/env", "/var/run/token", ""},
		{"no role", "", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_ROLE_ARN", tc.envRole)
			t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tc.tokenFile)
			t.Setenv("AWS_ROLE_SESSION_NAME", "")
			d := dynamoFlags{roleARN: tc.flag, session: "orderprocessor", region: "eu-west-1", prefix: "prod-"}
			cc := d.clientConfig()
			if cc.RoleARN != tc.wantRole || cc.SessionName != "orderprocessor" || cc.Region != "eu-west-1" {
				t.Fatalf("client config %+v", cc)
			}
			if tb := d.tables(); tb.Users != "prod-users" || tb.Orders != "prod-orders" || tb.Inventory != "prod-inventory" {
				t.Fatalf("tables %+v", tb)
			}
		})
	}
	t.Setenv("AWS_ROLE_SESSION_NAME", "ci-session")
	if got := (&dynamoFlags{session: "orderprocessor"}).clientConfig().SessionName; got != "ci-session" {
		t.Fatalf("session %q", got)
	}
}
