package multiproc

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/lease"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/store/dynamodb"
	"github.com/orderprocessor/orderprocessor/testenv"
)

// daos opens the cluster's tables for the test to read.
func (c *cluster) daos() *dao.DAOs {
	c.t.Helper()
	flag := func(name string) string { return c.store[slices.Index(c.store, name)+1] }
	client := awsddb.New(awsddb.Options{Region: region, BaseEndpoint: aws.String(flag("--dynamodb-endpoint")),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""), HTTPClient: dynamodb.HTTPClient()})
	db, err := dynamodb.Open(context.Background(), dynamodb.Config{Client: client, TablePrefix: flag("--table-prefix"),
		Schemas: dao.DefaultTables.Schemas()})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = db.Close() })
	return dao.New(db, dao.DefaultTables)
}

// fedPoint is a price point the feed wrote (it names its writer).
type fedPoint struct {
	asset string
	dao.PricePoint
}

// fedPoints reads every asset's price points that name a writer, oldest
// first.
func fedPoints(t *testing.T, d *dao.DAOs) []fedPoint {
	t.Helper()
	ctx := context.Background()
	assets, err := d.Assets.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []fedPoint
	for _, a := range assets {
		pts, _, err := d.Assets.PriceHistory(ctx, a.AssetID, time.Time{}, time.Now().Add(time.Hour), dao.MaxHistoryPage)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pts {
			if p.Writer != "" {
				out = append(out, fedPoint{a.AssetID, p})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// TestReplicasPriceFeedTakeover runs two inventory replicas on the
// simulated feed with the default lease terms, and kills (SIGKILL) the one
// that holds the price feed's lease: the other replica writes prices within
// 10 s of the kill. The price history names the writer of every point: all
// of them are the first holder's up to the kill and the other's after it,
// per asset and across assets in time; the replica without the lease wrote
// nothing before.
func TestReplicasPriceFeedTakeover(t *testing.T) {
	c := startCluster(t, clusterOptions{redis: testenv.RedisURL(t),
		args: map[string][]string{"inventory": {"--price-feed", "simulated", "--price-interval", "250ms"}}})
	d := c.daos()
	ctx := context.Background()
	byPID := map[string]*proc{}
	for _, p := range c.replicas["inventory"] {
		byPID[strconv.Itoa(p.cmd.Process.Pid)] = p
	}
	// replica returns the inventory replica a holder name (host-pid-random)
	// belongs to.
	replica := func(holder string) *proc {
		parts := strings.Split(holder, "-")
		if len(parts) < 3 || byPID[parts[len(parts)-2]] == nil {
			t.Fatalf("holder %q is no inventory replica", holder)
		}
		return byPID[parts[len(parts)-2]]
	}
	var holder string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if pts := fedPoints(t, d); len(pts) >= 20 {
			holder = pts[0].Writer
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no price points within 30 s")
		}
	}
	l, err := d.Leases.Get(ctx, platform.PriceFeedLease)
	if err != nil || l.Holder != holder {
		t.Fatalf("lease %+v, %v; the first points' writer is %s", l, err, holder)
	}
	victim := replica(holder)
	killed := time.Now()
	victim.kill()
	t.Logf("killed %s, the price feed's lease holder", victim.name)

	var pts []fedPoint
	var next string
	for deadline := time.Now().Add(30 * time.Second); next == ""; time.Sleep(100 * time.Millisecond) {
		pts = fedPoints(t, d)
		for _, p := range pts {
			if p.Writer != holder {
				next = p.Writer
				break
			}
		}
		if next == "" && time.Now().After(deadline) {
			t.Fatal("no other replica wrote prices within 30 s of the kill")
		}
	}
	if r := replica(next); r == victim {
		t.Fatalf("the next writer %s is the killed replica", next)
	}
	var firstNext fedPoint
	for _, p := range pts {
		if p.Writer == next {
			firstNext = p
			break
		}
	}
	takeover := firstNext.At.Sub(killed)
	t.Logf("the other replica's first price %v after the kill (lease TTL %v)", takeover.Round(time.Millisecond), 6*time.Second)
	if takeover > 10*time.Second {
		t.Errorf("takeover took %v, want within 10 s", takeover)
	}

	// No interleaving: in time across assets, and per asset in the order
	// the prices were stored.
	var seq []string
	perAsset := map[string][]fedPoint{}
	for _, p := range pts {
		if len(seq) == 0 || seq[len(seq)-1] != p.Writer {
			seq = append(seq, p.Writer)
		}
		perAsset[p.asset] = append(perAsset[p.asset], p)
	}
	if !slices.Equal(seq, []string{holder, next}) {
		t.Fatalf("writers in time: %d runs (%v), want %s then %s", len(seq), seq[:min(len(seq), 6)], holder, next)
	}
	for id, ps := range perAsset {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Seq < ps[j].Seq })
		switched := false
		for _, p := range ps {
			switched = switched || p.Writer == next
			if switched && p.Writer != next {
				t.Fatalf("%s: a point of %s (seq %d) after %s's first", id, p.Writer, p.Seq, next)
			}
		}
	}
}

// TestReplicasShardTakeover kills the order replica whose share of the
// sweeps holds an asset with resting orders that are about to expire: the
// other order replica takes that share over and expires them (expiry comes
// only from the sweeps), each once: the holds come back to the cent and
// the ledger checks out.
func TestReplicasShardTakeover(t *testing.T) {
	c := startCluster(t, clusterOptions{redis: testenv.RedisURL(t), args: map[string][]string{"order": {"--engine-interval", "1s"}}})
	d := c.daos()
	ctx := context.Background()
	assets := []string{"CLS1", "CLS2", "CLS3", "CLS4", "CLS5", "CLS6", "CLS7", "CLS8"}
	for _, a := range assets {
		c.newAsset(a, "100")
	}
	tok := c.newUser("cl_expiry", "1000")
	members, err := d.Leases.Members(ctx, platform.EngineGroup, time.Now())
	if err != nil || len(members) != 2 {
		t.Fatalf("engine group %v, %v; want the two order replicas", members, err)
	}
	byPID := map[string]*proc{}
	for _, p := range c.replicas["order"] {
		byPID[strconv.Itoa(p.cmd.Process.Pid)] = p
	}
	owner := lease.Owner(members, assets[0])
	parts := strings.Split(owner, "-")
	victim := byPID[parts[len(parts)-2]]
	if victim == nil {
		t.Fatalf("member %q is no order replica", owner)
	}
	var victims []string
	for _, a := range assets {
		if lease.Owner(members, a) == owner {
			victims = append(victims, a)
		}
	}

	expires := time.Now().Add(3 * time.Second)
	for _, a := range assets {
		testenv.Call(t, "POST", c.gw(0)+"/api/v1/orders", tok, map[string]any{"order_type": "limit_buy", "asset_id": a,
			"quantity": "1", "limit_price": "50", "time_in_force": "gtd", "expires_at": expires.UTC().Format(time.RFC3339Nano)}).Want(t, 201)
	}
	victim.kill()
	t.Logf("killed %s, whose share holds %v", victim.name, victims)

	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		list := testenv.Call(t, "GET", c.gw(1)+"/api/v1/orders?limit=100", tok, nil).Want(t, 200)
		orders, _ := list["data"].([]any)
		expired := 0
		for _, o := range orders {
			if o.(map[string]any)["status"] == "expired" {
				expired++
			}
		}
		if len(orders) != len(assets) {
			t.Fatalf("%d orders, want %d", len(orders), len(assets))
		}
		if expired == len(assets) {
			t.Logf("every order expired %v after its expiry (lease TTL 6 s, engine interval 1 s)", time.Since(expires).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d orders expired 30 s after the kill", expired, len(assets))
		}
	}
	if b := testenv.Call(t, "GET", c.gw(0)+"/api/v1/balance", tok, nil).Want(t, 200); b["current_balance"] != "1000.00" || b["held_balance"] != "0.00" {
		t.Fatalf("balance %v, want 1000.00 with nothing held", b)
	}
	c.verify()
}
