package trading

import (
	"context"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/verify"
)

// The reads the services answer with: the display reads through the DAOs
// of Options.Reads (the shared cache, when there is one), the operator's
// reads (scans, verify) through the store's.

// Order returns username's order orderID, or a not_found error.
func (s *Service) Order(ctx context.Context, username, orderID string) (*entity.Order, error) {
	return s.reads.Orders.Get(ctx, username, orderID)
}

// Orders returns a page of username's orders matching f, newest first, and
// the cursor after it ("" at the end).
func (s *Service) Orders(ctx context.Context, username string, f dao.OrderFilter) ([]*entity.Order, string, error) {
	return s.reads.Orders.ListByUser(ctx, username, f)
}

// ScanOrders calls fn for every order of every user (an operator's read).
func (s *Service) ScanOrders(ctx context.Context, fn func(*entity.Order) error) error {
	return s.d.Orders.Scan(ctx, fn)
}

// Usernames calls fn for every registered username (an operator's read).
func (s *Service) Usernames(ctx context.Context, fn func(username string) error) error {
	return s.d.Analytics.Usernames(ctx, fn)
}

// AssetMovements returns up to limit of username's movements of assetID
// after cursor, newest first, and the cursor after them ("" at the end).
func (s *Service) AssetMovements(ctx context.Context, username, assetID string, limit int, cursor string) ([]*entity.AssetTransaction, string, error) {
	return s.reads.AssetTxs.List(ctx, username, assetID, limit, cursor)
}

// Balance returns username's balance in c, or a not_found error when the
// currency was never used.
func (s *Service) Balance(ctx context.Context, username string, c entity.Currency) (*entity.Balance, error) {
	return s.reads.Balances.Get(ctx, username, c)
}

// Balances returns every balance of username, by currency.
func (s *Service) Balances(ctx context.Context, username string) ([]*entity.Balance, error) {
	return s.reads.Balances.List(ctx, username)
}

// Transactions returns a page of username's ledger entries matching f,
// newest first, and the cursor after it ("" at the end).
func (s *Service) Transactions(ctx context.Context, username string, f dao.TxFilter) ([]*entity.BalanceTransaction, string, error) {
	return s.reads.Balances.ListTransactions(ctx, username, f)
}

// CountTransactions counts username's ledger entries matching f among the
// newest maxScan.
func (s *Service) CountTransactions(ctx context.Context, username string, f dao.TxFilter, maxScan int) (int, error) {
	return s.reads.Balances.CountTransactions(ctx, username, f, maxScan)
}

// Holding returns username's holding of assetID, or a not_found error.
func (s *Service) Holding(ctx context.Context, username, assetID string) (*dao.HoldingRecord, error) {
	return s.reads.Holdings.GetCurrent(ctx, username, assetID)
}

// Holdings returns every holding of username, by asset id.
func (s *Service) Holdings(ctx context.Context, username string) ([]*dao.HoldingRecord, error) {
	return s.reads.Holdings.ListCurrent(ctx, username)
}

// Asset returns the asset id, or a not_found error.
func (s *Service) Asset(ctx context.Context, id string) (*entity.Asset, error) {
	return s.reads.Assets.Get(ctx, id)
}

// Verify checks every ledger invariant of the store (verify.Run).
func (s *Service) Verify(ctx context.Context) (verify.Report, error) {
	return verify.Run(ctx, s.d)
}
