// Package user is the user service: registration, login, profile, logout,
// balances, deposits and withdrawals, the ledger, holdings and portfolio.
package user

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/orderprocessor/orderprocessor/accounts"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/pricing"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
	"github.com/orderprocessor/orderprocessor/trading"
	"github.com/orderprocessor/orderprocessor/verify"
)

// Trading is what the user service needs of the trading layer
// (*trading.Service): the cash flows, and the reads of balances, the
// ledger, holdings, prices and (for admins) the whole store.
type Trading interface {
	Now() time.Time
	ValuationRates(ctx context.Context) (pricing.FXRates, error)
	Idem(username, scope string, req *trading.IdemRequest) *trading.Idem
	Deposit(ctx context.Context, username string, req entity.DepositRequest, idem *trading.Idem) (*entity.BalanceTransaction, *trading.Replay, error)
	Withdraw(ctx context.Context, username string, req entity.WithdrawRequest, idem *trading.Idem) (*entity.BalanceTransaction, *trading.Replay, error)
	Convert(ctx context.Context, username string, req entity.ConvertRequest, idem *trading.Idem) (*trading.Conversion, *trading.Replay, error)
	Adjust(ctx context.Context, admin, username string, req entity.AdjustmentRequest, idem *trading.Idem) (*entity.BalanceTransaction, *trading.Replay, error)

	Balance(ctx context.Context, username string, c entity.Currency) (*entity.Balance, error)
	Balances(ctx context.Context, username string) ([]*entity.Balance, error)
	Transactions(ctx context.Context, username string, f dao.TxFilter) ([]*entity.BalanceTransaction, string, error)
	CountTransactions(ctx context.Context, username string, f dao.TxFilter, maxScan int) (int, error)
	Holding(ctx context.Context, username, assetID string) (*dao.HoldingRecord, error)
	Holdings(ctx context.Context, username string) ([]*dao.HoldingRecord, error)
	Asset(ctx context.Context, id string) (*entity.Asset, error)
	Volume(ctx context.Context, assetID string, i dao.Interval, from, to time.Time) ([]dao.Bucket, error)
	Performance(ctx context.Context, username string, from, to time.Time) (*trading.Performance, error)

	Usernames(ctx context.Context, fn func(username string) error) error
	ScanOrders(ctx context.Context, fn func(*entity.Order) error) error
	Verify(ctx context.Context) (verify.Report, error)
}

// Accounts is what the user service needs of the account flows
// (*accounts.Service).
type Accounts interface {
	Register(ctx context.Context, req entity.UserCreate, idem *trading.Idem) (*trading.Replay, error)
	Authenticate(ctx context.Context, username, password string) (*entity.User, error)
	User(ctx context.Context, username string) (*entity.User, error)
	UpdateProfile(ctx context.Context, username string, req entity.UserProfileUpdate) (*entity.User, error)
	SetActive(ctx context.Context, username string, active bool) (*entity.User, error)
	// HashRetryAfter is the Retry-After of a password computation that
	// found no room (auth.ErrBusy).
	HashRetryAfter() time.Duration
}

var (
	_ Trading  = (*trading.Service)(nil)
	_ Accounts = (*accounts.Service)(nil)
)

// Service serves the user routes.
type Service struct {
	trade    Trading
	accounts Accounts
	issuer   *auth.Issuer
	revoker  auth.Revoker
	// whole admits one whole-store read (verify, the summary) at a time.
	whole wholeStore
	log   *slog.Logger
}

// Options are a Service's optional settings; the zero value is the defaults.
type Options struct {
	Logger *slog.Logger // slog.Default() when nil
}

// New returns the user service over trade and accounts: issuer signs its
// tokens, revoker records its logouts.
func New(trade Trading, accounts Accounts, issuer *auth.Issuer, revoker auth.Revoker, opts Options) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{trade: trade, accounts: accounts, issuer: issuer, revoker: revoker,
		whole: newWholeStore(), log: log}
}

func (s *Service) now() time.Time { return s.trade.Now() }

// MessageResponse is a plain confirmation.
type MessageResponse struct {
	Message string `json:"message"`
}

// LoginResponse is the body of a successful login.
type LoginResponse struct {
	AccessToken string             `json:"access_token"`
	TokenType   string             `json:"token_type"`
	ExpiresIn   int64              `json:"expires_in"`
	User        entity.UserProfile `json:"user"`
}

// ProfileUpdateResponse is the body of PUT /auth/profile.
type ProfileUpdateResponse struct {
	Success   bool               `json:"success"`
	Message   string             `json:"message"`
	User      entity.UserProfile `json:"user"`
	Timestamp entity.Time        `json:"timestamp"`
}

// LogoutRequest is the (empty) body of POST /auth/logout.
type LogoutRequest struct{}

// Inputs of the account routes.
type (
	registerIn      struct{ Body entity.UserCreate }
	loginIn         struct{ Body entity.UserLogin }
	updateProfileIn struct{ Body entity.UserProfileUpdate }
	logoutIn        struct{ Body LogoutRequest }
)

