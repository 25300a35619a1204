package entity

import (
	"strings"
	"unicode/utf8"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// Asset id rules: 1-10 ASCII letters or digits, stored upper-case.
const AssetIDMaxLen = 10

// NormalizeAssetID returns s upper-cased and whether it is a valid asset id.
func NormalizeAssetID(s string) (string, bool) {
	if len(s) < 1 || len(s) > AssetIDMaxLen {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return "", false
		}
	}
	return strings.ToUpper(s), true
}

// ValidateAssetID returns the normalised asset id, or an Invalid error whose
// field error has loc (e.g. "path", "asset_id").
func ValidateAssetID(s string, loc ...string) (string, error) {
	var v Violations
	id := checkAssetID(&v, s, loc...)
	return id, v.Err()
}

func checkAssetID(v *Violations, s string, loc ...string) string {
	if s == "" {
		v.Add("field required", TypeMissing, loc...)
		return ""
	}
	id, ok := NormalizeAssetID(s)
	if !ok {
		v.Add("must be 1-10 letters or digits", TypeValue, loc...)
		return s
	}
	return id
}

// MarketData is an asset's market information; every field is optional (nil =
// unknown). It is embedded in Asset, AssetCreate and AssetUpdate, so its
// fields appear at the top level of their JSON.
type MarketData struct {
	MarketCapRank            *int             `json:"market_cap_rank,omitempty"`
	MarketCap                *decimal.Decimal `json:"market_cap,omitempty"`
	PriceChange24h           *decimal.Decimal `json:"price_change_24h,omitempty"`
	PriceChangePercentage24h *decimal.Decimal `json:"price_change_percentage_24h,omitempty"`
	PriceChangePercentage7d  *decimal.Decimal `json:"price_change_percentage_7d,omitempty"`
	PriceChangePercentage30d *decimal.Decimal `json:"price_change_percentage_30d,omitempty"`
	High24h                  *decimal.Decimal `json:"high_24h,omitempty"`
	Low24h                   *decimal.Decimal `json:"low_24h,omitempty"`
	TotalVolume24h           *decimal.Decimal `json:"total_volume_24h,omitempty"`
	CirculatingSupply        *decimal.Decimal `json:"circulating_supply,omitempty"`
	TotalSupply              *decimal.Decimal `json:"total_supply,omitempty"`
	MaxSupply                *decimal.Decimal `json:"max_supply,omitempty"`
	ATH                      *decimal.Decimal `json:"ath,omitempty"`
	ATHChangePercentage      *decimal.Decimal `json:"ath_change_percentage,omitempty"`
	ATHDate                  *Time            `json:"ath_date,omitempty"`
	ATL                      *decimal.Decimal `json:"atl,omitempty"`
	ATLChangePercentage      *decimal.Decimal `json:"atl_change_percentage,omitempty"`
	ATLDate                  *Time            `json:"atl_date,omitempty"`
}

func (m *MarketData) check(v *Violations) {
	if m.MarketCapRank != nil && *m.MarketCapRank < 1 {
		v.Body("market_cap_rank", "must be at least 1", TypeValue)
	}
	nonNegative := []struct {
		name string
		d    *decimal.Decimal
	}{
		{"market_cap", m.MarketCap}, {"high_24h", m.High24h}, {"low_24h", m.Low24h},
		{"total_volume_24h", m.TotalVolume24h}, {"circulating_supply", m.CirculatingSupply},
		{"total_supply", m.TotalSupply}, {"max_supply", m.MaxSupply}, {"ath", m.ATH}, {"atl", m.ATL},
	}
	for _, f := range nonNegative {
		if f.d != nil && f.d.IsNegative() {
			v.Body(f.name, "must not be negative", TypeValue)
		}
	}
}

// apply copies the present fields of o into m.
func (m *MarketData) apply(o *MarketData) {
	set := func(dst **decimal.Decimal, src *decimal.Decimal) {
		if src != nil {
			*dst = src
		}
	}
	if o.MarketCapRank != nil {
		m.MarketCapRank = o.MarketCapRank
	}
	set(&m.MarketCap, o.MarketCap)
	set(&m.PriceChange24h, o.PriceChange24h)
	set(&m.PriceChangePercentage24h, o.PriceChangePercentage24h)
	set(&m.PriceChangePercentage7d, o.PriceChangePercentage7d)
	set(&m.PriceChangePercentage30d, o.PriceChangePercentage30d)
	set(&m.High24h, o.High24h)
	set(&m.Low24h, o.Low24h)
	set(&m.TotalVolume24h, o.TotalVolume24h)
	set(&m.CirculatingSupply, o.CirculatingSupply)
	set(&m.TotalSupply, o.TotalSupply)
	set(&m.MaxSupply, o.MaxSupply)
	set(&m.ATH, o.ATH)
	set(&m.ATHChangePercentage, o.ATHChangePercentage)
	set(&m.ATL, o.ATL)
	set(&m.ATLChangePercentage, o.ATLChangePercentage)
	if o.ATHDate != nil {
		m.ATHDate = o.ATHDate
	}
	if o.ATLDate != nil {
		m.ATLDate = o.ATLDate
	}
}

