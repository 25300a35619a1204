package modeltest

import (
	"fmt"
	"strings"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// An input is one configuration byte (the fee rate) followed by operations of
// opBytes bytes each: kind, selector (user = sel % 3, asset = sel / 3 % 2),
// then four argument bytes that index small tables, so amounts, quantities
// and prices stay in sane ranges with varied decimals (and a few invalid
// values). At most maxOps operations are read; a trailing partial one is
// ignored.

type opKind uint8

const (
	opDeposit opKind = iota
	opWithdraw
	opMarketBuy
	opMarketSell
	opLimitBuy
	opLimitSell
	opStopLoss
	opTakeProfit
	opTrailing
	opCancel
	opTick
	opExpire
	opWait
	numOps
)

var opNames = [numOps]string{"deposit", "withdraw", "market_buy", "market_sell", "limit_buy", "limit_sell",
	"stop_loss", "take_profit", "trailing_stop", "cancel", "tick", "expire", "wait"}

func (k opKind) String() string { return opNames[k] }

// orderTypes maps the placement ops to order types.
var orderTypes = map[opKind]entity.OrderType{
	opMarketBuy: entity.MarketBuy, opMarketSell: entity.MarketSell, opLimitBuy: entity.LimitBuy,
	opLimitSell: entity.LimitSell, opStopLoss: entity.StopLoss, opTakeProfit: entity.TakeProfit,
	opTrailing: entity.TrailingStop,
}

const (
	opBytes = 6
	maxOps  = 40
)

func decs(ss ...string) []decimal.Decimal {
	out := make([]decimal.Decimal, len(ss))
	for i, s := range ss {
		out[i] = decimal.MustParse(s)
	}
	return out
}

var (
	feeRates = decs("0", "0", "0.001", "0.0025")
	// cashAmounts: deposits and withdrawals; the last entries are invalid
	// (too many places, zero, above the maximum) or above the daily limits.
	cashAmounts = decs("0.01", "1", "10", "25.5", "100", "123.45", "500", "1000", "2500", "4999.99", "5000",
		"5000.01", "9999.99", "10000", "750", "10000.01", "0.001", "0", "1000000.01")
	// quantities; 0.0005 (below the minimum) and 0.123456789 (9 places) are invalid.
	quantities = decs("0.001", "0.01", "0.1", "0.5", "1", "2", "3", "0.12345678", "10", "0.333", "25",
		"0.00100001", "1.5", "100", "0.25", "4", "0.05", "7.5", "1", "2", "0.2", "5", "0.0005", "0.123456789")
	// prices per asset: absolute levels around the starting price.
	prices = [nAssets][]decimal.Decimal{
		decs("80", "90", "95", "99", "99.99", "100", "100.01", "100.005", "101.5", "105", "110", "120", "150",
			"95.12345678", "50", "1"),
		decs("0.5", "0.4", "0.6", "0.45", "0.55", "0.49999999", "0.01", "0.00012345", "1", "2", "0.333",
			"0.5001", "0.3", "0.7", "0.05", "0.001"),
	}
	// priceFactors move a price relative to the current one (rounded to 8
	// places); 0 gives an invalid limit. The last two entries are absolute
	// steps of one unit in the 8th place.
	priceFactors = decs("0.8", "0.9", "0.95", "0.99", "0.9999", "1", "1.0001", "1.01", "1.05", "1.1", "1.2",
		"1.5", "0.5", "0", "-0.00000001", "0.00000001")
	// trailPercents; 100 and 0.00001 (5 places) are invalid.
	trailPercents = decs("1", "5", "10", "12.5", "0.0001", "50", "99.9999", "2.5", "20", "3", "100", "0.00001")
	trailAmounts  = [nAssets][]decimal.Decimal{
		decs("0.01", "1", "5", "10", "0.5", "0.00000001", "20", "2"),
		decs("0.01", "0.05", "0.1", "0.00000001", "0.2", "0.001", "0.5", "0.02"),
	}
	tifs        = []entity.TimeInForce{entity.GTC, entity.GTC, entity.Day, entity.GTD, entity.IOC, entity.FOK, entity.GTC, entity.GTD}
	gtdHorizons = []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 25 * time.Hour, 49 * time.Hour,
		91 * 24 * time.Hour, 0} // the last two are invalid
	advances = []time.Duration{0, time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 25 * time.Hour}
)

func pick[T any](table []T, b byte) T { return table[int(b)%len(table)] }

// step is one decoded operation, in terms of the model's indexes.
type step struct {
	kind    opKind
	user    int
	amount  decimal.Decimal // deposit, withdraw
	order   orderReq        // placements
	target  int             // cancel: model order index, -1 for an id naming no order
	asset   int             // tick
	price   decimal.Decimal // tick
	advance time.Duration   // expire
}

func optStr(name string, d *decimal.Decimal) string {
	if d == nil {
		return ""
	}
	return " " + name + "=" + d.String()
}

func (s step) String() string {
	u := usernames[s.user]
	switch s.kind {
	case opDeposit, opWithdraw:
		return fmt.Sprintf("%s %s %s", u, s.kind, s.amount)
	case opCancel:
		return fmt.Sprintf("%s cancel #%d", u, s.target)
	case opTick:
		return fmt.Sprintf("tick %s %s", assetIDs[s.asset], s.price)
	case opExpire:
		return fmt.Sprintf("expire +%s", s.advance)
	case opWait:
		return fmt.Sprintf("wait +%s (no expiry sweep)", s.advance)
	}
	r := s.order
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s", u, r.typ, r.qty, assetIDs[r.asset])
	b.WriteString(optStr("limit", r.limit) + optStr("stop", r.stop) + optStr("trail%", r.trailPct) + optStr("trail", r.trailAmt))
	fmt.Fprintf(&b, " %s", r.tif)
	if r.expiresAt != nil {
		fmt.Fprintf(&b, " until %s", r.expiresAt.Format(time.RFC3339))
	}
	if r.hasOCO {
		fmt.Fprintf(&b, " oco=#%d", r.oco)
	}
	return b.String()
}

