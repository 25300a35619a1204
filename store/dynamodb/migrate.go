package dynamodb

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orderprocessor/orderprocessor/store"
)

// Migrate creates the declared tables that do not exist (string keys PK and
// SK, on-demand billing, one GSI per index with projection ALL), adds the
// declared indexes missing from existing tables (one at a time, as DynamoDB
// requires; the backfill of a large table takes a while), enables time to
// live on Config.TTLAttribute and waits until every table and index is
// ACTIVE. It is idempotent. It never deletes or changes an existing index:
// an index declared with other key attributes than the existing one is an
// error (drop it by hand, then migrate).
func (db *DB) Migrate(ctx context.Context) error {
	for _, t := range db.order {
		if err := db.migrateTable(ctx, t); err != nil {
			return fmt.Errorf("dynamodb: migrate %s: %w", t.ddbName, err)
		}
	}
	return nil
}

func (t *table) attrDefs() []types.AttributeDefinition {
	names := []string{"PK", "SK"}
	for _, ix := range t.indexes {
		for _, a := range [...]string{ix.PK, ix.SK} {
			if !contains(names, a) {
				names = append(names, a)
			}
		}
	}
	out := make([]types.AttributeDefinition, len(names))
	for i, n := range names {
		out[i] = types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	return out
}

func gsi(ix store.IndexSchema) types.GlobalSecondaryIndex {
	return types.GlobalSecondaryIndex{
		IndexName: aws.String(ix.Name),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(ix.PK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(ix.SK), KeyType: types.KeyTypeRange},
		},
		Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
	}
}

func (db *DB) migrateTable(ctx context.Context, t *table) error {
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(t.ddbName),
		AttributeDefinitions: t.attrDefs(),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	}
	for _, ix := range t.indexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi(ix))
	}
	_, err := db.client.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	switch {
	case err == nil:
		db.log.InfoContext(ctx, "dynamodb: table created", "table", t.ddbName, "indexes", len(t.indexes))
	case errors.As(err, &inUse):
		// The table exists (or is being created): add what is missing.
	default:
		return fmt.Errorf("create table: %w", mapErr(err))
	}
	desc, err := db.waitActive(ctx, t.ddbName)
	if err != nil {
		return err
	}
	existing := map[string]types.GlobalSecondaryIndexDescription{}
	for _, d := range desc.GlobalSecondaryIndexes {
		existing[aws.ToString(d.IndexName)] = d
	}
	for _, ix := range t.indexes {
		if d, ok := existing[ix.Name]; ok {
			if !sameKeys(d.KeySchema, ix) {
				return fmt.Errorf("index %s exists with other key attributes than (%s, %s)", ix.Name, ix.PK, ix.SK)
			}
			continue
		}
		g := gsi(ix)
		_, err := db.client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName:            aws.String(t.ddbName),
			AttributeDefinitions: t.attrDefs(),
			GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
				IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection,
			}}},
		})
		if err != nil {
			return fmt.Errorf("add index %s: %w", ix.Name, mapErr(err))
		}
		db.log.InfoContext(ctx, "dynamodb: index added", "table", t.ddbName, "index", ix.Name)
		if _, err := db.waitActive(ctx, t.ddbName); err != nil {
			return err
		}
	}
	return db.enableTTL(ctx, t)
}

func sameKeys(ks []types.KeySchemaElement, ix store.IndexSchema) bool {
	want := map[types.KeyType]string{types.KeyTypeHash: ix.PK, types.KeyTypeRange: ix.SK}
	if len(ks) != len(want) {
		return false
	}
	for _, k := range ks {
		if want[k.KeyType] != aws.ToString(k.AttributeName) {
			return false
		}
	}
	return true
}

// waitActive polls DescribeTable until the table and all its indexes are ACTIVE.
func (db *DB) waitActive(ctx context.Context, name string) (*types.TableDescription, error) {
	for {
		out, err := db.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("describe table: %w", mapErr(err))
		}
		d := out.Table
		active := d.TableStatus == types.TableStatusActive
		pending := []string{}
		for _, ix := range d.GlobalSecondaryIndexes {
			if ix.IndexStatus != types.IndexStatusActive {
				active = false
				pending = append(pending, aws.ToString(ix.IndexName)+":"+string(ix.IndexStatus))
			}
		}
		if active {
			return d, nil
		}
		db.log.DebugContext(ctx, "dynamodb: waiting for the table to be active", "table", name, "status", d.TableStatus, "indexes", pending)
		if err := sleep(ctx, db.poll); err != nil {
			return nil, fmt.Errorf("wait for table %s: %w", name, err)
		}
	}
}

// enableTTL turns time to live on for db.ttlAttr unless it is on already.
func (db *DB) enableTTL(ctx context.Context, t *table) error {
	if db.ttlAttr == "-" {
		return nil
	}
	out, err := db.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(t.ddbName)})
	if err != nil {
		return fmt.Errorf("describe time to live: %w", mapErr(err))
	}
	if d := out.TimeToLiveDescription; d != nil {
		switch d.TimeToLiveStatus {
		case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
			if got := aws.ToString(d.AttributeName); got != db.ttlAttr {
				db.log.WarnContext(ctx, "dynamodb: time to live is on for another attribute; left as is",
					"table", t.ddbName, "attribute", got, "want", db.ttlAttr)
			}
			return nil
		case types.TimeToLiveStatusDisabling:
			return fmt.Errorf("time to live is being disabled; migrate again in an hour")
		}
	}
	_, err = db.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(t.ddbName),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(db.ttlAttr), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("enable time to live on %s: %w", db.ttlAttr, mapErr(err))
	}
	db.log.InfoContext(ctx, "dynamodb: time to live enabled", "table", t.ddbName, "attribute", db.ttlAttr)
	return nil
}

// DeleteTables deletes every declared table (a missing one is fine). It is
// meant for tests and tooling: the data is gone.
func (db *DB) DeleteTables(ctx context.Context) error {
	var errs []error
	for _, t := range db.order {
		_, err := db.client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(t.ddbName)})
		var nf *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			errs = append(errs, fmt.Errorf("dynamodb: delete table %s: %w", t.ddbName, err))
		}
	}
	return errors.Join(errs...)
}
