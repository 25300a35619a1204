package eventbus

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/stream"
	"github.com/orderprocessor/orderprocessor/testenv"
)

// TestRateEvents: a rate change crosses the bus to every reader's broker
// as an fx event that every subscription receives, whatever its asset
// filter; an entry without a currency or with a bad rate is skipped.
func TestRateEvents(t *testing.T) {
	url, p := testenv.RedisURL(t), prefix(t)
	broker := stream.NewBroker(stream.Options{})
	reader := open(t, url, Options{Prefix: p, Broker: broker})
	waitLoaded(t, reader)
	sub, _ := broker.Subscribe(stream.SubscribeOptions{Username: "alice", Assets: []string{"BTC"}})
	defer sub.Close()
	at := time.Now().UTC().Truncate(time.Microsecond)
	pub := open(t, url, Options{Prefix: p, Now: func() time.Time { return at }})
	pub.RateChanged("", decimal.FromInt(1)) // no currency: skipped by the reader
	pub.RateChanged("EUR", decimal.MustParse("1.0812"))
	ev := next(t, sub)
	atJSON, err := json.Marshal(entity.At(at))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"pair":"EUR-USD","currency":"EUR","rate":"1.0812","at":` + string(atJSON) + `}`
	if ev.Kind != stream.KindFX || ev.Username != "" || string(ev.JSON()) != want {
		t.Fatalf("rate event %+v %s, want %s", ev, ev.JSON(), want)
	}
}
