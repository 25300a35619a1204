package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"

	"github.com/orderprocessor/orderprocessor/store"
)

// Index bookkeeping: meta key 0x03 "index" 0x00 table 0x00 index holds the
// index's attributes (PK 0x00 SK) as they were when its entries were built.

func indexMetaPrefix(table string) []byte {
	b := append([]byte{spaceMeta}, "index"...)
	b = append(b, 0)
	b = append(b, table...)
	return append(b, 0)
}

func indexMetaKey(table, index string) []byte {
	return append(indexMetaPrefix(table), index...)
}

func indexMetaValue(ix store.IndexSchema) []byte {
	return []byte(ix.PK + "\x00" + ix.SK)
}

// indexBuildBatch bounds the entries written by one batch of an index build.
const indexBuildBatch = 1000

// syncIndexes makes the stored indexes match the declared ones: it drops the
// entries of indexes no longer declared (or declared with other attributes)
// and builds the entries of new ones from the table's items. It runs in Open,
// before any other operation.
func (db *DB) syncIndexes() error {
	for _, t := range db.tables {
		declared := make(map[string]store.IndexSchema, len(t.indexes))
		for _, ix := range t.indexes {
			declared[ix.Name] = ix
		}
		// Drop stale indexes.
		prefix := indexMetaPrefix(t.name)
		iter, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
		if err != nil {
			return fmt.Errorf("embedded: scan index metadata: %w", err)
		}
		var stale []string
		for valid := iter.First(); valid; valid = iter.Next() {
			name := string(iter.Key()[len(prefix):])
			if ix, ok := declared[name]; !ok || !bytes.Equal(iter.Value(), indexMetaValue(ix)) {
				stale = append(stale, name)
			} else {
				delete(declared, name) // built and current
			}
		}
		err = errors.Join(iter.Error(), iter.Close())
		if err != nil {
			return fmt.Errorf("embedded: scan index metadata: %w", err)
		}
		for _, name := range stale {
			if err := db.dropIndex(t.name, name); err != nil {
				return err
			}
		}
		// Build new ones.
		for _, ix := range t.indexes {
			if _, todo := declared[ix.Name]; todo {
				if err := db.buildIndex(t, ix); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (db *DB) dropIndex(table, index string) error {
	b := db.pdb.NewBatch()
	defer b.Close()
	start := indexPartition(nil, table, index, "")
	start = start[:len(start)-2] // every partition of the index
	if err := b.DeleteRange(start, prefixEnd(start), nil); err != nil {
		return err
	}
	if err := b.Delete(indexMetaKey(table, index), nil); err != nil {
		return err
	}
	if err := db.commitBatch(b, pebble.Sync); err != nil {
		return fmt.Errorf("embedded: drop index %s/%s: %w", table, index, err)
	}
	db.log.Info("embedded store: dropped index", "table", table, "index", index)
	return nil
}

func (db *DB) buildIndex(t *table, ix store.IndexSchema) error {
	prefix := itemPartition(nil, t.name, "")
	prefix = prefix[:len(prefix)-1] // every partition of the table
	iter, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("embedded: build index %s/%s: %w", t.name, ix.Name, err)
	}
	defer iter.Close()
	b := db.pdb.NewBatch()
	defer func() { b.Close() }()
	n, total := 0, 0
	for valid := iter.First(); valid; valid = iter.Next() {
		item, err := decodeItem(iter.Value())
		if err != nil {
			return fmt.Errorf("embedded: build index %s/%s: %w", t.name, ix.Name, err)
		}
		k := store.Key{Table: t.name, PK: item.Str(store.AttrPK), SK: item.Str(store.AttrSK)}
		ipk, isk, in, err := indexValues(ix, k, item)
		if err != nil || !in {
			continue // an item the index cannot hold stays out of it
		}
		if err := b.Set(indexKey(nil, t.name, ix.Name, ipk, isk, k), iter.Value(), nil); err != nil {
			return err
		}
		n++
		total++
		if n == indexBuildBatch {
			if err := db.commitBatch(b, pebble.Sync); err != nil {
				return fmt.Errorf("embedded: build index %s/%s: %w", t.name, ix.Name, err)
			}
			b.Close()
			b = db.pdb.NewBatch()
			n = 0
		}
	}
	if err := iter.Error(); err != nil {
		return fmt.Errorf("embedded: build index %s/%s: %w", t.name, ix.Name, err)
	}
	if err := b.Set(indexMetaKey(t.name, ix.Name), indexMetaValue(ix), nil); err != nil {
		return err
	}
	if err := db.commitBatch(b, pebble.Sync); err != nil {
		return fmt.Errorf("embedded: build index %s/%s: %w", t.name, ix.Name, err)
	}
	level := slog.LevelInfo
	if total == 0 {
		level = slog.LevelDebug
	}
	db.log.Log(context.Background(), level, "embedded store: built index", "table", t.name, "index", ix.Name, "entries", total)
	return nil
}
