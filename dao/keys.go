// Package dao maps the domain (package entity) onto the single-table store
// contract (package store). It is written once, against the contract, and so
// works on every engine. docs/data-model.md documents the key design.
//
// Reads are methods that return entities. Writes come in two forms: methods
// that perform one write, and builders (the ...Write/...Writes functions) that
// return store.Write values, so that the trading layer can compose one business
// operation (order + ledger entry with its asset leg + balance + holding + idempotency
// record) into ONE store transaction.
package dao

import (
	"strings"

	"github.com/orderprocessor/orderprocessor/store"
)

// Tables names the three logical tables. Prefix them per environment
// (e.g. "prod-users") with WithPrefix.
type Tables struct {
	Users     string
	Orders    string
	Inventory string
}

// DefaultTables are the table names of the original platform.
var DefaultTables = Tables{Users: "users", Orders: "orders", Inventory: "inventory"}

// WithPrefix returns the tables with prefix prepended to every name.
func (t Tables) WithPrefix(prefix string) Tables {
	return Tables{Users: prefix + t.Users, Orders: prefix + t.Orders, Inventory: prefix + t.Inventory}
}

// Index names and their key attributes.
const (
	// IndexOpenOrders holds open (resting) orders by asset and trigger side,
	// sorted by trigger price: the trigger engine's range reads.
	IndexOpenOrders = "open_by_trigger"
	attrTrigPK      = "trig_pk"
	attrTrigSK      = "trig_sk"

	// IndexTrailing holds open trailing stops by asset, sorted by their
	// high-water mark: a price above the mark raises it.
	IndexTrailing = "trail_by_hwm"
	attrHWMPK     = "hwm_pk"
	attrHWMSK     = "hwm_sk"

	// IndexExpiry holds open orders that expire, by expiry day, sorted by
	// expiry time: the expiry sweep's range reads.
	IndexExpiry = "open_by_expiry"
	attrExpPK   = "exp_pk"
	attrExpSK   = "exp_sk"

	// IndexAssetsByRank lists the catalogue ordered by market-cap rank.
	IndexAssetsByRank = "assets_by_rank"
	attrRankPK        = "rank_pk"
	attrRankSK        = "rank_sk"

	// IndexAssetsByCategory lists one category ordered by rank.
	IndexAssetsByCategory = "assets_by_category"
	attrCatPK             = "cat_pk"
	attrCatSK             = "cat_sk"
)

// Schemas returns the table schemas an engine must be opened with.
func (t Tables) Schemas() []store.TableSchema {
	return []store.TableSchema{
		{Name: t.Users},
		{Name: t.Orders, Indexes: []store.IndexSchema{
			{Name: IndexOpenOrders, PK: attrTrigPK, SK: attrTrigSK},
			{Name: IndexTrailing, PK: attrHWMPK, SK: attrHWMSK},
			{Name: IndexExpiry, PK: attrExpPK, SK: attrExpSK},
		}},
		{Name: t.Inventory, Indexes: []store.IndexSchema{
			{Name: IndexAssetsByRank, PK: attrRankPK, SK: attrRankSK},
			{Name: IndexAssetsByCategory, PK: attrCatPK, SK: attrCatSK},
		}},
	}
}

// Key prefixes. Usernames, emails, currencies and asset ids are normalised
// (lower-case names, upper-case codes) before they become keys.
const (
	pkUser    = "USER#"
	pkEmail   = "EMAIL#"
	pkAsset   = "ASSET#"
	skProfile = "PROFILE"
	skEmail   = "EMAIL"
	skBalance = "BALANCE#"
	skTx      = "TX#"
	skHolding = "ASSET#"
	skAssetTx = "ATX#" // movements of their own, for fill entries without an asset leg
	skIdem    = "IDEM#"
	skOrder   = "ORDER#"
	skCOID    = "COID#"
	skAsset   = "ASSET"
	// pkAnon partitions idempotency records of unauthenticated requests.
	pkAnon = "ANON#"
	// Leases and group members (lease.go), in the inventory table.
	pkLease  = "LEASE#"
	skLease  = "LEASE"
	pkGroup  = "GROUP#"
	skMember = "MEMBER#"
)

