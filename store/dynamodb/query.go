package dynamodb

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// Cursor payload: version, kind (query ascending, query descending, scan),
// an FNV-64a hash of everything that defines the query (table, index,
// partition key, sort condition), then the string values of the last item's
// key attributes but the first (the query's partition key, known), each as
// uvarint length + bytes. The store's page.Codec authenticates it.
const (
	cursorVersion byte = 1
	kindAsc       byte = 0
	kindDesc      byte = 1
	kindScan      byte = 2
	cursorHead         = 2 + 8
)

// plan is a validated Query or Scan.
type plan struct {
	t        *table
	kind     byte
	hash     uint64
	keyAttrs []string // key attributes of the table or index, partition attribute first
	limit    int
	cursor   *page.Codec // signs the cursors (nil: the process's key)
}

func pageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return store.MaxQueryLimit, nil
	case n < 0 || n > store.MaxQueryLimit:
		return 0, fmt.Errorf("limit %d: %w", n, store.ErrInvalidRequest)
	}
	return n, nil
}

func hashParts(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		h.Write([]byte(p))
	}
	return h.Sum64()
}

// keyAttrsOf returns the distinct key attributes of an index (or of the
// table when ix is nil): the DynamoDB LastEvaluatedKey of a query holds them.
func keyAttrsOf(ix *store.IndexSchema) []string {
	attrs := []string{store.AttrPK, store.AttrSK}
	if ix != nil {
		attrs = []string{ix.PK, ix.SK, store.AttrPK, store.AttrSK}
	}
	out := attrs[:0:0]
	for _, a := range attrs {
		if !contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// encodeCursor returns the cursor after item it.
func (p *plan) encodeCursor(it store.Item) string {
	buf := make([]byte, 0, 64)
	buf = append(buf, cursorVersion, p.kind)
	buf = binary.BigEndian.AppendUint64(buf, p.hash)
	attrs := p.keyAttrs[1:]
	if p.kind == kindScan {
		attrs = p.keyAttrs
	}
	for _, a := range attrs {
		v := it.Str(a)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	return p.cursor.Encode(buf)
}

// decodeCursor returns the ExclusiveStartKey of a cursor made by the same
// query (partition value pk), or an error wrapping page.ErrInvalidCursor.
func (p *plan) decodeCursor(cursor, pk string) (map[string]types.AttributeValue, error) {
	payload, err := p.cursor.Decode(cursor)
	if err != nil {
		return nil, err
	}
	if len(payload) < cursorHead || payload[0] != cursorVersion || payload[1] != p.kind ||
		binary.BigEndian.Uint64(payload[2:cursorHead]) != p.hash {
		return nil, fmt.Errorf("cursor of another query: %w", page.ErrInvalidCursor)
	}
	key := make(map[string]types.AttributeValue, len(p.keyAttrs))
	attrs := p.keyAttrs
	if p.kind != kindScan {
		key[attrs[0]] = str(pk)
		attrs = attrs[1:]
	}
	rest := payload[cursorHead:]
	for _, a := range attrs {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n == 0 || n > store.MaxKeyLen || uint64(len(rest)-w) < n {
			return nil, fmt.Errorf("malformed cursor: %w", page.ErrInvalidCursor)
		}
		key[a] = str(string(rest[w : w+int(n)]))
		rest = rest[w+int(n):]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("malformed cursor: %w", page.ErrInvalidCursor)
	}
	return key, nil
}

// normalizeSort rewrites sort conditions on the empty string, which DynamoDB
// rejects as key values, into equivalent ones (sort keys are never empty).
// none reports that the condition matches no item.
func normalizeSort(sk store.SortCond) (_ store.SortCond, none bool) {
	switch {
	case sk.Op == store.SortBetween && sk.Value == "":
		if sk.Value2 == "" {
			return sk, true
		}
		return store.SortCond{Op: store.SortLe, Value: sk.Value2}, false
	case sk.Value != "" || sk.Op == store.SortAny:
		return sk, false
	}
	switch sk.Op {
	case store.SortBeginsWith, store.SortGt, store.SortGe:
		return store.SortCond{Op: store.SortAny}, false
	}
	return sk, true // Eq, Lt, Le ""
}

// Query reads one partition of a table or index in sort-key order,
// q.Limit items at a time. An unknown table or index, an empty partition
// key, a limit outside 0..store.MaxQueryLimit, an unknown sort operator or
// a Between with reversed bounds wrap store.ErrInvalidRequest; a cursor made
// for another query (table, index, partition, sort condition or direction)
// wraps page.ErrInvalidCursor.
func (db *DB) Query(ctx context.Context, q store.Query) (store.Page, error) {
	wrap := func(err error) error { return fmt.Errorf("dynamodb: query %s/%s: %w", q.Table, q.Index, err) }
	t, err := db.table(q.Table)
	if err != nil {
		return store.Page{}, wrap(err)
	}
	p := plan{t: t, kind: kindAsc, cursor: db.cursor}
	if q.Desc {
		p.kind = kindDesc
	}
	if p.limit, err = pageLimit(q.Limit); err != nil {
		return store.Page{}, wrap(err)
	}
	if q.PK == "" || len(q.PK) > store.MaxKeyLen {
		return store.Page{}, wrap(fmt.Errorf("partition key of %d bytes: %w", len(q.PK), store.ErrInvalidRequest))
	}
	if q.SK.Op > store.SortGe {
		return store.Page{}, wrap(fmt.Errorf("sort condition %d: %w", q.SK.Op, store.ErrInvalidRequest))
	}
	if q.SK.Op == store.SortBetween && q.SK.Value > q.SK.Value2 {
		return store.Page{}, wrap(fmt.Errorf("between %q and %q: %w", q.SK.Value, q.SK.Value2, store.ErrInvalidRequest))
	}
	var ix *store.IndexSchema
	if q.Index != "" {
		x, ok := t.index(q.Index)
		if !ok {
			return store.Page{}, wrap(fmt.Errorf("unknown index %q: %w", q.Index, store.ErrInvalidRequest))
		}
		ix = &x
	}
	p.keyAttrs = keyAttrsOf(ix)
	p.hash = hashParts("query", q.Table, q.Index, q.PK, string(rune('0'+q.SK.Op)), q.SK.Value, q.SK.Value2)

	in := &dynamodb.QueryInput{
		TableName:        aws.String(t.ddbName),
		ScanIndexForward: aws.Bool(!q.Desc),
	}
	if ix != nil {
		in.IndexName = aws.String(ix.Name)
	} else {
		in.ConsistentRead = aws.Bool(true) // GSIs are eventually consistent only
	}
	if q.Cursor != "" {
		if in.ExclusiveStartKey, err = p.decodeCursor(q.Cursor, q.PK); err != nil {
			return store.Page{}, wrap(err)
		}
	}
	sk, none := normalizeSort(q.SK)
	if err := db.enter(ctx); err != nil {
		return store.Page{}, wrap(err)
	}
	if none {
		return store.Page{}, nil
	}
	var e exprs
	pkAttr, skAttr := store.AttrPK, store.AttrSK
	if ix != nil {
		pkAttr, skAttr = ix.PK, ix.SK
	}
	in.KeyConditionExpression = aws.String(e.keyCondition(pkAttr, skAttr, q.PK, sk))
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = e.Names(), e.Values()
	return readPage(&p, wrap, in.ExclusiveStartKey, func(limit *int32, start map[string]types.AttributeValue) (*dynamodb.QueryOutput, error) {
		in.Limit, in.ExclusiveStartKey = limit, start
		return db.client.Query(ctx, in)
	}, func(out *dynamodb.QueryOutput) ([]map[string]types.AttributeValue, map[string]types.AttributeValue) {
		return out.Items, out.LastEvaluatedKey
	})
}

// Scan reads every item of a table, s.Limit items at a time, in DynamoDB's
// order (by partition hash, then sort key) with consistent reads.
func (db *DB) Scan(ctx context.Context, s store.Scan) (store.Page, error) {
	wrap := func(err error) error { return fmt.Errorf("dynamodb: scan %s: %w", s.Table, err) }
	t, err := db.table(s.Table)
	if err != nil {
		return store.Page{}, wrap(err)
	}
	p := plan{t: t, kind: kindScan, keyAttrs: keyAttrsOf(nil), hash: hashParts("scan", s.Table), cursor: db.cursor}
	if p.limit, err = pageLimit(s.Limit); err != nil {
		return store.Page{}, wrap(err)
	}
	in := &dynamodb.ScanInput{TableName: aws.String(t.ddbName), ConsistentRead: aws.Bool(true)}
	if s.Cursor != "" {
		if in.ExclusiveStartKey, err = p.decodeCursor(s.Cursor, ""); err != nil {
			return store.Page{}, wrap(err)
		}
	}
	if err := db.enter(ctx); err != nil {
		return store.Page{}, wrap(err)
	}
	return readPage(&p, wrap, in.ExclusiveStartKey, func(limit *int32, start map[string]types.AttributeValue) (*dynamodb.ScanOutput, error) {
		in.Limit, in.ExclusiveStartKey = limit, start
		return db.client.Scan(ctx, in)
	}, func(out *dynamodb.ScanOutput) ([]map[string]types.AttributeValue, map[string]types.AttributeValue) {
		return out.Items, out.LastEvaluatedKey
	})
}

// readPage reads up to p.limit+1 items from start with read, one call of a
// DynamoDB Query or Scan for at most limit items (DynamoDB may return fewer
// per call: 1 MB pages), taking the items of each output and the key after
// the last one with page. It returns p.limit of them with a cursor after the
// last one when one more item exists; its errors are wrapped with wrap.
func readPage[Out any](p *plan, wrap func(error) error, start map[string]types.AttributeValue,
	read func(limit *int32, start map[string]types.AttributeValue) (*Out, error),
	page func(*Out) ([]map[string]types.AttributeValue, map[string]types.AttributeValue)) (store.Page, error) {
	want := p.limit + 1
	var raw []map[string]types.AttributeValue
	for {
		out, err := read(aws.Int32(int32(want-len(raw))), start)
		if err != nil {
			return store.Page{}, wrap(mapErr(err))
		}
		items, last := page(out)
		raw = append(raw, items...)
		if last == nil || len(raw) >= want {
			break
		}
		start = last
	}
	more := len(raw) > p.limit
	if more {
		raw = raw[:p.limit]
	}
	res := store.Page{Items: make([]store.Item, len(raw))}
	for i, r := range raw {
		it, err := decodeItem(r)
		if err != nil {
			return store.Page{}, wrap(err)
		}
		res.Items[i] = it
	}
	if more {
		res.Cursor = p.encodeCursor(res.Items[len(res.Items)-1])
	}
	return res, nil
}
