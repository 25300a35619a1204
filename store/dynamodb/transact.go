package dynamodb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orderprocessor/orderprocessor/store"
)

// Transact applies writes atomically with TransactWriteItems. When a
// condition fails it returns a *store.TxCanceledError whose Reasons say
// which (store.ErrConditionFailed). A cancellation caused only by conflicts
// with other transactions or by throttling is retried with jittered backoff,
// with the same ClientRequestToken, up to Config.MaxRetries times; after that
// the reasons are store.ErrTxConflict (retryable by the caller). A reason
// DynamoDB reports as a validation error is returned as an error wrapping
// store.ErrInvalidRequest.
func (db *DB) Transact(ctx context.Context, writes []store.Write) error {
	items, err := db.transactItems(writes)
	if err != nil {
		return fmt.Errorf("dynamodb: transact: %w", err)
	}
	if err := db.enter(ctx); err != nil {
		return fmt.Errorf("dynamodb: transact: %w", err)
	}
	in := &dynamodb.TransactWriteItemsInput{
		TransactItems:      items,
		ClientRequestToken: aws.String(rand.Text()), // one per logical transaction
	}
	for attempt := 0; ; attempt++ {
		err := db.written(ctx, func(ctx context.Context) error {
			_, err := db.client.TransactWriteItems(ctx, in)
			return err
		})
		if err == nil {
			return nil
		}
		reasons, retry, terr := cancellation(err, len(writes))
		if terr != nil {
			return fmt.Errorf("dynamodb: transact: %w", terr)
		}
		if !retry || attempt >= db.maxRetries {
			return &store.TxCanceledError{Reasons: reasons}
		}
		db.log.DebugContext(ctx, "dynamodb: transaction conflict, retrying", "attempt", attempt+1, "items", len(writes))
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return fmt.Errorf("dynamodb: transact: %w", err)
		}
	}
}

// transactItems validates writes and returns their TransactWriteItems.
func (db *DB) transactItems(writes []store.Write) ([]types.TransactWriteItem, error) {
	if err := store.ValidateTransaction(writes); err != nil {
		return nil, err
	}
	out := make([]types.TransactWriteItem, len(writes))
	for i, w := range writes {
		var e exprs
		var cond *string
		switch {
		case w.Put != nil:
			t, err := db.checkPut(*w.Put)
			if err != nil {
				return nil, fmt.Errorf("write %d: %w", i, err)
			}
			if c := e.condition(w.Put.Cond); c != "" {
				cond = aws.String(c)
			}
			out[i].Put = &types.Put{
				TableName: aws.String(t.ddbName), Item: encodeItem(w.Put.Key, w.Put.Item), ConditionExpression: cond,
				ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			}
		case w.Update != nil:
			t, err := db.checkUpdate(*w.Update)
			if err != nil {
				return nil, fmt.Errorf("write %d: %w", i, err)
			}
			upd, err := e.buildUpdate(w.Update.Actions)
			if err != nil {
				return nil, fmt.Errorf("write %d: %w", i, err)
			}
			if c := e.condition(w.Update.Cond); c != "" {
				cond = aws.String(c)
			}
			out[i].Update = &types.Update{
				TableName: aws.String(t.ddbName), Key: keyOf(w.Update.Key), UpdateExpression: aws.String(upd), ConditionExpression: cond,
				ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			}
		case w.Delete != nil:
			t, err := db.table(w.Delete.Key.Table)
			if err != nil {
				return nil, fmt.Errorf("write %d: %w", i, err)
			}
			if c := e.condition(w.Delete.Cond); c != "" {
				cond = aws.String(c)
			}
			out[i].Delete = &types.Delete{
				TableName: aws.String(t.ddbName), Key: keyOf(w.Delete.Key), ConditionExpression: cond,
				ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			}
		case w.Check != nil:
			t, err := db.table(w.Check.Key.Table)
			if err != nil {
				return nil, fmt.Errorf("write %d: %w", i, err)
			}
			out[i].ConditionCheck = &types.ConditionCheck{
				TableName: aws.String(t.ddbName), Key: keyOf(w.Check.Key), ConditionExpression: aws.String(e.condition(w.Check.Cond)),
				ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
			}
		}
	}
	return out, nil
}

// cancellation interprets a failed TransactWriteItems of n items. For a
// TransactionCanceledException it returns one reason per item (nil,
// store.ErrConditionFailed or store.ErrTxConflict) and whether the
// transaction may be retried as is: only when no condition failed and some
// item met a conflict or throttling. Any other failure, and a cancellation
// for another reason (validation, item size, ...), is returned as err.
func cancellation(err error, n int) (reasons []error, retry bool, _ error) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, false, mapErr(err)
	}
	if len(tce.CancellationReasons) != n {
		return nil, false, fmt.Errorf("%d cancellation reasons for %d items: %w", len(tce.CancellationReasons), n, err)
	}
	reasons = make([]error, n)
	failed := false
	for i, r := range tce.CancellationReasons {
		code := aws.ToString(r.Code)
		switch code {
		case "", codeNone:
		case codeConditionalCheckFailed:
			reasons[i], failed = fmt.Errorf("item %d: %w", i, store.ErrConditionFailed), true
		case codeTransactionConflict, codeThrottling:
			reasons[i], retry = fmt.Errorf("item %d: %s: %w", i, code, store.ErrTxConflict), true
		case codeValidation:
			return nil, false, fmt.Errorf("item %d: %s: %w", i, aws.ToString(r.Message), store.ErrInvalidRequest)
		default:
			return nil, false, fmt.Errorf("item %d: %s %s: %w", i, code, aws.ToString(r.Message), err)
		}
	}
	return reasons, retry && !failed, nil
}
