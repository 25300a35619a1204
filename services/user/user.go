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

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/pricing"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
	"github.com/orderprocessor/orderprocessor/trading"
)

// Service serves the user routes.
type Service struct {
	d       *dao.DAOs
	trade   *trading.Service
	issuer  *auth.Issuer
	hasher  *auth.Hasher
	revoker auth.Revoker
	// accounts, when set, is told of every activation change at once.
	accounts *auth.AccountCache
	rates    pricing.FXRates
	// whole admits one whole-store read (verify, the summary) at a time.
	whole wholeStore
	log   *slog.Logger
}

// Options are a Service's optional settings; the zero value is the defaults.
type Options struct {
	// Accounts is the account cache of this process, which the service
	// keeps up to date with the changes it makes (nil: none).
	Accounts *auth.AccountCache
	Logger   *slog.Logger // slog.Default() when nil
}

// New returns the user service over trade: issuer signs its tokens, hasher
// hashes and verifies its passwords, revoker records its logouts.
func New(trade *trading.Service, issuer *auth.Issuer, hasher *auth.Hasher, revoker auth.Revoker, opts Options) *Service {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{d: trade.ReadDAOs(), trade: trade, issuer: issuer, hasher: hasher, revoker: revoker,
		accounts: opts.Accounts, rates: trade.Rates(), whole: newWholeStore(), log: log}
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
	s.registerAdmin(api)
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
	idem, err := handlerkit.Idempotency(r, s.d.Tables, "", "register", hashed, http.StatusCreated, func(any) any { return resp })
	if err != nil {
		return nil, err
	}
	if rep, err := s.trade.Replay(r.Context(), idem); rep != nil || err != nil {
		return outcome[MessageResponse](rep, err)
	}
	hash, err := s.hasher.HashPassword(r.Context(), req.Password)
	if err != nil {
		return nil, s.hashError(fmt.Errorf("hash password: %w", err))
	}
	u := req.User(hash, now)
	var tx dao.Tx
	if err := s.d.Users.AddCreate(&tx, u); err != nil {
		return nil, err
	}
	tx.Add(dao.RoleNewBalance, s.d.Balances.CreateWrite(u.Username, entity.USD, now))
	rep, err := s.trade.Commit(r.Context(), &tx, idem, resp, dao.CreateRefusals...)
	if rep != nil || err != nil {
		return outcome[MessageResponse](rep, err)
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

// hashError is the answer to a failed password computation: a hasher with
// no room (auth.ErrBusy) is 503 with Retry-After.
func (s *Service) hashError(err error) error {
	if errors.Is(err, auth.ErrBusy) {
		return httpapi.WithHeader(err, "Retry-After", strconv.FormatInt(int64((s.hasher.RetryAfter()+time.Second-1)/time.Second), 10))
	}
	return err
}

// errBadCredentials is the one answer to a failed login (no user enumeration).
var errBadCredentials = apperr.New(apperr.Unauthorized, "Invalid username or password")

func (s *Service) login(r *http.Request, in *loginIn) (LoginResponse, error) {
	req := in.Body
	if err := req.Validate(); err != nil {
		return LoginResponse{}, err
	}
	u, err := s.d.Users.GetByUsername(r.Context(), req.Username)
	if err != nil {
		if !apperr.Is(err, apperr.NotFound) {
			return LoginResponse{}, err
		}
		if err := s.hasher.DummyVerify(r.Context(), req.Password); err != nil { // the same work as a real check
			return LoginResponse{}, s.hashError(fmt.Errorf("verify password: %w", err))
		}
		return LoginResponse{}, errBadCredentials
	}
	ok, err := s.hasher.VerifyPassword(r.Context(), u.PasswordHash, req.Password)
	if err != nil {
		return LoginResponse{}, s.hashError(fmt.Errorf("verify password: %w", err))
	}
	if !ok {
		return LoginResponse{}, errBadCredentials
	}
	if !u.IsActive { // said only to who knows the password
		return LoginResponse{}, errDeactivated
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
	u, err := s.d.Users.GetByUsername(r.Context(), p.Username)
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
	var u *entity.User
	for attempt := 0; ; attempt++ {
		cur, err := s.d.Users.GetByUsername(r.Context(), p.Username)
		if err != nil {
			return ProfileUpdateResponse{}, err
		}
		oldEmail := cur.Email
		req.Apply(cur)
		err = s.d.Users.Update(r.Context(), cur, oldEmail, now)
		if err == nil {
			u = cur
			break
		}
		if err == dao.ErrEmailTaken || !apperr.Is(err, apperr.Conflict) || attempt == 5 {
			return ProfileUpdateResponse{}, err
		}
	}
	return ProfileUpdateResponse{Success: true,
		Message: "Profile updated successfully", User: u.Profile(), Timestamp: entity.At(now)}, nil
}

func (s *Service) logout(r *http.Request, p auth.Principal, _ *logoutIn) (MessageResponse, error) {
	if err := s.revoker.Revoke(r.Context(), p.TokenID, p.ExpiresAt); err != nil {
		return MessageResponse{}, fmt.Errorf("revoke token: %w", err)
	}
	return MessageResponse{Message: "Logged out successfully"}, nil
}

// ProvisionAdmin creates or updates the "admin" user with the admin role and
// password (ORDERPROCESSOR_ADMIN_PASSWORD), and its USD balance.
func (s *Service) ProvisionAdmin(ctx context.Context, password string) error {
	if !entity.ValidPassword(password) {
		return apperr.New(apperr.Invalid, "ORDERPROCESSOR_ADMIN_PASSWORD must follow the password rules: 12-20 characters with an upper-case letter, a lower-case letter, a digit and one of !@#$%%^&*()-_=+")
	}
	hash, err := s.hasher.HashPassword(ctx, password)
	if err != nil {
		return err
	}
	now := s.now()
	u, err := s.d.Users.GetByUsername(ctx, entity.AdminUsername)
	switch {
	case err == nil:
		u.PasswordHash, u.Role, u.IsActive = hash, entity.RoleAdmin, true
		u.UpdatedAt = entity.At(now)
	case apperr.Is(err, apperr.NotFound):
		u = &entity.User{Username: entity.AdminUsername, Email: "admin@orderprocessor.local", PasswordHash: hash,
			FirstName: "Platform", LastName: "Admin", Role: entity.RoleAdmin, IsActive: true,
			CreatedAt: entity.At(now), UpdatedAt: entity.At(now), Version: 1}
	default:
		return err
	}
	if err := s.d.Users.Upsert(ctx, u); err != nil {
		return err
	}
	if err := s.d.Balances.Create(ctx, entity.AdminUsername, entity.USD, now); err != nil && !apperr.Is(err, apperr.Conflict) {
		return err
	}
	return nil
}
