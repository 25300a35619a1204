package inventory

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
)

// Route paths of the service.
const (
	PathAssets      = "/api/v1/inventory/assets"
	PathAsset       = "/api/v1/inventory/assets/{asset_id}"
	PathAdminAssets = "/api/v1/admin/assets"
	PathAdminAsset  = "/api/v1/admin/assets/{asset_id}"
	PathAdminPrice  = "/api/v1/admin/assets/{asset_id}/price"
	PathActivate    = "/api/v1/admin/assets/{asset_id}/activate"
	PathDeactivate  = "/api/v1/admin/assets/{asset_id}/deactivate"
)

// List page sizes.
const (
	DefaultListLimit = 50
	MaxListLimit     = 250
)

// ListQuery is the query of GET /api/v1/inventory/assets.
type ListQuery struct {
	ActiveOnly bool   `query:"active_only" default:"true" doc:"only assets that can be traded"`
	Limit      int    `query:"limit" default:"50" minimum:"1" maximum:"250" doc:"page size"`
	Cursor     string `query:"cursor" maxLength:"2048" doc:"next_cursor of the previous page"`
	Category   string `query:"category" maxLength:"50" doc:"only this category (case-insensitive), e.g. layer-1"`
}

// AssetPath documents the {asset_id} wildcard.
type AssetPath struct {
	AssetID handlerkit.AssetID `path:"asset_id" pattern:"^[A-Za-z0-9]{1,10}$" doc:"asset id, 1-10 letters or digits, case-insensitive"`
}

// Inputs of the catalogue routes.
type (
	listIn   struct{ ListQuery }
	createIn struct{ Body entity.AssetCreate }
	updateIn struct {
		AssetPath
		Body entity.AssetUpdate
	}
	setPriceIn struct {
		AssetPath
		Body entity.PriceUpdate
	}
)

// AssetResponse is the body of the single-asset routes: {"data": {...}}.
type AssetResponse struct {
	Data entity.AssetDetail `json:"data"`
}

