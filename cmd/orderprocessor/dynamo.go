package main

import (
	"context"
	"os"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store/dynamodb"
)

// dynamoFlags are the DynamoDB settings shared by serve and migrate.
type dynamoFlags struct {
	region, endpoint, prefix, roleARN, session string
}

func (d *dynamoFlags) register(f *envFlags) {
	f.String(&d.region, "aws-region", "", "AWS region of the DynamoDB tables (default: the AWS configuration's, e.g. $AWS_REGION)")
	f.String(&d.endpoint, "dynamodb-endpoint", "", "DynamoDB endpoint override (default: $AWS_ENDPOINT_URL or AWS's)")
	f.String(&d.prefix, "table-prefix", "", "prefix of the table names, per environment (e.g. prod-)")
	f.String(&d.roleARN, "aws-role-arn", "", "IAM role to assume through STS (default: $AWS_ROLE_ARN when no web identity is configured)")
	f.String(&d.session, "aws-role-session-name", "orderprocessor", "session name of the assumed role")
}

// tables returns the table names with the prefix.
func (d *dynamoFlags) tables() dao.Tables { return dao.DefaultTables.WithPrefix(d.prefix) }

// clientConfig resolves the role to assume: --aws-role-arn, else
// $AWS_ROLE_ARN when no web identity token is configured (with one, the
// default chain already assumes $AWS_ROLE_ARN by web identity, as on EKS).
func (d *dynamoFlags) clientConfig() dynamodb.ClientConfig {
	role, session := d.roleARN, d.session
	if role == "" && os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE") == "" {
		role = os.Getenv("AWS_ROLE_ARN")
	}
	if s := os.Getenv("AWS_ROLE_SESSION_NAME"); s != "" && session == "orderprocessor" {
		session = s
	}
	return dynamodb.ClientConfig{Region: d.region, Endpoint: d.endpoint, RoleARN: role, SessionName: session}
}

// open connects to DynamoDB through the default credential chain
// (environment, shared config, web identity), assuming roleARN when set;
// cursors signs the pagination cursors (nil: a key of the process).
func (d *dynamoFlags) open(ctx context.Context, cursors *page.Codec) (*dynamodb.DB, dao.Tables, error) {
	client, err := dynamodb.NewClient(ctx, d.clientConfig())
	if err != nil {
		return nil, dao.Tables{}, err
	}
	t := d.tables()
	db, err := dynamodb.Open(ctx, dynamodb.Config{Client: client, Schemas: t.Schemas(), PollInterval: time.Second, Cursors: cursors})
	return db, t, err
}
