// Package accounts holds the flows of user accounts: registration (the
// profile, its email guard and the first USD balance in ONE store
// transaction, idempotent like the trading flows), password checks,
// profile changes, activation and the admin account. It reads and writes
// through the DAOs and commits through the trading service, so that a
// registration's idempotency record is written with it.
package accounts

import (
	"context"
	"fmt"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/trading"
)

// Errors of the account flows.
var (
	// ErrBadCredentials is the one answer to a failed login: an unknown
	// user and a wrong password alike (no user enumeration).
	ErrBadCredentials = apperr.New(apperr.Unauthorized, "Invalid username or password")
	// ErrDeactivated answers the login of a deactivated user who gave the
	// right password.
	ErrDeactivated = apperr.New(apperr.Forbidden, "account deactivated")
)

// maxAttempts bounds the read-modify-write retries of a user changed
// concurrently.
const maxAttempts = 6

// Service runs the account flows.
type Service struct {
	d      *dao.DAOs
	trade  *trading.Service
	hasher *auth.Hasher
	cache  *auth.AccountCache
}

// Options are a Service's optional settings; the zero value is the defaults.
type Options struct {
	// Cache is the account cache of this process, which the service keeps
	// up to date with the activation changes it makes (nil: none).
	Cache *auth.AccountCache
}

// New returns the account service over trade's DAOs; hasher hashes and
// verifies the passwords.
func New(trade *trading.Service, hasher *auth.Hasher, opts Options) *Service {
	return &Service{d: trade.DAOs(), trade: trade, hasher: hasher, cache: opts.Cache}
}

// HashRetryAfter is how long a client should wait after a password
// computation failed with auth.ErrBusy.
func (s *Service) HashRetryAfter() time.Duration { return s.hasher.RetryAfter() }

// Register creates the user of req (validated, so normalised) with a USD
// balance of 0, in one transaction with idem's record (when not nil; the
// result rendered is the new *entity.User). A request replayed by idem is
// answered before the password is hashed. Errors: dao.ErrUsernameTaken
// (also for a username whose balance outlived its profile),
// dao.ErrEmailTaken, trading.ErrIdemMismatch, a wrapped auth.ErrBusy.
func (s *Service) Register(ctx context.Context, req entity.UserCreate, idem *trading.Idem) (*trading.Replay, error) {
	if rep, err := s.trade.Replay(ctx, idem); rep != nil || err != nil {
		return rep, err
	}
	hash, err := s.hasher.HashPassword(ctx, req.Password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := s.trade.Now()
	u := req.User(hash, now)
	var tx dao.Tx
	if err := s.d.Users.AddCreate(&tx, u); err != nil {
		return nil, err
	}
	tx.Add(dao.RoleNewBalance, s.d.Balances.CreateWrite(u.Username, entity.USD, now))
	return s.trade.Commit(ctx, &tx, idem, u, dao.CreateRefusals...)
}

// Authenticate returns the user username (any case) when password is
// theirs and the account is active. Errors: ErrBadCredentials (an unknown
// user costs the same password computation as a known one),
// ErrDeactivated (said only to who knows the password), a wrapped
// auth.ErrBusy.
func (s *Service) Authenticate(ctx context.Context, username, password string) (*entity.User, error) {
	u, err := s.d.Users.GetByUsername(ctx, username)
	if err != nil {
		if !apperr.Is(err, apperr.NotFound) {
			return nil, err
		}
		if err := s.hasher.DummyVerify(ctx, password); err != nil { // the same work as a real check
			return nil, fmt.Errorf("verify password: %w", err)
		}
		return nil, ErrBadCredentials
	}
	ok, err := s.hasher.VerifyPassword(ctx, u.PasswordHash, password)
	if err != nil {
		return nil, fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		return nil, ErrBadCredentials
	}
	if !u.IsActive {
		return nil, ErrDeactivated
	}
	return u, nil
}

// User returns the user username (any case), or a not_found error.
func (s *Service) User(ctx context.Context, username string) (*entity.User, error) {
	return s.d.Users.GetByUsername(ctx, username)
}

// UpdateProfile applies req (validated) to the user username, retrying
// when the user changed concurrently, and returns the user as stored
// (UpdatedAt is the time of the change). Errors: not_found,
// dao.ErrEmailTaken, a conflict after repeated concurrent changes.
func (s *Service) UpdateProfile(ctx context.Context, username string, req entity.UserProfileUpdate) (*entity.User, error) {
	return s.modify(ctx, username, func(u *entity.User, _ time.Time) bool {
		req.Apply(u)
		return true
	})
}

// SetActive activates or deactivates the user username (not_found when
// there is none). Deactivation sets the user's TokensValidAfter to the
// next whole second, so every token issued until then (iat in whole
// seconds) is refused, and reactivation keeps it. Setting the state the
// user is in changes nothing. The account cache of this process learns the
// change at once.
func (s *Service) SetActive(ctx context.Context, username string, active bool) (*entity.User, error) {
	u, err := s.modify(ctx, username, func(u *entity.User, now time.Time) bool {
		if u.IsActive == active {
			return false
		}
		u.IsActive = active
		if !active {
			u.TokensValidAfter = now.Truncate(time.Second).Add(time.Second).UTC()
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if s.cache != nil {
		s.cache.Set(u.Username, auth.Account{Exists: true, Active: u.IsActive, ValidAfter: u.TokensValidAfter})
	}
	return u, nil
}

// modify reads the user username, lets change change it (false: nothing
// to store) and stores it if nobody changed it since, retrying otherwise.
func (s *Service) modify(ctx context.Context, username string, change func(u *entity.User, now time.Time) bool) (*entity.User, error) {
	for attempt := 1; ; attempt++ {
		u, err := s.d.Users.GetByUsername(ctx, username)
		if err != nil {
			return nil, err
		}
		now := s.trade.Now()
		oldEmail := u.Email
		if !change(u, now) {
			return u, nil
		}
		err = s.d.Users.Update(ctx, u, oldEmail, now)
		if err == nil {
			return u, nil
		}
		if err == dao.ErrEmailTaken || !apperr.Is(err, apperr.Conflict) || attempt == maxAttempts {
			return nil, err
		}
	}
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
	now := s.trade.Now()
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