func userPK(username string) string { return pkUser + username }

func (t Tables) profileKey(username string) store.Key {
	return store.Key{Table: t.Users, PK: userPK(username), SK: skProfile}
}

func (t Tables) emailKey(email string) store.Key {
	return store.Key{Table: t.Users, PK: pkEmail + email, SK: skEmail}
}

func (t Tables) balanceKey(username, currency string) store.Key {
	return store.Key{Table: t.Users, PK: userPK(username), SK: skBalance + currency}
}

func (t Tables) txKey(username, txID string) store.Key {
	return store.Key{Table: t.Users, PK: userPK(username), SK: skTx + txID}
}

func (t Tables) holdingKey(username, assetID string) store.Key {
	return store.Key{Table: t.Users, PK: userPK(username), SK: skHolding + assetID}
}

// IdemKey addresses the idempotency record of key for username ("" for an
// unauthenticated request, scoped by scope, e.g. the route).
func (t Tables) IdemKey(username, scope, key string) store.Key {
	if username == "" {
		return store.Key{Table: t.Users, PK: pkAnon + scope, SK: skIdem + key}
	}
	return store.Key{Table: t.Users, PK: userPK(username), SK: skIdem + key}
}

func (t Tables) orderKey(username, orderID string) store.Key {
	return store.Key{Table: t.Orders, PK: userPK(username), SK: skOrder + orderID}
}

func (t Tables) clientOrderIDKey(username, clientOrderID string) store.Key {
	return store.Key{Table: t.Orders, PK: userPK(username), SK: skCOID + clientOrderID}
}

func (t Tables) assetKey(assetID string) store.Key {
	return store.Key{Table: t.Inventory, PK: pkAsset + assetID, SK: skAsset}
}

func (t Tables) leaseKey(name string) store.Key {
	return store.Key{Table: t.Inventory, PK: pkLease + name, SK: skLease}
}

func (t Tables) memberKey(group, member string) store.Key {
	return store.Key{Table: t.Inventory, PK: pkGroup + group, SK: skMember + member}
}

// usernameFromPK returns the username of a "USER#<name>" partition key.
func usernameFromPK(pk string) string { return strings.TrimPrefix(pk, pkUser) }

// CacheGroup classifies k for a shared cache of items (package cache): ok
// is false for an item that is never cached. An asset is versioned (its
// "version" attribute grows with every write, so an entry is replaced only
// by a newer one); a balance, a holding or an order is invalidated through
// group on every write: the balances of a user share a group, so do the
// holdings of a user, and an order is a group of its own.
func (t Tables) CacheGroup(k store.Key) (group string, versioned, ok bool) {
	switch {
	case k.Table == t.Inventory && k.SK == skAsset && strings.HasPrefix(k.PK, pkAsset):
		return "", true, true
	case k.Table == t.Orders && strings.HasPrefix(k.PK, pkUser) && strings.HasPrefix(k.SK, skOrder):
		return k.String(), false, true
	case k.Table != t.Users || !strings.HasPrefix(k.PK, pkUser):
		return "", false, false
	}
	for _, p := range [...]string{skBalance, skHolding} {
		if strings.HasPrefix(k.SK, p) {
			return k.Table + "/" + k.PK + "/" + p, false, true
		}
	}
	return "", false, false
}

// CacheQueryGroup is CacheGroup for a query: the reads of a user's
// balances or holdings (BalanceDAO.List, HoldingDAO.List) are cached in the
// group of the items they return.
func (t Tables) CacheQueryGroup(q store.Query) (group string, ok bool) {
	if q.Table != t.Users || q.Index != "" || q.SK.Op != store.SortBeginsWith || !strings.HasPrefix(q.PK, pkUser) ||
		q.SK.Value != skBalance && q.SK.Value != skHolding {
		return "", false
	}
	return q.Table + "/" + q.PK + "/" + q.SK.Value, true
}