// relative returns the price f × p (rounded to 8 places), or p ± 1E-8 for
// the last two factors.
func relative(p decimal.Decimal, b byte) decimal.Decimal {
	i := int(b) % len(priceFactors)
	if i >= len(priceFactors)-2 {
		return p.Add(priceFactors[i])
	}
	return p.Mul(priceFactors[i]).Round(8, decimal.HalfEven)
}

// levelFor decodes a limit or stop level for asset a.
func (m *model) levelFor(a int, b byte) *decimal.Decimal {
	var p decimal.Decimal
	if b < 128 {
		p = pick(prices[a], b)
	} else {
		p = relative(m.prices[a], b)
	}
	return &p
}

// decode turns one operation's bytes into a step against the model's
// current state (order references and relative prices need it).
func (m *model) decode(b []byte) step {
	s := step{kind: opKind(b[0] % byte(numOps)), user: int(b[1]) % nUsers, target: -1}
	asset := int(b[1]) / nUsers % nAssets
	switch s.kind {
	case opDeposit, opWithdraw:
		s.amount = pick(cashAmounts, b[2])
	case opCancel:
		s.target = m.reference(s.user, b[2], b[3])
	case opTick:
		s.asset = asset
		s.price = pick(prices[asset], b[2])
		if b[2] >= 128 {
			if p := relative(m.prices[asset], b[3]); p.IsPositive() {
				s.price = p
			}
		}
	case opExpire, opWait:
		s.advance = pick(advances, b[2])
	default:
		s.order = m.decodeOrder(s.user, asset, orderTypes[s.kind], b[2:])
	}
	return s
}

// reference picks an order for a cancel: selector b3 % 8 == 7 names another
// user's order, an even b3 prefers the user's open orders; -1 when there is
// none to name.
func (m *model) reference(u int, b2, b3 byte) int {
	if b3%8 == 7 {
		u = (u + 1 + int(b3/8)%2) % nUsers
	}
	refs := m.users[u].orders
	if b3%2 == 0 {
		var open []int
		for _, i := range refs {
			if m.orders[i].open() {
				open = append(open, i)
			}
		}
		if len(open) > 0 {
			refs = open
		}
	}
	if len(refs) == 0 {
		return -1
	}
	return pick(refs, b2)
}

// decodeOrder decodes a placement from b = [quantity, level, time in force, oco].
func (m *model) decodeOrder(u, asset int, typ entity.OrderType, b []byte) orderReq {
	r := orderReq{typ: typ, asset: asset, oco: -1}
	r.qty = pick(quantities, b[0])
	sell := typ != entity.MarketBuy && typ != entity.LimitBuy
	if h := m.users[u].holdings[asset]; sell && b[0] >= 128 {
		// Half of what is available, all of it, or the whole position.
		q := h.available()
		switch {
		case b[0] < 192:
			if half, err := q.Quo(decimal.FromInt(2), 8, decimal.Down); err == nil && !half.LessThan(minQuantity) {
				q = half
			}
		case b[0] >= 240:
			q = h.qty
		}
		if q.IsPositive() {
			r.qty = q
		}
	}
	switch typ {
	case entity.LimitBuy, entity.LimitSell, entity.TakeProfit:
		r.limit = m.levelFor(asset, b[1])
	case entity.StopLoss:
		r.stop = m.levelFor(asset, b[1])
	case entity.TrailingStop:
		if b[1] < 128 {
			p := pick(trailPercents, b[1])
			r.trailPct = &p
		} else {
			p := pick(trailAmounts[asset], b[1])
			r.trailAmt = &p
		}
	}
	r.tif = pick(tifs, b[2])
	if r.tif == entity.GTD {
		t := m.now.Add(pick(gtdHorizons, b[2]/8))
		r.expiresAt = &t
	}
	// oco selector (b % 32): 1, 5, 9, 13 or 17 links to an open unlinked sell order
	// of the user (with its asset and quantity), 2 to any order of the user
	// as decoded, 3 to another user's order, 4 to an id that names no order;
	// else none; b / 32 picks the order. Buy and market orders carry one only
	// when b >= 224 (always invalid).
	mode := b[3] % 32
	if mode%4 == 1 && mode <= 17 {
		mode = 1
	}
	if mode == 0 || mode > 4 || (!sell || typ == entity.MarketSell) && b[3] < 224 {
		return r
	}
	r.hasOCO = true
	switch mode {
	case 1:
		var cands []int
		for _, i := range m.users[u].orders {
			if o := m.orders[i]; o.open() && o.sell() && o.oco < 0 {
				cands = append(cands, i)
			}
		}
		if len(cands) > 0 {
			r.oco = pick(cands, b[3]/32)
			r.asset, r.qty = m.orders[r.oco].asset, m.orders[r.oco].qty
			if r.limit != nil || r.stop != nil || r.trailAmt != nil {
				// Re-decode the level for the partner's asset.
				switch {
				case r.limit != nil:
					r.limit = m.levelFor(r.asset, b[1])
				case r.stop != nil:
					r.stop = m.levelFor(r.asset, b[1])
				default:
					p := pick(trailAmounts[r.asset], b[1])
					r.trailAmt = &p
				}
			}
			return r
		}
		fallthrough
	case 2:
		if refs := m.users[u].orders; len(refs) > 0 {
			r.oco = pick(refs, b[3]/32)
		}
	case 3:
		r.oco = m.reference(u, b[3]/32, 7)
	}
	return r
}