// Asset is a tradable asset of the catalogue, priced in USD.
type Asset struct {
	AssetID     string          `json:"asset_id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Category    string          `json:"category"`
	PriceUSD    decimal.Decimal `json:"price_usd"`
	IsActive    bool            `json:"is_active"`
	Symbol      string          `json:"symbol"`
	Image       string          `json:"image"`
	MarketData
	LastUpdated Time  `json:"last_updated"`
	CreatedAt   Time  `json:"created_at"`
	UpdatedAt   Time  `json:"updated_at"`
	Version     int64 `json:"version"`
	// PriceHours are the recent hours of price changes (stored, never
	// answered: WithMarket24h derives the 24-hour market data from them).
	PriceHours PriceHours `json:"price_hours,omitzero"`
}

// Availability statuses of AssetDetail.
const (
	AvailabilityAvailable   = "available"
	AvailabilityUnavailable = "unavailable"
)

// AssetListItem is one item of GET /inventory/assets: every field present,
// null when unknown, number fields as JSON numbers.
type AssetListItem struct {
	AssetID                  string          `json:"asset_id"`
	Name                     string          `json:"name"`
	Description              *string         `json:"description"`
	Category                 *string         `json:"category"`
	PriceUSD                 decimal.Number  `json:"price_usd"`
	IsActive                 bool            `json:"is_active"`
	Symbol                   *string         `json:"symbol"`
	Image                    *string         `json:"image"`
	MarketCapRank            *int            `json:"market_cap_rank"`
	PriceChangePercentage24h *decimal.Number `json:"price_change_percentage_24h"`
	MarketCap                *decimal.Number `json:"market_cap"`
	TotalVolume24h           *decimal.Number `json:"total_volume_24h"`
}

// ListItem returns a's list shape.
func (a *Asset) ListItem() AssetListItem {
	return AssetListItem{
		AssetID: a.AssetID, Name: a.Name, Description: nonEmpty(a.Description), Category: nonEmpty(a.Category),
		PriceUSD: decimal.Num(a.PriceUSD), IsActive: a.IsActive, Symbol: nonEmpty(a.Symbol), Image: nonEmpty(a.Image),
		MarketCapRank:            a.MarketCapRank,
		PriceChangePercentage24h: decimal.NumPtr(a.PriceChangePercentage24h),
		MarketCap:                decimal.NumPtr(a.MarketCap),
		TotalVolume24h:           decimal.NumPtr(a.TotalVolume24h),
	}
}

// AssetListResponse is the body of GET /inventory/assets.
type AssetListResponse struct {
	Data        []AssetListItem `json:"data"`
	TotalCount  int             `json:"total_count"`
	ActiveCount int             `json:"active_count"`
	NextCursor  *string         `json:"next_cursor"`
}

// AssetDetail is the "data" of GET /inventory/assets/{asset_id}: every field
// present, null when unknown, number fields as JSON numbers.
type AssetDetail struct {
	AssetID                  string          `json:"asset_id"`
	Name                     string          `json:"name"`
	Description              *string         `json:"description"`
	Category                 *string         `json:"category"`
	PriceUSD                 decimal.Number  `json:"price_usd"`
	IsActive                 bool            `json:"is_active"`
	AvailabilityStatus       string          `json:"availability_status"`
	Symbol                   *string         `json:"symbol"`
	Image                    *string         `json:"image"`
	MarketCapRank            *int            `json:"market_cap_rank"`
	MarketCap                *decimal.Number `json:"market_cap"`
	PriceChange24h           *decimal.Number `json:"price_change_24h"`
	PriceChangePercentage24h *decimal.Number `json:"price_change_percentage_24h"`
	PriceChangePercentage7d  *decimal.Number `json:"price_change_percentage_7d"`
	PriceChangePercentage30d *decimal.Number `json:"price_change_percentage_30d"`
	High24h                  *decimal.Number `json:"high_24h"`
	Low24h                   *decimal.Number `json:"low_24h"`
	TotalVolume24h           *decimal.Number `json:"total_volume_24h"`
	CirculatingSupply        *decimal.Number `json:"circulating_supply"`
	TotalSupply              *decimal.Number `json:"total_supply"`
	MaxSupply                *decimal.Number `json:"max_supply"`
	ATH                      *decimal.Number `json:"ath"`
	ATHChangePercentage      *decimal.Number `json:"ath_change_percentage"`
	ATHDate                  *Time           `json:"ath_date"`
	ATL                      *decimal.Number `json:"atl"`
	ATLChangePercentage      *decimal.Number `json:"atl_change_percentage"`
	ATLDate                  *Time           `json:"atl_date"`
	LastUpdated              *Time           `json:"last_updated"`
}

// Detail returns a's detail shape.
func (a *Asset) Detail() AssetDetail {
	status := AvailabilityUnavailable
	if a.IsActive {
		status = AvailabilityAvailable
	}
	var last *Time
	if !a.LastUpdated.IsZero() {
		t := a.LastUpdated
		last = &t
	}
	n := decimal.NumPtr
	return AssetDetail{
		AssetID: a.AssetID, Name: a.Name, Description: nonEmpty(a.Description), Category: nonEmpty(a.Category),
		PriceUSD: decimal.Num(a.PriceUSD), IsActive: a.IsActive, AvailabilityStatus: status,
		Symbol: nonEmpty(a.Symbol), Image: nonEmpty(a.Image), MarketCapRank: a.MarketCapRank,
		MarketCap: n(a.MarketCap), PriceChange24h: n(a.PriceChange24h),
		PriceChangePercentage24h: n(a.PriceChangePercentage24h),
		PriceChangePercentage7d:  n(a.PriceChangePercentage7d),
		PriceChangePercentage30d: n(a.PriceChangePercentage30d),
		High24h:                  n(a.High24h), Low24h: n(a.Low24h), TotalVolume24h: n(a.TotalVolume24h),
		CirculatingSupply: n(a.CirculatingSupply), TotalSupply: n(a.TotalSupply), MaxSupply: n(a.MaxSupply),
		ATH: n(a.ATH), ATHChangePercentage: n(a.ATHChangePercentage), ATHDate: a.ATHDate,
		ATL: n(a.ATL), ATLChangePercentage: n(a.ATLChangePercentage), ATLDate: a.ATLDate,
		LastUpdated: last,
	}
}

// Limits of asset fields.
const (
	AssetNameMaxLen        = 100
	AssetDescriptionMaxLen = 2000
	AssetCategoryMaxLen    = 50
	AssetSymbolMaxLen      = 20
	AssetImageMaxLen       = 500
)

// MaxAssetPrice is the largest price_usd of an asset.
var MaxAssetPrice = decimal.FromInt(1_000_000_000)

// AssetCreate is the body of POST /admin/assets.
type AssetCreate struct {
	AssetID     string           `json:"asset_id"`
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Category    string           `json:"category,omitempty"`
	PriceUSD    *decimal.Decimal `json:"price_usd"`
	IsActive    *bool            `json:"is_active,omitempty"`
	Symbol      string           `json:"symbol,omitempty"`
	Image       string           `json:"image,omitempty"`
	MarketData
}

// Validate normalises r (asset id upper-cased, category lower-cased, texts
// trimmed) and checks: asset_id 1-10 alphanumerics; name 1-100 characters;
// description <= 2000; category <= 50 of [a-z0-9 _-]; symbol <= 20; image an
// http(s) URL <= 500; price_usd present, > 0, <= 1e9, <= 8 decimals; no
// markup in any text; market_cap_rank >= 1; caps, volumes, supplies, highs,
// lows, ath, atl >= 0.
func (r *AssetCreate) Validate() error {
	var v Violations
	r.AssetID = checkAssetID(&v, r.AssetID, "body", "asset_id")
	r.Name = checkAssetName(&v, r.Name)
	r.Description, r.Category, r.Symbol, r.Image = checkAssetTexts(&v, r.Description, r.Category, r.Symbol, r.Image)
	checkAssetPrice(&v, r.PriceUSD)
	r.MarketData.check(&v)
	return v.Err()
}

// Asset returns the new asset r describes (call Validate first); is_active
// defaults to true; version 1.
func (r *AssetCreate) Asset(now Time) *Asset {
	a := &Asset{
		AssetID: r.AssetID, Name: r.Name, Description: r.Description, Category: r.Category,
		IsActive: r.IsActive == nil || *r.IsActive, Symbol: r.Symbol, Image: r.Image,
		MarketData: r.MarketData, LastUpdated: now, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if r.PriceUSD != nil {
		a.PriceUSD = *r.PriceUSD
	}
	return a
}

// AssetUpdate is the body of PUT /admin/assets/{asset_id}: present fields change.
type AssetUpdate struct {
	Name        *string          `json:"name,omitempty"`
	Description *string          `json:"description,omitempty"`
	Category    *string          `json:"category,omitempty"`
	PriceUSD    *decimal.Decimal `json:"price_usd,omitempty"`
	IsActive    *bool            `json:"is_active,omitempty"`
	Symbol      *string          `json:"symbol,omitempty"`
	Image       *string          `json:"image,omitempty"`
	MarketData
}

// Validate checks the present fields with AssetCreate's rules and normalises them.
func (r *AssetUpdate) Validate() error {
	var v Violations
	if r.Name != nil {
		s := checkAssetName(&v, *r.Name)
		r.Name = &s
	}
	d, c, s, i := checkAssetTexts(&v, deref(r.Description), deref(r.Category), deref(r.Symbol), deref(r.Image))
	r.Description, r.Category, r.Symbol, r.Image = keep(r.Description, d), keep(r.Category, c), keep(r.Symbol, s), keep(r.Image, i)
	if r.PriceUSD != nil {
		checkAssetPrice(&v, r.PriceUSD)
	}
	r.MarketData.check(&v)
	return v.Err()
}

// Apply copies the present fields to a (call Validate first) and reports
// whether the price changed. It sets LastUpdated when the price or market data
// changes; it does not touch UpdatedAt or Version.
func (r *AssetUpdate) Apply(a *Asset, now Time) (priceChanged bool) {
	if r.Name != nil {
		a.Name = *r.Name
	}
	if r.Description != nil {
		a.Description = *r.Description
	}
	if r.Category != nil {
		a.Category = *r.Category
	}
	if r.IsActive != nil {
		a.IsActive = *r.IsActive
	}
	if r.Symbol != nil {
		a.Symbol = *r.Symbol
	}
	if r.Image != nil {
		a.Image = *r.Image
	}
	if r.PriceUSD != nil && !r.PriceUSD.Equal(a.PriceUSD) {
		a.PriceUSD = *r.PriceUSD
		priceChanged = true
	}
	if priceChanged || r.MarketData != (MarketData{}) {
		a.MarketData.apply(&r.MarketData)
		a.LastUpdated = now
	}
	return priceChanged
}

// PriceUpdate is the body of PUT /admin/assets/{asset_id}/price.
type PriceUpdate struct {
	PriceUSD *decimal.Decimal `json:"price_usd"`
}

// Validate checks price_usd: present, > 0, <= 1e9, <= 8 decimals.
func (r *PriceUpdate) Validate() error {
	var v Violations
	checkAssetPrice(&v, r.PriceUSD)
	return v.Err()
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func keep(p *string, s string) *string {
	if p == nil {
		return nil
	}
	return &s
}

func checkAssetName(v *Violations, s string) string {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		v.Body("name", "field required", TypeMissing)
	case utf8.RuneCountInString(t) > AssetNameMaxLen:
		v.Body("name", sprintf("must be at most %d characters", AssetNameMaxLen), TypeValue)
	case ContainsMarkup(t) || hasControl(t):
		v.Body("name", "must not contain markup or control characters", TypeValue)
	}
	return t
}

func checkAssetTexts(v *Violations, desc, cat, sym, img string) (string, string, string, string) {
	desc, cat, sym, img = strings.TrimSpace(desc), strings.ToLower(strings.TrimSpace(cat)), strings.TrimSpace(sym), strings.TrimSpace(img)
	if utf8.RuneCountInString(desc) > AssetDescriptionMaxLen {
		v.Body("description", sprintf("must be at most %d characters", AssetDescriptionMaxLen), TypeValue)
	} else if ContainsMarkup(desc) {
		v.Body("description", "must not contain markup", TypeValue)
	}
	if len(cat) > AssetCategoryMaxLen || strings.IndexFunc(cat, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == ' ' || c == '_' || c == '-')
	}) >= 0 {
		v.Body("category", sprintf("must be at most %d of a-z, 0-9, space, _ and -", AssetCategoryMaxLen), TypeValue)
	}
	if utf8.RuneCountInString(sym) > AssetSymbolMaxLen || ContainsMarkup(sym) || hasControl(sym) {
		v.Body("symbol", sprintf("must be at most %d characters without markup", AssetSymbolMaxLen), TypeValue)
	}
	if img != "" && (len(img) > AssetImageMaxLen || ContainsMarkup(img) || hasControl(img) ||
		strings.ContainsAny(img, " \"'<>") ||
		!(strings.HasPrefix(img, "https://") || strings.HasPrefix(img, "http://"))) {
		v.Body("image", sprintf("must be an http(s) URL of at most %d characters", AssetImageMaxLen), TypeValue)
	}
	return desc, cat, sym, img
}

func checkAssetPrice(v *Violations, p *decimal.Decimal) {
	switch {
	case p == nil:
		v.Body("price_usd", "field required", TypeMissing)
	case !p.IsPositive():
		v.Body("price_usd", "must be greater than 0", TypeValue)
	case p.GreaterThan(MaxAssetPrice):
		v.Body("price_usd", "must be at most 1000000000", TypeValue)
	case p.Scale() > PriceScale:
		v.Body("price_usd", sprintf("must have at most %d decimal places", PriceScale), TypeValue)
	}
}
