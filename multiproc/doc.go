// Package multiproc holds the test of the microservice deployment: the
// binary runs as four processes (gateway, user, order, inventory) sharing
// one DynamoDB (DynamoDB Local: set DYNAMODB_ENDPOINT, e.g. with
// `eval "$(scripts/dynamodb-local start)"`), and the test drives the public
// API through the gateway. Without DYNAMODB_ENDPOINT the test is skipped,
// unless CI is set, when it fails.
package multiproc