// Register declares the user service's operations on api.
func (s *Service) Register(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: "/api/v1/auth/register", OperationID: "register",
		Summary: "Register a user (with a USD balance of 0)", Tags: []string{"auth"},
		Response: MessageResponse{}, Status: http.StatusCreated,
		Description: "429 (with Retry-After) beyond the registrations allowed per client IP; 503 (with Retry-After) when the server has no room to hash the password.",
		Headers:     []httpapi.Header{handlerkit.IdempotencyDoc}, Errors: []int{409, 429, 503}}, s.register)
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: "/api/v1/auth/login", OperationID: "login",
		Summary: "Log in and get an access token", Tags: []string{"auth"},
		Description: "401 for an unknown user or a wrong password alike; 403 `account deactivated` for a deactivated user's right password; " +
			"403 `LOGIN_BLOCKED` (with Retry-After) after too many failures from the client IP or for the account; " +
			"503 (with Retry-After) when the server has no room to hash the password.",
		Errors: []int{401, 403, 503}}, s.login)
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/auth/profile", OperationID: "getProfile",
		Summary: "The caller's profile", Tags: []string{"auth"}, Auth: httpapi.AuthUser},
		handlerkit.WithCaller(s.getProfile))
	httpapi.Handle(api, httpapi.Op{Method: "PUT", Path: "/api/v1/auth/profile", OperationID: "updateProfile",
		Summary: "Update the caller's profile", Tags: []string{"auth"}, Auth: httpapi.AuthUser,
		Errors: []int{409}}, handlerkit.WithCaller(s.updateProfile))
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: "/api/v1/auth/logout", OperationID: "logout",
		Summary: "Revoke the caller's token", Tags: []string{"auth"}, Auth: httpapi.AuthUser},
		handlerkit.WithCaller(s.logout))
	s.registerMoney(api)
	s.registerConvert(api)
	s.registerVerify(api)
	s.registerAnalytics(api)
	s.registerVolume(api)
	s.registerDaily(api)
	s.registerPerformance(api)
	s.registerAdmin(api)
	s.registerAdjust(api)
}

func (s *Service) register(r *http.Request, in *registerIn) (*handlerkit.Result[MessageResponse], error) {
	req := in.Body
	now := s.now()
	if err := req.Validate(now); err != nil {
		return nil, err
	}
	resp := MessageResponse{Message: "User registered successfully"}
	hashed := req
	hashed.Password = trading.HashRequest([]byte(req.Password)) // never store the password itself
	idem, err := handlerkit.Idempotency(r, hashed, http.StatusCreated, func(any) any { return resp })
	if err != nil {
		return nil, err
	}
	rep, err := s.accounts.Register(r.Context(), req, s.trade.Idem("", "register", idem))
	if rep != nil || err != nil {
		return outcome[MessageResponse](rep, s.hashError(err))
	}
	return &handlerkit.Result[MessageResponse]{Body: resp}, nil
}

// outcome answers an operation with an Idempotency-Key that ended with an
// error or a stored replay.
func outcome[T any](rep *trading.Replay, err error) (*handlerkit.Result[T], error) {
	if err != nil {
		return nil, err
	}
	return handlerkit.Replayed[T](rep), nil
}

// hashError is the answer to err, the error of a flow that computes a
// password hash: a hasher with no room (auth.ErrBusy) is 503 with
// Retry-After.
func (s *Service) hashError(err error) error {
	if errors.Is(err, auth.ErrBusy) {
		return httpapi.WithHeader(err, "Retry-After", strconv.FormatInt(int64((s.accounts.HashRetryAfter()+time.Second-1)/time.Second), 10))
	}
	return err
}

func (s *Service) login(r *http.Request, in *loginIn) (LoginResponse, error) {
	req := in.Body
	if err := req.Validate(); err != nil {
		return LoginResponse{}, err
	}
	u, err := s.accounts.Authenticate(r.Context(), req.Username, req.Password)
	if err != nil {
		return LoginResponse{}, s.hashError(err)
	}
	token, claims, err := s.issuer.IssueAfter(u.Username, u.Role, u.TokensValidAfter)
	if err != nil {
		return LoginResponse{}, fmt.Errorf("issue token: %w", err)
	}
	return LoginResponse{
		AccessToken: token, TokenType: "bearer",
		ExpiresIn: int64(claims.ExpiresAt.Sub(claims.IssuedAt) / time.Second), User: u.Profile(),
	}, nil
}

func (s *Service) getProfile(r *http.Request, p auth.Principal, _ *struct{}) (entity.UserProfile, error) {
	u, err := s.accounts.User(r.Context(), p.Username)
	if err != nil {
		return entity.UserProfile{}, err
	}
	return u.Profile(), nil
}

func (s *Service) updateProfile(r *http.Request, p auth.Principal, in *updateProfileIn) (ProfileUpdateResponse, error) {
	req := in.Body
	now := s.now()
	if err := req.Validate(now); err != nil {
		return ProfileUpdateResponse{}, err
	}
	u, err := s.accounts.UpdateProfile(r.Context(), p.Username, req)
	if err != nil {
		return ProfileUpdateResponse{}, err
	}
	return ProfileUpdateResponse{Success: true,
		Message: "Profile updated successfully", User: u.Profile(), Timestamp: u.UpdatedAt}, nil
}

func (s *Service) logout(r *http.Request, p auth.Principal, _ *logoutIn) (MessageResponse, error) {
	if err := s.revoker.Revoke(r.Context(), p.TokenID, p.ExpiresAt); err != nil {
		return MessageResponse{}, fmt.Errorf("revoke token: %w", err)
	}
	return MessageResponse{Message: "Logged out successfully"}, nil
}
