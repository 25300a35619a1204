package user

import (
	"net/http"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
)

// Route paths of the account administration.
const (
	PathDeactivateUser = "/api/v1/admin/users/{username}/deactivate"
	PathActivateUser   = "/api/v1/admin/users/{username}/activate"
)

// UserPath documents the {username} wildcard.
type UserPath struct {
	Username usernameParam `path:"username" pattern:"^[A-Za-z0-9_]{5,30}$" doc:"username, case-insensitive"`
}

// usernameParam is a {username} path parameter, normalised
// (entity.NormalizeUsername): a valid username or "admin".
type usernameParam string

// UnmarshalText normalises and checks a username.
func (u *usernameParam) UnmarshalText(b []byte) error {
	name := entity.NormalizeUsername(string(b))
	if name != entity.AdminUsername && !entity.ValidUsername(name) {
		return &apperr.Error{Kind: apperr.Invalid, Message: "username: not a valid username",
			Fields: []apperr.FieldError{{Msg: "must be 6-30 characters of letters, digits and _", Type: entity.TypeValue}}}
	}
	*u = usernameParam(name)
	return nil
}

// AccountStatusResponse is the body of the account administration routes.
type AccountStatusResponse struct {
	Username string `json:"username"`
	IsActive bool   `json:"is_active"`
	// TokensValidAfter is when the user's tokens start to count (null: all
	// count): tokens issued before it are refused.
	TokensValidAfter *entity.Time `json:"tokens_valid_after"`
	UpdatedAt        entity.Time  `json:"updated_at"`
}

func (s *Service) registerAdmin(api *httpapi.API) {
	adm := []string{"admin"}
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: PathDeactivateUser, OperationID: "deactivateUser",
		Summary: "Deactivate a user (admin)", Tags: adm, Auth: httpapi.AuthAdmin,
		Description: "The user can no longer log in (403), and every token issued to them so far is refused " +
			"(401 `account deactivated`): at once by the process that handles this request, within the " +
			"account cache's TTL (`--account-cache-ttl`, 2 s by default) by the others. " +
			"Deactivating a deactivated user changes nothing. An admin cannot deactivate themself (409).",
		Errors: []int{http.StatusNotFound, http.StatusConflict}}, handlerkit.WithCaller(s.activeHandler(false)))
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: PathActivateUser, OperationID: "activateUser",
		Summary: "Reactivate a user (admin)", Tags: adm, Auth: httpapi.AuthAdmin,
		Description: "The user can log in again. Tokens issued before the deactivation stay refused.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict}}, handlerkit.WithCaller(s.activeHandler(true)))
}

func (s *Service) activeHandler(active bool) func(*http.Request, auth.Principal, *UserPath) (AccountStatusResponse, error) {
	return func(r *http.Request, p auth.Principal, in *UserPath) (AccountStatusResponse, error) {
		name := string(in.Username)
		if !active && name == p.Username {
			return AccountStatusResponse{}, apperr.New(apperr.Conflict, "an admin cannot deactivate their own account")
		}
		u, err := s.accounts.SetActive(r.Context(), name, active)
		if err != nil {
			return AccountStatusResponse{}, err
		}
		s.log.InfoContext(r.Context(), "user: account activation set", "user", p.Username,
			"request_id", r.Header.Get(httpapi.RequestIDHeader), "target", name, "is_active", active)
		resp := AccountStatusResponse{Username: u.Username, IsActive: u.IsActive, UpdatedAt: u.UpdatedAt}
		if !u.TokensValidAfter.IsZero() {
			t := entity.At(u.TokensValidAfter)
			resp.TokensValidAfter = &t
		}
		return resp, nil
	}
}
