package main

import (
	"context"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
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

// open connects to DynamoDB through the default credential chain
// (environment, shared config, web identity), assuming roleARN when set.
func (d *dynamoFlags) open(ctx context.Context) (*dynamodb.DB, dao.Tables, error) {
	client, err := dynamodb.NewClient(ctx, dynamodb.ClientConfig{Region: d.region, Endpoint: d.endpoint,
		RoleARN: d.roleARN, SessionName: d.session})
	if err != nil {
		return nil, dao.Tables{}, err
	}
	t := d.tables()
	db, err := dynamodb.Open(ctx, dynamodb.Config{Client: client, Schemas: t.Schemas(), PollInterval: time.Second})
	return db, t, err
}
