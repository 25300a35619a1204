package user

import (
	"net/http"

	"github.com/orderprocessor/orderprocessor/apperr"
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
	Username string `path:"username" pattern:"^[A-Za-z0-9_]{5,30}$" doc:"username, case-insensitive"`
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
	api.Handle(httpapi.Op{Method: "POST", Path: PathDeactivateUser, OperationID: "deactivateUser",
		Summary: "Deactivate a user (admin)", Tags: adm, Auth: httpapi.AuthAdmin,
		Description: "The user can no longer log in (403), and every token issued to them so far is refused " +
			"(401 `account deactivated`): at once by the process that handles this request, within the " +
			"account cache's TTL (`--account-cache-ttl`, 2 s by default) by the others. " +
			"Deactivating a deactivated user changes nothing. An admin cannot deactivate themself (409).",
		PathParams: UserPath{}, Response: AccountStatusResponse{},
		Errors: []int{http.StatusNotFound, http.StatusConflict}}, s.activeHandler(false))
	api.Handle(httpapi.Op{Method: "POST", Path: PathActivateUser, OperationID: "activateUser",
		Summary: "Reactivate a user (admin)", Tags: adm, Auth: httpapi.AuthAdmin,
		Description: "The user can log in again. Tokens issued before the deactivation stay refused.",
		PathParams:  UserPath{}, Response: AccountStatusResponse{},
		Errors: []int{http.StatusNotFound, http.StatusConflict}}, s.activeHandler(true))
}

// pathUsername returns the normalised {username} of r, or an Invalid error
// at ["path", "username"].
func pathUsername(r *http.Request) (string, error) {
	name := entity.NormalizeUsername(r.PathValue("username"))
	if name != entity.AdminUsername && !entity.ValidUsername(name) {
		return "", &apperr.Error{Kind: apperr.Invalid, Message: "username: not a valid username",
			Fields: []apperr.FieldError{{Loc: []string{"path", "username"},
				Msg: "must be 6-30 characters of letters, digits and _", Type: entity.TypeValue}}}
	}
	return name, nil
}

func (s *Service) activeHandler(active bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := handlerkit.CallerOrError(w, r)
		if !ok {
			return
		}
		name, err := pathUsername(r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		if !active && name == p.Username {
			httpapi.WriteError(w, r, apperr.New(apperr.Conflict, "an admin cannot deactivate their own account"))
			return
		}
		u, err := s.accounts.SetActive(r.Context(), name, active)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		s.log.InfoContext(r.Context(), "user: account activation set", "user", p.Username,
			"request_id", r.Header.Get(httpapi.RequestIDHeader), "target", name, "is_active", active)
		resp := AccountStatusResponse{Username: u.Username, IsActive: u.IsActive, UpdatedAt: u.UpdatedAt}
		if !u.TokensValidAfter.IsZero() {
			t := entity.At(u.TokensValidAfter)
			resp.TokensValidAfter = &t
		}
		httpapi.WriteJSON(w, http.StatusOK, resp)
	}
}
