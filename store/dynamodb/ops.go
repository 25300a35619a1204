package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orderprocessor/orderprocessor/store"
)

// Get returns the item with key k (a strongly consistent read), or an error
// wrapping store.ErrNotFound.
func (db *DB) Get(ctx context.Context, k store.Key) (store.Item, error) {
	t, err := db.checkKey(k)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: get %s: %w", k, err)
	}
	if err := db.enter(ctx); err != nil {
		return nil, fmt.Errorf("dynamodb: get %s: %w", k, err)
	}
	out, err := db.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(t.ddbName),
		Key:            keyOf(k),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("dynamodb: get %s: %w", k, mapErr(err))
	}
	if out.Item == nil {
		return nil, fmt.Errorf("dynamodb: get %s: %w", k, store.ErrNotFound)
	}
	it, err := decodeItem(out.Item)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: get %s: %w", k, err)
	}
	return it, nil
}

// BatchGet returns the items of keys in the same order (nil for a missing
// item) with BatchGetItem and consistent reads, retrying unprocessed keys
// with jittered backoff. At most store.MaxBatchGet keys; a key may repeat.
func (db *DB) BatchGet(ctx context.Context, keys []store.Key) ([]store.Item, error) {
	if len(keys) > store.MaxBatchGet {
		return nil, fmt.Errorf("dynamodb: batch get of %d keys: %w", len(keys), store.ErrInvalidRequest)
	}
	req := map[string]types.KeysAndAttributes{}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		t, err := db.checkKey(k)
		if err != nil {
			return nil, fmt.Errorf("dynamodb: batch get: %w", err)
		}
		ks := keyString(k.Table, k.PK, k.SK)
		if seen[ks] {
			continue // BatchGetItem rejects duplicates
		}
		seen[ks] = true
		ka := req[t.ddbName]
		ka.ConsistentRead = aws.Bool(true)
		ka.Keys = append(ka.Keys, keyOf(k))
		req[t.ddbName] = ka
	}
	if err := db.enter(ctx); err != nil {
		return nil, fmt.Errorf("dynamodb: batch get: %w", err)
	}
	found := make(map[string]store.Item, len(seen))
	for attempt := 0; len(req) > 0; attempt++ {
		if attempt > 0 {
			if attempt > db.maxRetries {
				return nil, fmt.Errorf("dynamodb: batch get: keys still unprocessed after %d attempts", attempt)
			}
			if err := sleep(ctx, backoff(attempt-1)); err != nil {
				return nil, fmt.Errorf("dynamodb: batch get: %w", err)
			}
		}
		out, err := db.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("dynamodb: batch get: %w", mapErr(err))
		}
		for ddbName, items := range out.Responses {
			for _, raw := range items {
				it, err := decodeItem(raw)
				if err != nil {
					return nil, fmt.Errorf("dynamodb: batch get: %w", err)
				}
				found[keyString(db.byDDB[ddbName], it.Str(store.AttrPK), it.Str(store.AttrSK))] = it
			}
		}
		req = out.UnprocessedKeys
	}
	res := make([]store.Item, len(keys))
	used := make(map[string]bool, len(found))
	for i, k := range keys {
		ks := keyString(k.Table, k.PK, k.SK)
		if it, ok := found[ks]; ok {
			if used[ks] {
				it = it.Clone() // a repeated key gets its own copy
			}
			res[i], used[ks] = it, true
		}
	}
	return res, nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// withRetry runs a single-item write, retrying while it meets a transaction
// in progress on the same item (TransactionConflictException).
func (db *DB) withRetry(ctx context.Context, call func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		err := db.written(ctx, call)
		if err == nil || !retryableWrite(err) || attempt >= db.maxRetries {
			return err
		}
		db.log.DebugContext(ctx, "dynamodb: write met a transaction, retrying", "attempt", attempt+1)
		if serr := sleep(ctx, backoff(attempt)); serr != nil {
			return errors.Join(err, serr)
		}
	}
}

