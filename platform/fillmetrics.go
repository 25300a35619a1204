package platform

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/trading"
)

// fillMetrics counts, by order type, the fills that this process commits:
// their number (orderprocessor_fills_total) and their notional in USD
// before fees (orderprocessor_fill_notional_usd_total: entity.FillGrossIn
// of the executed quantity and price, at the order's rate for another
// currency). Summed over the processes that trade, they are the trades and
// notional of GET /api/v1/admin/analytics/daily and of the volume buckets.
// It sees each fill once: the completed order's event, published after its
// commit; a reversal's event is not a fill.
type fillMetrics struct {
	next     trading.Notifier
	fills    *prometheus.CounterVec
	notional *prometheus.CounterVec
}

// withFillMetrics returns next with the fills of its order events counted
// in metrics registered with reg.
func withFillMetrics(next trading.Notifier, reg prometheus.Registerer) trading.Notifier {
	m := &fillMetrics{next: next,
		fills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderprocessor_fills_total", Help: "Fills committed by this process, by order type.",
		}, []string{"order_type"}),
		notional: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderprocessor_fill_notional_usd_total", Help: "USD notional (before fees) of the fills committed by this process, by order type.",
		}, []string{"order_type"}),
	}
	reg.MustRegister(m.fills, m.notional)
	return m
}

// Publish counts e when it is a fill, then passes it on.
func (m *fillMetrics) Publish(e trading.Event) {
	if o := e.Order; e.Kind == trading.EventOrder && o.Status == entity.StatusCompleted && o.ExecutedPrice != nil && !o.Reversed() {
		n := entity.FillGrossIn(o.Currency, o.ExecutedQuantity, *o.ExecutedPrice, o.Side() == entity.Buy)
		if o.FXRate != nil {
			n = n.Mul(*o.FXRate)
		}
		m.fills.WithLabelValues(string(o.OrderType)).Inc()
		m.notional.WithLabelValues(string(o.OrderType)).Add(n.Float64())
	}
	m.next.Publish(e)
}
