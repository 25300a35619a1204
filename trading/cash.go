package trading

import (
	"context"
	"fmt"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// Deposit credits req.Amount to the user's balance (creating the balance for
// a new currency) with a completed deposit entry, within the daily limit
// (Config.DepositDailyLimit).
func (s *Service) Deposit(ctx context.Context, username string, req entity.DepositRequest, idem *Idem) (*entity.BalanceTransaction, *Replay, error) {
	if err := req.Validate(); err != nil {
		return nil, nil, err
	}
	return s.cash(ctx, username, entity.TxDeposit, *req.Amount, req.Currency, req.Description, idem)
}

// Withdraw debits req.Amount from the available balance with a completed
// withdraw entry, within the daily limit (Config.WithdrawDailyLimit);
// insufficient_funds when it exceeds the available balance.
func (s *Service) Withdraw(ctx context.Context, username string, req entity.WithdrawRequest, idem *Idem) (*entity.BalanceTransaction, *Replay, error) {
	if err := req.Validate(); err != nil {
		return nil, nil, err
	}
	return s.cash(ctx, username, entity.TxWithdraw, *req.Amount, req.Currency, req.Description, idem)
}

func (s *Service) cash(ctx context.Context, username string, typ entity.TransactionType, amount decimal.Decimal, cur entity.Currency, desc string, idem *Idem) (*entity.BalanceTransaction, *Replay, error) {
	// A replayed request answers before the limits are checked again.
	if rep, err := s.Replay(ctx, idem); rep != nil || err != nil {
		return nil, rep, err
	}
	now := s.now()
	limit, kind := s.cfg.DepositDailyLimit, "deposit"
	change := dao.Change{Username: username, Currency: cur, Current: amount, Deposits: amount}
	signed := amount
	if typ == entity.TxWithdraw {
		limit, kind = s.cfg.WithdrawDailyLimit, "withdraw"
		change = dao.Change{Username: username, Currency: cur, Current: amount.Neg(), Withdrawals: amount}
		signed = amount.Neg()
	}
	// The limit counts every currency at its exact USD value, in one total
	// per user and day, so that a conversion cannot multiply it.
	usd := amount
	if limit.IsPositive() {
		var err error
		if usd, err = s.usdValue(ctx, amount, cur); err != nil {
			return nil, nil, err
		}
	}
	limitErr := apperr.Field("amount", fmt.Sprintf("daily %s limit of %s USD exceeded (every currency counts at its USD value)",
		kind, entity.USD.Format(limit)), "value_error")
	if limit.IsPositive() && usd.GreaterThan(limit) {
		return nil, nil, limitErr
	}
	if desc == "" {
		desc = fmt.Sprintf("%s of %s %s", map[string]string{"deposit": "Deposit", "withdraw": "Withdrawal"}[kind], cur.Format(amount), cur)
	}
	tx := &entity.BalanceTransaction{
		TransactionID: s.ids.New(), Username: username, TransactionType: typ, Amount: signed,
		Currency: cur, Status: entity.TxCompleted, Description: desc, CreatedAt: entity.At(now),
	}
	var w dao.Tx
	w.Add(dao.RoleBalance, s.d.Balances.ChangeWrite(change, now))
	w.Add(dao.RoleLedger, s.d.Balances.TransactionWrite(tx))
	w.Add(dao.RoleNone, s.d.Perf.DayWrite(username, now, dao.Count{}, tx))
	if limit.IsPositive() {
		w.Add(dao.RoleDailyLimit, s.d.Balances.DailyLimitWrite(username, kind, now, usd, limit))
	}
	rep, err := s.Commit(ctx, &w, idem, tx,
		dao.Refusal{Role: dao.RoleBalance, Err: dao.ErrInsufficientFunds}, dao.Refusal{Role: dao.RoleDailyLimit, Err: limitErr})
	if err != nil || rep != nil {
		return nil, rep, err
	}
	s.publish(Event{Kind: EventBalance, Username: username, Currency: string(cur)})
	return tx, nil, nil
}
