package testenv

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// RedisURL returns the URL of the test Redis (env REDIS_URL, see
// scripts/redis). Without it the test fails when CI is set and is skipped
// otherwise.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("REDIS_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("Redis required in CI: REDIS_URL is not set (scripts/redis start)")
		}
		t.Skip("REDIS_URL not set; run: eval \"$(scripts/redis start)\"")
	}
	return u
}

// RedisPrefix returns a key prefix of the test's own on the test Redis
// (RedisURL); its keys are deleted when the test ends.
func RedisPrefix(t testing.TB) string {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	prefix := "test:" + strings.ToLower(rand.Text()[:12]) + ":"
	t.Cleanup(func() {
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = rdb.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("delete the test's Redis keys: %v", err)
		}
	})
	return prefix
}
