// Package order is the order service: placing, listing, reading and
// cancelling orders, and the caller's asset movements.
package order

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
	"github.com/orderprocessor/orderprocessor/trading"
)

// Trading is what the order service needs of the trading layer
// (*trading.Service): the order flows and the reads of the caller's orders
// and asset movements.
type Trading interface {
	Now() time.Time
	Idem(username, scope string, req *trading.IdemRequest) *trading.Idem
	PlaceOrder(ctx context.Context, username string, req entity.OrderCreate, reqHash string, idem *trading.Idem) (*trading.Placed, *trading.Replay, error)
	PlaceBatch(ctx context.Context, username string, orders []trading.BatchOrder) ([]trading.BatchResult, error)
	CancelOrder(ctx context.Context, o *entity.Order) (*entity.Order, error)
	AmendOrder(ctx context.Context, username, orderID string, u entity.OrderUpdate, idem *trading.Idem) (*entity.Order, *trading.Replay, error)
	ReverseOrder(ctx context.Context, admin, orderID string, req entity.ReversalRequest, idem *trading.Idem) (*trading.Reversal, *trading.Replay, error)
	Order(ctx context.Context, username, orderID string) (*entity.Order, error)
	Orders(ctx context.Context, username string, f dao.OrderFilter) ([]*entity.Order, string, error)
	AssetMovements(ctx context.Context, username, assetID string, limit int, cursor string) ([]*entity.AssetTransaction, string, error)
}

var _ Trading = (*trading.Service)(nil)

// Service serves the order routes.
type Service struct {
	trade  Trading
	orders *prometheus.CounterVec
}

// Options are a Service's optional settings; the zero value is the defaults.
type Options struct {
	// Metrics, when set, is where the service's metrics (orders by type
	// and outcome) register.
	Metrics prometheus.Registerer
}

// New returns the order service over trade.
func New(trade Trading, opts Options) *Service {
	s := &Service{trade: trade,
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderprocessor_orders_total", Help: "Order placements by order type and outcome.",
		}, []string{"order_type", "outcome"})}
	if opts.Metrics != nil {
		opts.Metrics.MustRegister(s.orders)
	}
	return s
}

// OrderEnvelope wraps one order.
type OrderEnvelope struct {
	Data entity.OrderResponse `json:"data"`
}

