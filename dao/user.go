package dao

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// UserDAO stores users and the guards that keep usernames and emails unique.
type UserDAO struct{ base }

// Errors of user writes.
var (
	ErrUsernameTaken = apperr.New(apperr.Conflict, "username already registered")
	ErrEmailTaken    = apperr.New(apperr.Conflict, "email already registered")
)

func (d *UserDAO) item(u *entity.User) (store.Item, error) {
	doc, err := docValue(u)
	if err != nil {
		return nil, err
	}
	it := store.Item{
		"doc": doc, "password_hash": store.S(u.PasswordHash), "version": store.Int(u.Version),
		"email": store.S(u.Email), "role": store.S(string(u.Role)),
	}
	if !u.TokensValidAfter.IsZero() {
		it[attrTokensValidAfter] = store.Int(u.TokensValidAfter.UnixMilli())
	}
	return it, nil
}

// attrTokensValidAfter holds entity.User.TokensValidAfter in Unix
// milliseconds; users stored without it have none.
const attrTokensValidAfter = "tokens_valid_after_ms"

func (d *UserDAO) decode(it store.Item) (*entity.User, error) {
	var u entity.User
	if err := decodeDoc(it, &u); err != nil {
		return nil, err
	}
	u.PasswordHash = it.Str("password_hash")
	u.Version = it.Int("version")
	if ms := it.Int(attrTokensValidAfter); ms != 0 {
		u.TokensValidAfter = time.UnixMilli(ms).UTC()
	}
	return &u, nil
}

// AddCreate adds to tx the writes that create u: its profile (RoleProfile)
// and its email guard (RoleEmail), each conditional on not existing. Run them
// with more writes (the user's first balance) in one transaction;
// CreateRefusals interprets a failure.
func (d *UserDAO) AddCreate(tx *Tx, u *entity.User) error {
	it, err := d.item(u)
	if err != nil {
		return err
	}
	tx.Add(RoleProfile, putNew(d.t.profileKey(u.Username), it))
	tx.Add(RoleEmail, putNew(d.t.emailKey(u.Email), store.Item{"username": store.S(u.Username)}))
	return nil
}

// CreateRefusals are the errors of a failed creation of a user, first the
// username's: ErrUsernameTaken for the profile or the user's first balance
// (RoleNewBalance), ErrEmailTaken for the email guard.
var CreateRefusals = []Refusal{
	{RoleProfile, ErrUsernameTaken}, {RoleEmail, ErrEmailTaken}, {RoleNewBalance, ErrUsernameTaken},
}

// createError maps a failed transaction tx with the writes of AddCreate to
// CreateRefusals, else returns err.
func createError(tx *Tx, err error) error {
	if e := tx.Refused(err, CreateRefusals...); e != nil {
		return e
	}
	return err
}

// Create stores a new user with extra writes (RoleNone) in the same
// transaction. Errors: ErrUsernameTaken, ErrEmailTaken.
func (d *UserDAO) Create(ctx context.Context, u *entity.User, extra ...store.Write) error {
	var tx Tx
	if err := d.AddCreate(&tx, u); err != nil {
		return err
	}
	for _, w := range extra {
		tx.Add(RoleNone, w)
	}
	if err := d.s.Transact(ctx, tx.Writes()); err != nil {
		return fmt.Errorf("create user %s: %w", u.Username, createError(&tx, err))
	}
	return nil
}

// GetByUsername returns the user (username any case) or a not_found error.
func (d *UserDAO) GetByUsername(ctx context.Context, username string) (*entity.User, error) {
	it, err := d.s.Get(ctx, d.t.profileKey(entity.NormalizeUsername(username)))
	if err != nil {
		return nil, notFound(err, "user not found")
	}
	return d.decode(it)
}

// ExistsCheck returns the write that checks, in a transaction, that the
// user's profile exists (RoleProfile fails: no such user).
func (d *UserDAO) ExistsCheck(username string) store.Write {
	return store.Write{Check: &store.Check{Key: d.t.profileKey(username), Cond: store.ItemExists()}}
}

// GetByEmail returns the user with email (any case) or a not_found error.
func (d *UserDAO) GetByEmail(ctx context.Context, email string) (*entity.User, error) {
	g, err := d.s.Get(ctx, d.t.emailKey(normEmail(email)))
	if err != nil {
		return nil, notFound(err, "user not found")
	}
	return d.GetByUsername(ctx, g.Str("username"))
}

// Update stores u (whose Version is the version read) if nobody changed it
// since, moving the email guard when the email changed from oldEmail.
// It sets u.UpdatedAt and increments u.Version. Errors: ErrEmailTaken, a
// conflict when the user changed concurrently.
func (d *UserDAO) Update(ctx context.Context, u *entity.User, oldEmail string, now time.Time) error {
	read := u.Version
	u.Version++
	u.UpdatedAt = entity.At(now)
	it, err := d.item(u)
	if err != nil {
		return err
	}
	var tx Tx
	tx.Add(RoleProfile, store.Write{Put: &store.Put{Key: d.t.profileKey(u.Username), Item: it, Cond: store.VersionIs(read)}})
	if u.Email != oldEmail {
		tx.Add(RoleEmail, putNew(d.t.emailKey(u.Email), store.Item{"username": store.S(u.Username)}))
		// The old guard is the user's as long as the profile is.
		tx.Add(RoleNone, store.Write{Delete: &store.Delete{Key: d.t.emailKey(oldEmail), Cond: store.Eq("username", store.S(u.Username))}})
	}
	if err := d.s.Transact(ctx, tx.Writes()); err != nil {
		u.Version = read
		if r, _ := tx.Failed(err, RoleProfile, RoleEmail); r == RoleEmail {
			return ErrEmailTaken
		}
		if errors.Is(err, store.ErrConditionFailed) {
			return apperr.New(apperr.Conflict, "profile changed concurrently; retry")
		}
		return fmt.Errorf("update user %s: %w", u.Username, err)
	}
	return nil
}

// Upsert creates or replaces the user u with its password hash and
// role (used to provision the admin account at start).
func (d *UserDAO) Upsert(ctx context.Context, u *entity.User) error {
	it, err := d.item(u)
	if err != nil {
		return err
	}
	var tx Tx
	tx.Add(RoleProfile, store.Write{Put: &store.Put{Key: d.t.profileKey(u.Username), Item: it}})
	tx.Add(RoleEmail, store.Write{Put: &store.Put{Key: d.t.emailKey(u.Email), Item: store.Item{"username": store.S(u.Username)},
		Cond: store.Or(store.ItemNotExists(), store.Eq("username", store.S(u.Username)))}})
	if err := d.s.Transact(ctx, tx.Writes()); err != nil {
		return fmt.Errorf("upsert user %s: %w", u.Username, createError(&tx, err))
	}
	return nil
}

func normEmail(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
