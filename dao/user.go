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

// CreateWrites returns the writes that create u: its profile and its email
// guard, each conditional on not existing. Run them with more writes (the
// user's first balance) in one transaction; CreateError interprets a failure.
func (d *UserDAO) CreateWrites(u *entity.User) ([]store.Write, error) {
	it, err := d.item(u)
	if err != nil {
		return nil, err
	}
	return []store.Write{
		putNew(d.t.profileKey(u.Username), it),
		putNew(d.t.emailKey(u.Email), store.Item{"username": store.S(u.Username)}),
	}, nil
}

// CreateError maps the failure of a transaction that starts with
// CreateWrites to ErrUsernameTaken or ErrEmailTaken.
func CreateError(err error) error {
	var tx *store.TxCanceledError
	if errors.As(err, &tx) {
		switch tx.FailedIndex() {
		case 0:
			return ErrUsernameTaken
		case 1:
			return ErrEmailTaken
		}
	}
	return err
}

// Create stores a new user with extra writes in the same transaction.
// Errors: ErrUsernameTaken, ErrEmailTaken.
func (d *UserDAO) Create(ctx context.Context, u *entity.User, extra ...store.Write) error {
	ws, err := d.CreateWrites(u)
	if err != nil {
		return err
	}
	if err := d.s.Transact(ctx, append(ws, extra...)); err != nil {
		return fmt.Errorf("create user %s: %w", u.Username, CreateError(err))
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
	ws := []store.Write{{Put: &store.Put{Key: d.t.profileKey(u.Username), Item: it, Cond: store.VersionIs(read)}}}
	if u.Email != oldEmail {
		ws = append(ws,
			putNew(d.t.emailKey(u.Email), store.Item{"username": store.S(u.Username)}),
			store.Write{Delete: &store.Delete{Key: d.t.emailKey(oldEmail), Cond: store.Eq("username", store.S(u.Username))}})
	}
	if err := d.s.Transact(ctx, ws); err != nil {
		u.Version = read
		var tx *store.TxCanceledError
		if errors.As(err, &tx) && tx.FailedIndex() == 1 {
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
	if err := d.s.Transact(ctx, []store.Write{
		{Put: &store.Put{Key: d.t.profileKey(u.Username), Item: it}},
		{Put: &store.Put{Key: d.t.emailKey(u.Email), Item: store.Item{"username": store.S(u.Username)},
			Cond: store.Or(store.ItemNotExists(), store.Eq("username", store.S(u.Username)))}},
	}); err != nil {
		return fmt.Errorf("upsert user %s: %w", u.Username, CreateError(err))
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