// AppendJSON appends e's JSON to dst (httpapi.JSONAppender): the bytes
// encoding/json writes for e with HTML escaping off, without reflection. It
// never fails.
func (e OrderEnvelope) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"data":`...)
	dst = e.Data.AppendJSON(dst)
	return append(dst, '}'), nil
}

// OrderList is a page of orders, newest first.
type OrderList struct {
	Data       []entity.OrderResponse `json:"data"`
	HasMore    bool                   `json:"has_more"`
	NextCursor *string                `json:"next_cursor"`
}

// ListQuery pages and filters orders.
type ListQuery struct {
	Limit     int    `query:"limit" default:"50" minimum:"1" maximum:"100"`
	Offset    int    `query:"offset" default:"0" minimum:"0" maximum:"10000"`
	Cursor    string `query:"cursor" maxLength:"2048" doc:"next_cursor of the previous page"`
	Status    string `query:"status" enum:"pending,confirmed,queued,triggered,processing,completed,cancelled,failed,expired"`
	OrderType string `query:"order_type" enum:"market_buy,market_sell,limit_buy,limit_sell,stop_loss,take_profit,trailing_stop"`
	AssetID   string `query:"asset_id" maxLength:"10"`
}

// OrderPath is the path parameter of order routes.
type OrderPath struct {
	OrderID handlerkit.OrderID `path:"order_id" doc:"10-50 letters, digits, _ or -" pattern:"^[A-Za-z0-9_-]{10,50}$"`
}

// AssetPath is the path parameter of asset routes.
type AssetPath struct {
	AssetID handlerkit.AssetID `path:"asset_id" doc:"1-10 letters or digits, any case" pattern:"^[A-Za-z0-9]{1,10}$"`
}

// PageQuery pages a list.
type PageQuery struct {
	Limit  int    `query:"limit" default:"50" minimum:"1" maximum:"100"`
	Offset int    `query:"offset" default:"0" minimum:"0" maximum:"10000"`
	Cursor string `query:"cursor" maxLength:"2048"`
}

// createIn is the input of POST /api/v1/orders.
type createIn struct {
	Body entity.OrderCreate
}

// listIn is the input of GET /api/v1/orders.
type listIn struct {
	ListQuery
}

// orderIn is the input of the routes of one order.
type orderIn struct {
	OrderPath
}

// assetTransactionsIn is the input of GET /api/v1/assets/{asset_id}/transactions.
type assetTransactionsIn struct {
	AssetPath
	PageQuery
}

// AssetTransactionItem is one asset movement.
type AssetTransactionItem struct {
	AssetID         string             `json:"asset_id"`
	TransactionType entity.AssetTxType `json:"transaction_type"`
	Quantity        string             `json:"quantity"`
	Price           string             `json:"price"`
	TotalAmount     string             `json:"total_amount"`
	OrderID         string             `json:"order_id"`
	Status          string             `json:"status"`
	Timestamp       entity.Time        `json:"timestamp"`
}

// AssetTransactionList is a page of asset movements, newest first.
type AssetTransactionList struct {
	Data       []AssetTransactionItem `json:"data"`
	HasMore    bool                   `json:"has_more"`
	NextCursor *string                `json:"next_cursor"`
}

// Register declares the order service's operations on api.
func (s *Service) Register(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: "/api/v1/orders", OperationID: "createOrder",
		Summary: "Place an order", Tags: []string{"orders"}, Auth: httpapi.AuthUser,
		Description: "`currency` (default USD) is the balance the order settles against. Prices and triggers are USD, the asset's quote; an order in another currency " +
			"settles at the USD price / the stored exchange rate at execution, moved by the conversion spread against the order (`fx_rate` on the executed order), and holds a resting buy's cash in its currency. " +
			"A stale rate is 503 `fx_rate_stale`.",
		Headers:  []httpapi.Header{handlerkit.IdempotencyDoc},
		Response: OrderEnvelope{}, Status: http.StatusCreated, Errors: []int{409, 503}}, handlerkit.WithCaller(s.create),
		httpapi.OnRejected(func(*http.Request, error) { s.count("unknown", "invalid") }))
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/orders", OperationID: "listOrders",
		Summary: "The caller's orders, newest first", Tags: []string{"orders"}, Auth: httpapi.AuthUser},
		handlerkit.WithCaller(s.list))
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/orders/{order_id}", OperationID: "getOrder",
		Summary: "One of the caller's orders, with its status history", Tags: []string{"orders"}, Auth: httpapi.AuthUser,
		Description: "The ETag header is the order's version, for If-Match on PATCH.",
		Response:    OrderEnvelope{}, Errors: []int{404}}, handlerkit.WithCaller(s.get))
	httpapi.Handle(api, httpapi.Op{Method: "DELETE", Path: "/api/v1/orders/{order_id}", OperationID: "cancelOrder",
		Summary: "Cancel an open order and release its hold", Tags: []string{"orders"}, Auth: httpapi.AuthUser,
		Errors: []int{404, 409}}, handlerkit.WithCaller(s.cancel))
	httpapi.Handle(api, httpapi.Op{Method: "PUT", Path: "/api/v1/orders/{order_id}/cancel", OperationID: "cancelOrderCompat",
		Summary: "Cancel an open order (for older clients)", Tags: []string{"orders"}, Auth: httpapi.AuthUser,
		Errors: []int{404, 409}}, handlerkit.WithCaller(s.cancel))
	httpapi.Handle(api, httpapi.Op{Method: "GET", Path: "/api/v1/assets/{asset_id}/transactions", OperationID: "listAssetTransactions",
		Summary: "The caller's movements of one asset, newest first", Tags: []string{"orders"}, Auth: httpapi.AuthUser,
		Description: "A movement is the ledger entry of a fill. A page reads at most 5,000 of the caller's ledger entries, " +
			"so it can hold fewer than `limit` movements while `has_more` is true."},
		handlerkit.WithCaller(s.assetTransactions))
	s.registerBatch(api)
	s.registerAmend(api)
}

// create places an order. A replay of an earlier request with the same
// Idempotency-Key answers its stored response.
func (s *Service) create(r *http.Request, p auth.Principal, in *createIn) (*handlerkit.Result[OrderEnvelope], error) {
	req := &in.Body
	typ := string(req.OrderType)
	if !req.OrderType.Valid() {
		typ = "unknown"
	}
	if err := req.Validate(s.trade.Now()); err != nil {
		s.count(typ, "invalid")
		return nil, err
	}
	idem, err := handlerkit.Idempotency(r, *req, http.StatusCreated,
		func(v any) any { return OrderEnvelope{Data: v.(*entity.Order).Response()} })
	if err != nil {
		return nil, err
	}
	placed, rep, err := s.trade.PlaceOrder(r.Context(), p.Username, *req, clientOrderHash(req), s.trade.Idem(p.Username, "order", idem))
	switch {
	case err != nil:
		s.count(typ, string(apperr.KindOf(err)))
		return nil, err
	case rep != nil:
		s.count(typ, "replayed")
		return handlerkit.Replayed[OrderEnvelope](rep), nil
	}
	outcome := "placed"
	if placed.Existing {
		outcome = "replayed"
	}
	s.count(typ, outcome)
	return &handlerkit.Result[OrderEnvelope]{Body: OrderEnvelope{Data: placed.Order.Response()}}, nil
}

func (s *Service) count(typ, outcome string) { s.orders.WithLabelValues(typ, outcome).Inc() }

func (s *Service) list(r *http.Request, p auth.Principal, in *listIn) (OrderList, error) {
	q := in.ListQuery
	f := dao.OrderFilter{Status: entity.OrderStatus(q.Status), OrderType: entity.OrderType(q.OrderType)}
	if q.AssetID != "" {
		id, err := entity.ValidateAssetID(q.AssetID, "query", "asset_id")
		if err != nil {
			return OrderList{}, err
		}
		f.AssetID = id
	}
	pg, err := page.Read(page.Request{Offset: q.Offset, Limit: q.Limit, Cursor: q.Cursor},
		func(limit int, cursor string) ([]*entity.Order, string, error) {
			f.Limit, f.Cursor = limit, cursor
			return s.trade.Orders(r.Context(), p.Username, f)
		})
	if err != nil {
		return OrderList{}, err
	}
	out := OrderList{Data: make([]entity.OrderResponse, 0, len(pg.Items)), HasMore: pg.HasMore, NextCursor: pg.NextCursor()}
	for _, o := range pg.Items {
		out.Data = append(out.Data, o.Response())
	}
	return out, nil
}

// get answers one order with its version as ETag (for If-Match on PATCH).
func (s *Service) get(r *http.Request, p auth.Principal, in *orderIn) (*versionedOrder, error) {
	o, err := s.trade.Order(r.Context(), p.Username, string(in.OrderID))
	if err != nil {
		return nil, err
	}
	return &versionedOrder{env: OrderEnvelope{Data: o.Response()}, version: o.Version}, nil
}

func (s *Service) cancel(r *http.Request, p auth.Principal, in *orderIn) (OrderEnvelope, error) {
	o, err := s.trade.Order(r.Context(), p.Username, string(in.OrderID))
	if err != nil {
		return OrderEnvelope{}, err
	}
	c, err := s.trade.CancelOrder(r.Context(), o)
	if err != nil {
		return OrderEnvelope{}, err
	}
	return OrderEnvelope{Data: c.Response()}, nil
}

func (s *Service) assetTransactions(r *http.Request, p auth.Principal, in *assetTransactionsIn) (AssetTransactionList, error) {
	id := string(in.AssetID)
	pg, err := page.Read(page.Request{Offset: in.Offset, Limit: in.Limit, Cursor: in.Cursor},
		func(limit int, cursor string) ([]*entity.AssetTransaction, string, error) {
			return s.trade.AssetMovements(r.Context(), p.Username, id, limit, cursor)
		})
	if err != nil {
		return AssetTransactionList{}, err
	}
	out := AssetTransactionList{Data: make([]AssetTransactionItem, 0, len(pg.Items)), HasMore: pg.HasMore, NextCursor: pg.NextCursor()}
	for _, t := range pg.Items {
		out.Data = append(out.Data, AssetTransactionItem{AssetID: t.AssetID, TransactionType: t.TransactionType,
			Quantity: t.Quantity.String(), Price: entity.FormatPrice(t.Price), TotalAmount: entity.USD.Format(t.TotalAmount),
			OrderID: t.OrderID, Status: string(t.Status), Timestamp: t.Timestamp})
	}
	return out, nil
}