// checkPut validates a put and returns its table.
func (db *DB) checkPut(p store.Put) (*table, error) {
	if err := (store.Write{Put: &p}).Validate(); err != nil {
		return nil, err
	}
	t, err := db.table(p.Key.Table)
	if err != nil {
		return nil, err
	}
	if err := store.ValidateItem(p.Item); err != nil {
		return nil, err
	}
	return t, t.validateIndexAttrs(p.Item)
}

// Put writes the whole item (replacing any) if p.Cond holds, else returns an
// error wrapping store.ErrConditionFailed.
func (db *DB) Put(ctx context.Context, p store.Put) error {
	t, err := db.checkPut(p)
	if err != nil {
		return fmt.Errorf("dynamodb: put %s: %w", p.Key, err)
	}
	if err := db.enter(ctx); err != nil {
		return fmt.Errorf("dynamodb: put %s: %w", p.Key, err)
	}
	var e exprs
	in := &dynamodb.PutItemInput{
		TableName: aws.String(t.ddbName),
		Item:      encodeItem(p.Key, p.Item),
	}
	if c := e.condition(p.Cond); c != "" {
		in.ConditionExpression = aws.String(c)
	}
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = e.Names(), e.Values()
	err = db.withRetry(ctx, func(ctx context.Context) error { _, err := db.client.PutItem(ctx, in); return err })
	if err != nil {
		return fmt.Errorf("dynamodb: put %s: %w", p.Key, mapErr(err))
	}
	return nil
}

// checkUpdate validates an update and returns its table.
func (db *DB) checkUpdate(u store.Update) (*table, error) {
	if err := (store.Write{Update: &u}).Validate(); err != nil {
		return nil, err
	}
	t, err := db.table(u.Key.Table)
	if err != nil {
		return nil, err
	}
	return t, t.validateIndexActions(u.Actions)
}

// Update applies u's actions in one UpdateItem (creating the item when
// absent) if u.Cond holds and returns the item after it (ALL_NEW).
func (db *DB) Update(ctx context.Context, u store.Update) (store.Item, error) {
	t, err := db.checkUpdate(u)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: update %s: %w", u.Key, err)
	}
	var e exprs
	upd, err := e.buildUpdate(u.Actions)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: update %s: %w", u.Key, err)
	}
	if err := db.enter(ctx); err != nil {
		return nil, fmt.Errorf("dynamodb: update %s: %w", u.Key, err)
	}
	in := &dynamodb.UpdateItemInput{
		TableName:        aws.String(t.ddbName),
		Key:              keyOf(u.Key),
		UpdateExpression: aws.String(upd),
		ReturnValues:     types.ReturnValueAllNew,
	}
	if c := e.condition(u.Cond); c != "" {
		in.ConditionExpression = aws.String(c)
	}
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = e.Names(), e.Values()
	var out *dynamodb.UpdateItemOutput
	err = db.withRetry(ctx, func(ctx context.Context) error {
		var err error
		out, err = db.client.UpdateItem(ctx, in)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dynamodb: update %s: %w", u.Key, mapErr(err))
	}
	it, err := decodeItem(out.Attributes)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: update %s: %w", u.Key, err)
	}
	return it, nil
}

// Delete removes the item if d.Cond holds (a missing item without a
// condition is not an error).
func (db *DB) Delete(ctx context.Context, d store.Delete) error {
	if err := (store.Write{Delete: &d}).Validate(); err != nil {
		return fmt.Errorf("dynamodb: delete %s: %w", d.Key, err)
	}
	t, err := db.table(d.Key.Table)
	if err != nil {
		return fmt.Errorf("dynamodb: delete %s: %w", d.Key, err)
	}
	if err := db.enter(ctx); err != nil {
		return fmt.Errorf("dynamodb: delete %s: %w", d.Key, err)
	}
	var e exprs
	in := &dynamodb.DeleteItemInput{TableName: aws.String(t.ddbName), Key: keyOf(d.Key)}
	if c := e.condition(d.Cond); c != "" {
		in.ConditionExpression = aws.String(c)
	}
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = e.Names(), e.Values()
	err = db.withRetry(ctx, func(ctx context.Context) error { _, err := db.client.DeleteItem(ctx, in); return err })
	if err != nil {
		return fmt.Errorf("dynamodb: delete %s: %w", d.Key, mapErr(err))
	}
	return nil
}