// Register declares the service's operations on api: the public catalogue
// reads under /api/v1/inventory and the admin writes under /api/v1/admin.
// Handlers trust the gateway to enforce each Op's Auth.
func (s *Service) Register(api *httpapi.API) {
	pub, adm := []string{"inventory"}, []string{"admin"}
	httpapi.Handle(api, httpapi.Op{
		Method: http.MethodGet, Path: PathAssets, OperationID: "listAssets",
		Summary:     "List the asset catalogue",
		Description: "Assets ordered by market-cap rank (unranked last, then by id). `total_count` and `active_count` count the whole catalogue, or the category when filtered.",
		Tags:        pub, Auth: httpapi.AuthNone,
	}, s.handleList)
	httpapi.Handle(api, httpapi.Op{
		Method: http.MethodGet, Path: PathAsset, OperationID: "getAsset",
		Summary: "Get one asset with its market data",
		Tags:    pub, Auth: httpapi.AuthNone,
		Errors: []int{http.StatusNotFound},
	}, s.handleGet)
	s.registerHistory(api)
	s.registerFX(api)
	httpapi.Handle(api, httpapi.Op{
		Method: http.MethodPost, Path: PathAdminAssets, OperationID: "createAsset",
		Summary: "Create an asset (admin)",
		Tags:    adm, Auth: httpapi.AuthAdmin,
		Status: http.StatusCreated, Errors: []int{http.StatusConflict},
	}, s.handleCreate)
	httpapi.Handle(api, httpapi.Op{
		Method: http.MethodPut, Path: PathAdminAsset, OperationID: "updateAsset",
		Summary:     "Update an asset (admin)",
		Description: "Changes the fields present in the body; `is_active` activates or deactivates the asset (a deactivation cancels its resting orders, as POST .../deactivate does); a changed `price_usd` fires the price triggers.",
		Tags:        adm, Auth: httpapi.AuthAdmin,
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, s.handleUpdate)
	httpapi.Handle(api, httpapi.Op{
		Method: http.MethodPut, Path: PathAdminPrice, OperationID: "setAssetPrice",
		Summary:     "Set an asset's price now (admin)",
		Description: "Stores the price and fires the price triggers (limit and protective orders).",
		Tags:        adm, Auth: httpapi.AuthAdmin,
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, s.handleSetPrice)
	httpapi.Handle(api, httpapi.Op{
		Method: http.MethodPost, Path: PathActivate, OperationID: "activateAsset",
		Summary: "Activate an asset (admin)",
		Tags:    adm, Auth: httpapi.AuthAdmin,
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, s.activeHandler(true))
	httpapi.Handle(api, httpapi.Op{
		Method: http.MethodPost, Path: PathDeactivate, OperationID: "deactivateAsset",
		Summary:     "Deactivate an asset (admin)",
		Description: "Stores the asset as inactive (new orders of it are refused), then cancels each of its resting orders and releases its hold before answering; a cancelled order's last status change has the reason `asset {asset_id} is not active`.",
		Tags:        adm, Auth: httpapi.AuthAdmin,
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, s.activeHandler(false))
}

func (s *Service) handleList(r *http.Request, in *listIn) (*entity.AssetListResponse, error) {
	return s.List(r.Context(), in.ListQuery)
}

// List returns one page of the catalogue (GET /api/v1/inventory/assets).
// q.Limit is clamped to 1..MaxListLimit. A cursor not made by this query is
// an Invalid error with loc ["query", "cursor"].
func (s *Service) List(ctx context.Context, q ListQuery) (*entity.AssetListResponse, error) {
	category := strings.ToLower(strings.TrimSpace(q.Category))
	limit := min(max(q.Limit, 1), MaxListLimit)
	assets, next, err := s.assets.List(ctx, dao.AssetFilter{
		ActiveOnly: q.ActiveOnly, Category: category, Limit: limit, Cursor: q.Cursor,
	})
	if err != nil {
		if errors.Is(err, page.ErrInvalidCursor) {
			return nil, &apperr.Error{Kind: apperr.Invalid, Message: "invalid cursor", Err: err,
				Fields: []apperr.FieldError{{Loc: []string{"query", "cursor"}, Msg: "Invalid cursor: use the next_cursor of the previous page of the same query", Type: "value_error"}}}
		}
		return nil, err
	}
	// The catalogue is small: count it whole, and use the same read to
	// tell whether anything matching follows the page (an engine may hand
	// out a cursor after a page that happened to end exactly at the end).
	all, err := s.assets.All(ctx)
	if err != nil {
		return nil, err
	}
	resp := &entity.AssetListResponse{Data: make([]entity.AssetListItem, 0, len(assets))}
	for _, a := range assets {
		resp.Data = append(resp.Data, a.WithMarket24h(s.now()).ListItem())
	}
	lastAt := -1
	more := false
	for i, a := range all {
		if category != "" && a.Category != category {
			continue
		}
		resp.TotalCount++
		if a.IsActive {
			resp.ActiveCount++
		}
		if len(assets) > 0 && a.AssetID == assets[len(assets)-1].AssetID {
			lastAt = i
		} else if lastAt >= 0 && (a.IsActive || !q.ActiveOnly) {
			more = true
		}
	}
	if next != "" && (lastAt < 0 || more) {
		resp.NextCursor = &next
	}
	return resp, nil
}

// assetResponse answers a with its 24-hour market data at the service's now.
func (s *Service) assetResponse(a *entity.Asset) AssetResponse {
	return AssetResponse{Data: a.WithMarket24h(s.now()).Detail()}
}

func (s *Service) handleGet(r *http.Request, in *AssetPath) (AssetResponse, error) {
	a, err := s.assets.Get(r.Context(), string(in.AssetID))
	if err != nil {
		return AssetResponse{}, err
	}
	return s.assetResponse(a), nil
}

func (s *Service) handleCreate(r *http.Request, in *createIn) (AssetResponse, error) {
	req := in.Body
	if err := req.Validate(); err != nil {
		return AssetResponse{}, err
	}
	a := req.Asset(entity.At(s.now()))
	if err := s.assets.Create(r.Context(), a); err != nil {
		if errors.Is(err, dao.ErrAssetExists) {
			err = apperr.Wrap(apperr.Conflict, err, "asset %s already exists", a.AssetID)
		}
		return AssetResponse{}, err
	}
	s.audit(r, "inventory: asset created", "asset_id", a.AssetID, "price_usd", a.PriceUSD.String(), "is_active", a.IsActive)
	return s.assetResponse(a), nil
}

func (s *Service) handleUpdate(r *http.Request, in *updateIn) (AssetResponse, error) {
	id, req := string(in.AssetID), in.Body
	if err := req.Validate(); err != nil {
		return AssetResponse{}, err
	}
	now := s.now()
	var old decimal.Decimal
	var priceChanged bool
	a, err := s.assets.Modify(r.Context(), id, now, func(a *entity.Asset) error {
		old = a.PriceUSD
		priceChanged = req.Apply(a, entity.At(now))
		return nil
	})
	if err != nil {
		return AssetResponse{}, err
	}
	s.audit(r, "inventory: asset updated", "asset_id", id, "price_changed", priceChanged, "is_active", a.IsActive)
	if req.IsActive != nil && !a.IsActive {
		n := s.fireDeactivated(r.Context(), id)
		s.audit(r, "inventory: resting orders of the inactive asset cancelled", "asset_id", id, "cancelled", n)
	}
	if priceChanged {
		s.firePriceChange(r.Context(), id, old, a.PriceUSD)
	}
	return s.assetResponse(a), nil
}

func (s *Service) handleSetPrice(r *http.Request, in *setPriceIn) (AssetResponse, error) {
	id, req := string(in.AssetID), in.Body
	if err := req.Validate(); err != nil {
		return AssetResponse{}, err
	}
	a, err := s.setPrice(r.Context(), id, *req.PriceUSD)
	if err != nil {
		return AssetResponse{}, err
	}
	s.audit(r, "inventory: price set", "asset_id", id, "price_usd", a.PriceUSD.String())
	return s.assetResponse(a), nil
}

func (s *Service) activeHandler(active bool) func(*http.Request, *AssetPath) (AssetResponse, error) {
	return func(r *http.Request, in *AssetPath) (AssetResponse, error) {
		id := string(in.AssetID)
		a, err := s.assets.SetActive(r.Context(), id, active, s.now())
		if err != nil {
			return AssetResponse{}, err
		}
		s.audit(r, "inventory: asset activation set", "asset_id", id, "is_active", active)
		if !active {
			n := s.fireDeactivated(r.Context(), id)
			s.audit(r, "inventory: resting orders of the inactive asset cancelled", "asset_id", id, "cancelled", n)
		}
		return s.assetResponse(a), nil
	}
}

// audit logs an admin change with the acting user.
func (s *Service) audit(r *http.Request, msg string, args ...any) {
	user := ""
	if p, ok := auth.PrincipalFrom(r.Context()); ok {
		user = p.Username
	}
	s.log.InfoContext(r.Context(), msg, append([]any{"user", user, "request_id", r.Header.Get(httpapi.RequestIDHeader)}, args...)...)
}
