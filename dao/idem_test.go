package dao_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/store"
)

func TestIdempotency(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	k := d.Tables.IdemKey("alice", "", "key-1")
	rec := dao.IdemRecord{ReqHash: "sha256:abc", Status: 201, Body: []byte(`{"ok":true}`)}
	if err := transact(d, d.Idem.Write(k, rec, t0)); err != nil {
		t.Fatal(err)
	}
	got, err := d.Idem.Get(ctx, k)
	if err != nil || !reflect.DeepEqual(*got, rec) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	it, err := dao.StoreOf(d).Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if exp := it.Int("expires_at"); exp != t0.Add(24*time.Hour).Unix() || dao.IdemTTL != 24*time.Hour {
		t.Fatalf("expires_at %d", exp)
	}
	if d := d.Idem.Decode(it); !reflect.DeepEqual(*d, rec) {
		t.Fatalf("Decode = %+v", d)
	}
	// A key is used once: a second write fails its condition.
	err = transact(d, d.Idem.Write(k, dao.IdemRecord{ReqHash: "other", Status: 200}, t0))
	if !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("second Write: %v", err)
	}
	if got, _ := d.Idem.Get(ctx, k); !reflect.DeepEqual(*got, rec) {
		t.Fatalf("record replaced: %+v", got)
	}
	// Keys are per user, and per scope for anonymous requests.
	for _, other := range []store.Key{
		d.Tables.IdemKey("bobby1", "", "key-1"),
		d.Tables.IdemKey("", "POST /auth/register", "key-1"),
	} {
		_, err := d.Idem.Get(ctx, other)
		wantKind(t, other.String(), err, apperr.NotFound)
	}
	anon := d.Tables.IdemKey("", "POST /auth/register", "key-1")
	empty := dao.IdemRecord{ReqHash: "h", Status: 204, Body: []byte{}}
	if err := transact(d, d.Idem.Write(anon, empty, t0)); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Idem.Get(ctx, anon); err != nil || got.Status != 204 || got.ReqHash != "h" || len(got.Body) != 0 {
		t.Fatalf("anonymous record %+v, %v", got, err)
	}
	if _, err := d.Idem.Get(canceled(), k); !errors.Is(err, context.Canceled) || apperr.Is(err, apperr.NotFound) {
		t.Fatalf("Get canceled: %v", err)
	}
}

func TestScanUsernames(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	// More users than one scan page, written raw (only keys matter), with
	// other items of the users table around them.
	const n = store.MaxQueryLimit + 5
	var want []string
	var writes []store.Write
	flush := func() {
		if len(writes) > 0 {
			if err := transact(d, writes...); err != nil {
				t.Fatal(err)
			}
			writes = writes[:0]
		}
	}
	for i := range n {
		name := fmt.Sprintf("user%04d", i)
		want = append(want, name)
		writes = append(writes, store.Write{Put: &store.Put{
			Key: store.Key{Table: d.Tables.Users, PK: "USER#" + name, SK: "PROFILE"}, Item: store.Item{"version": store.Int(1)}}})
		if i%200 == 0 {
			writes = append(writes, d.Balances.CreateWrite(name, "USD", t0),
				store.Write{Put: &store.Put{Key: store.Key{Table: d.Tables.Users, PK: "EMAIL#" + name + "@example.com", SK: "EMAIL"},
					Item: store.Item{"username": store.S(name)}}})
		}
		if len(writes) >= store.MaxTransactItems-3 {
			flush()
		}
	}
	flush()
	var got []string
	if err := d.Analytics.Usernames(ctx, func(u string) error { got = append(got, u); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("Usernames: %d names, want %d (first %v)", len(got), len(want), got[:min(3, len(got))])
	}
	// fn's error stops the scan and comes back.
	stop := errors.New("stop")
	calls := 0
	err := d.Analytics.Usernames(ctx, func(string) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("Usernames with failing fn: %v after %d calls", err, calls)
	}
	err = d.Analytics.Usernames(canceled(), func(string) error { return nil })
	wantCanceled(t, "Usernames", err, "scan users: ")
}
