package inventory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/orderprocessor/orderprocessor/catalog"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// Seed creates every asset of catalog.Assets that is not in the store yet and
// returns how many it created. On a platform's first start (an empty
// catalogue) that is the whole catalogue; afterwards it creates nothing, and
// it leaves existing assets (their prices, their active flag) untouched. A
// start interrupted half-way, or several replicas seeding at once, end with
// each asset created exactly once.
//
// Seeded assets are active, priced exactly as the seed text says, with the
// lower-case id as symbol, no image, and last_updated now. Derived market
// data: price_change_24h = price × pct / (100 + pct) (8 places),
// ath/atl_change_percentage = (price − ath) / ath × 100 (2 places); high/low
// 24h are unknown (null).
func (s *Service) Seed(ctx context.Context) (int, error) {
	existing, err := s.assets.All(ctx)
	if err != nil {
		return 0, fmt.Errorf("seed catalogue: %w", err)
	}
	have := make(map[string]bool, len(existing))
	for _, a := range existing {
		have[a.AssetID] = true
	}
	now := entity.At(s.now())
	created := 0
	for _, sd := range catalog.Assets {
		if have[strings.ToUpper(sd.ID)] {
			continue
		}
		a, err := SeedAsset(sd, now)
		if err != nil {
			return created, fmt.Errorf("seed catalogue: %w", err)
		}
		if err := s.assets.Create(ctx, a); err != nil {
			if errors.Is(err, dao.ErrAssetExists) {
				continue // another replica seeded it first
			}
			return created, fmt.Errorf("seed catalogue: %w", err)
		}
		created++
	}
	if created > 0 {
		s.log.InfoContext(ctx, "inventory: seeded catalogue", "created", created, "catalogue", len(catalog.Assets))
	}
	return created, nil
}

// SeedAsset returns the asset a catalogue seed describes, as of now, checked
// with the admin create rules (entity.AssetCreate.Validate). It fails on a
// seed whose numbers or dates do not parse or that breaks a rule.
func SeedAsset(sd catalog.Seed, now entity.Time) (*entity.Asset, error) {
	p := seedParser{id: sd.ID}
	price := p.num("price", sd.Price)
	rank := sd.Rank
	req := entity.AssetCreate{
		AssetID: sd.ID, Name: sd.Name, Description: sd.Description, Category: sd.Category,
		PriceUSD: price, Symbol: strings.ToLower(sd.ID),
		MarketData: entity.MarketData{
			MarketCapRank:            &rank,
			MarketCap:                p.num("market_cap", sd.MarketCap),
			TotalVolume24h:           p.num("volume_24h", sd.Volume24h),
			PriceChangePercentage24h: p.num("change_24h_pct", sd.Change24hPct),
			PriceChangePercentage7d:  p.num("change_7d_pct", sd.Change7dPct),
			PriceChangePercentage30d: p.num("change_30d_pct", sd.Change30dPct),
			CirculatingSupply:        p.num("circulating", sd.Circulating),
			TotalSupply:              p.num("total", sd.Total),
			MaxSupply:                p.num("max", sd.Max),
			ATH:                      p.num("ath", sd.ATH),
			ATHDate:                  p.time("ath_date", sd.ATHDate),
			ATL:                      p.num("atl", sd.ATL),
			ATLDate:                  p.time("atl_date", sd.ATLDate),
		},
	}
	if p.err != nil {
		return nil, p.err
	}
	if rank < 1 {
		req.MarketCapRank = nil
	}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("seed %s: %w", sd.ID, err)
	}
	md := &req.MarketData
	if pct := md.PriceChangePercentage24h; pct != nil && price != nil {
		md.PriceChange24h = quo(price.Mul(*pct), decimal.FromInt(100).Add(*pct), entity.PriceScale)
	}
	if price != nil {
		md.ATHChangePercentage = changePct(*price, md.ATH)
		md.ATLChangePercentage = changePct(*price, md.ATL)
	}
	return req.Asset(now), nil
}

// changePct returns (price − ref) / ref × 100 rounded to 2 places, nil when
// ref is unknown or zero.
func changePct(price decimal.Decimal, ref *decimal.Decimal) *decimal.Decimal {
	if ref == nil || ref.IsZero() {
		return nil
	}
	return quo(price.Sub(*ref).Mul(decimal.FromInt(100)), *ref, 2)
}

// quo returns n / d rounded half-even to places, nil when it cannot be computed.
func quo(n, d decimal.Decimal, places int32) *decimal.Decimal {
	q, err := n.Quo(d, places, decimal.HalfEven)
	if err != nil {
		return nil
	}
	return &q
}

// seedParser parses the text fields of one seed, keeping the first error.
type seedParser struct {
	id  string
	err error
}

func (p *seedParser) num(field, s string) *decimal.Decimal {
	if s == "" {
		return nil
	}
	d, err := decimal.Parse(s)
	if err != nil {
		if p.err == nil {
			p.err = fmt.Errorf("seed %s: %s %q: %w", p.id, field, s, err)
		}
		return nil
	}
	return &d
}

func (p *seedParser) time(field, s string) *entity.Time {
	if s == "" {
		return nil
	}
	t, err := entity.ParseTime(s)
	if err != nil {
		if p.err == nil {
			p.err = fmt.Errorf("seed %s: %s %q: %w", p.id, field, s, err)
		}
		return nil
	}
	return &t
}
