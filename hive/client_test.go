package hive_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// as answers every call with status and body, and names service in the
// Hive-Service header.
func as(service string, status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Hive-Service", service)
		answer(status, body)(w, r)
	}
}

// startAlone starts h as the only instance of counter, and returns a client.
func startAlone(t *testing.T, h http.Handler) *hive.Client {
	n := hivetest.NewNetwork(t)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	register(t, n, "counter-alone", srv.Listener.Addr().String())
	client := hive.NewClient(n.Registry, hive.ClientOptions{Logger: quiet})
	t.Cleanup(func() { client.Close() })
	return client
}

// The endpoint of a record may now belong to another service: its instance
// died and another process took its port. That one's answer, even a
// NotFound, says nothing about the call.
func TestCallTriesAnotherInstanceWhenAnotherServiceAnswers(t *testing.T) {
	var asked atomic.Value
	kitchen := as("kitchen", http.StatusNotFound, `{"error":{"code":"not_found","message":"kitchen has no method \"put\""}}`)
	client, _, puts := tryFirst(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.Header.Get("Hive-Service"))
		kitchen(w, r)
	}))

	require.NoError(t, client.Call(context.Background(), "counter.put", nil, nil),
		"an answer from another service must count as Unavailable, and the call go to another instance")
	assert.Equal(t, int64(1), puts.Load())
	assert.Equal(t, "counter", asked.Load(), "a request must say which service it is meant for, in the Hive-Service header")
}

// The same, with real instances and a real registry: the kitchen that now
// listens at a stale record's address refuses the call, and says who it is.
func TestCallLeavesAStaleRecordForTheRightService(t *testing.T) {
	n := brokertest.NewZooKeeperNetwork(t)
	var gets, puts atomic.Int64
	n.Start(counter(&gets, &puts))
	kitchen := hive.New("kitchen")
	var cooked atomic.Int64
	hive.Handle(kitchen, "put", func(ctx context.Context, _ struct{}) (int64, error) {
		return cooked.Add(1), nil
	})
	n.Start(kitchen)
	register(t, n, "counter-stale", kitchen.Endpoint())
	client := hive.NewClient(n.Registry, hive.ClientOptions{Logger: quiet, Picker: firstPicker("counter-stale")})
	defer client.Close()

	require.NoError(t, client.Call(context.Background(), "counter.put", nil, nil))
	assert.Equal(t, int64(1), puts.Load(), "the call must reach counter")
	assert.Zero(t, cooked.Load(), "kitchen must not run a put meant for counter")
}

func TestCallTakesAnAnswerWithoutHiveServiceHeader(t *testing.T) {
	client := startAlone(t, answer(http.StatusNotFound, `{"error":{"code":"not_found","message":"no counter 7"}}`))

	err := client.Call(context.Background(), "counter.get", nil, nil)
	assert.ErrorIs(t, err, hive.ErrNotFound, "an instance of an older hive sends no Hive-Service header; its answer counts")
}

func TestCallRefusesAnOversizeResponse(t *testing.T) {
	huge := `"` + strings.Repeat("x", 1<<20) + `"` // a JSON string just over 1 MiB
	client := startAlone(t, as("counter", http.StatusOK, huge))

	var resp string
	err := client.Call(context.Background(), "counter.get", nil, &resp)
	assert.ErrorIs(t, err, hive.ErrInternal)
	assert.ErrorContains(t, err, "the response is larger than the client's limit of 1048576 bytes")
	assert.Zero(t, len(resp), "nothing of an oversize response may be decoded")
}

func TestCallCutsALongRemoteMessage(t *testing.T) {
	long := strings.Repeat("é", 5000) // two bytes each: a cut at 1024 bytes could fall inside one
	body, err := json.Marshal(map[string]any{"error": map[string]string{"code": "conflict", "message": long}})
	require.NoError(t, err)
	client := startAlone(t, as("counter", http.StatusConflict, string(body)))

	err = client.Call(context.Background(), "counter.put", nil, nil)
	var e *hive.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, hive.Conflict, e.Code)
	assert.LessOrEqual(t, len(e.Message), 1024+len("... (99999 more bytes)"), "a remote message must be cut at 1 KiB")
	assert.True(t, strings.HasSuffix(e.Message, "more bytes)"), "a cut message must say so")
	assert.True(t, utf8.ValidString(e.Message), "a message must be cut between characters, not inside one")
}

// Anyone can write into ZooKeeper. Records that no call can use are
// skipped; they are never called, and never hide the good ones.
func TestCallSkipsBadRecordsInZooKeeper(t *testing.T) {
	n := brokertest.NewZooKeeperNetwork(t)
	conn, _, err := zk.Connect(brokertest.ZooKeeper(t), 4*time.Second, zk.WithLogger(zkQuiet{}))
	require.NoError(t, err)
	t.Cleanup(conn.Close) // the records are ephemeral: they go with conn
	dir := "/" + n.Namespace + "/services/counter"
	for _, p := range []string{"/" + n.Namespace, "/" + n.Namespace + "/services", dir} {
		_, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && err != zk.ErrNodeExists {
			require.NoError(t, err, "create %s", p)
		}
	}
	for id, record := range map[string]string{
		"null":      `null`,
		"empty":     `{}`,
		"no-end":    `{"id":"counter-no-end","service":"counter"}`,
		"path":      `{"id":"counter-path","service":"counter","endpoint":"127.0.0.1:8002/admin"}`,
		"scheme":    `{"id":"counter-scheme","service":"counter","endpoint":"http://127.0.0.1:8002"}`,
		"elsewhere": `{"id":"kitchen-1","service":"kitchen","endpoint":"127.0.0.1:8002"}`,
	} {
		_, err := conn.Create(dir+"/"+id, []byte(record), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		require.NoError(t, err, "write the record %s", id)
	}
	var logs hivetest.Logs
	client := hive.NewClient(n.Registry, hive.ClientOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	err = client.Call(ctx, "counter.get", nil, nil)
	assert.ErrorIs(t, err, hive.ErrUnavailable)
	assert.ErrorContains(t, err, "no instance of service counter is running (6 records skipped: ",
		"when only bad records are left, the error must say so, and why")
	assert.ErrorContains(t, err, `instance "kitchen-1" of service "kitchen" is listed under "counter"`)

	var gets, puts atomic.Int64
	n.Start(counter(&gets, &puts))
	for range 10 {
		require.NoError(t, waitForCall(ctx, client, "counter.get"), "the good instance must get every call")
	}
	assert.Equal(t, int64(10), gets.Load())
	// The ZooKeeper registry skipped them, and logged each once: the
	// client does not log them again.
	assert.Equal(t, 0, strings.Count(logs.String(), "skipping a registry record"), logs.String())
}

// waitForCall calls method until the client sees an instance, for as long
// as ctx lasts, and returns the last call's error.
func waitForCall(ctx context.Context, client *hive.Client, method string) error {
	for {
		err := client.Call(ctx, method, nil, nil)
		if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "no instance of service") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// zkQuiet drops the zk client's log lines.
type zkQuiet struct{}

func (zkQuiet) Printf(string, ...any) {}
