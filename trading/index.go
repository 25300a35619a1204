package trading

import (
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// Trigger directions: the partition suffix of the trigger index.
const (
	dirLE = "LE" // fires when the price falls to the level or below (limit buy, stop loss, trailing stop)
	dirGE = "GE" // fires when the price rises to the level or above (limit sell, take profit)
)

func triggerPK(assetID, dir string) string { return assetID + "#" + dir }

// triggerLevel returns the price at which a queued order fires and the
// direction of the crossing.
func triggerLevel(o *entity.Order) (decimal.Decimal, string, bool) {
	switch o.OrderType {
	case entity.LimitBuy:
		if o.LimitPrice != nil {
			return *o.LimitPrice, dirLE, true
		}
	case entity.StopLoss:
		if o.StopPrice != nil {
			return *o.StopPrice, dirLE, true
		}
	case entity.TrailingStop:
		if d, ok := o.TrailDistance(); ok {
			return decimal.Max(o.HighWaterMark.Sub(d), decimal.Zero), dirLE, true
		}
	case entity.LimitSell, entity.TakeProfit:
		if o.LimitPrice != nil {
			return *o.LimitPrice, dirGE, true
		}
	}
	return decimal.Zero, "", false
}

// indexKeys places a queued order in the trigger index (by level), a
// trailing stop also in the high-water-mark index, and an order that
// expires in the expiry index (by day, then time).
func indexKeys(o *entity.Order) dao.OrderIndexKeys {
	var k dao.OrderIndexKeys
	if o.Status != entity.StatusQueued {
		return k
	}
	if level, dir, ok := triggerLevel(o); ok {
		k.TriggerPK, k.TriggerSK = triggerPK(o.AssetID, dir), dao.SortablePrice(level)+"#"+o.OrderID
	}
	if o.OrderType == entity.TrailingStop && o.HighWaterMark != nil {
		k.TrailPK, k.TrailSK = o.AssetID, dao.SortablePrice(*o.HighWaterMark)+"#"+o.OrderID
	}
	if o.ExpiresAt != nil {
		k.ExpiryPK = "EXP#" + o.ExpiresAt.UTC().Format("2006-01-02")
		k.ExpirySK = o.ExpiresAt.String() + "#" + o.OrderID
	}
	return k
}
