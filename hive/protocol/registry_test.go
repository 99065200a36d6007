package protocol_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
)

// badRecords are records that a caller must skip (PROTOCOL.md, "A record a
// caller cannot use"), by node name under /<namespace>/services/menu: each
// is PROTOCOL.md's example with one thing wrong.
func badRecords(t *testing.T) map[string]string {
	t.Helper()
	record := func(field, value string) string {
		var r map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(example(t, "registry-record")), &r))
		if value == "" {
			delete(r, field)
		} else {
			r[field] = json.RawMessage(value)
		}
		r["id"] = json.RawMessage(`"NODE"`)
		if field == "id" {
			r["id"] = json.RawMessage(value)
		}
		out, err := json.Marshal(r)
		require.NoError(t, err)
		return string(out)
	}
	return map[string]string{
		"menu-another-service": record("service", `"kitchen"`),
		"menu-http":            record("endpoint", `"http://127.0.0.1:8002"`),
		"menu-not-its-id":      record("id", `"menu-someone-else"`),
		"menu-no-started":      record("started", ""),
		"menu-naive-time":      record("started", `"2026-12-01T19:30:00.123456"`),
		"menu-version-1.4":     record("version", `"1.4"`),
		"menu-not-json":        `menu at 127.0.0.1:8002`,
	}
}

// A caller skips every record that PROTOCOL.md says it must skip, counts
// every one of them, and the CLI neither lists nor calls them.
func TestRecordsACallerCannotUseAreSkipped(t *testing.T) {
	n := brokertest.NewZooKeeperNetwork(t)
	conn, err := zookeeper.Connect(t.Context(), brokertest.ZooKeeper(t), zookeeper.Options{})
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	dir := "/" + n.Namespace + "/services/menu"
	require.NoError(t, zookeeper.CreatePath(conn, dir))
	bad := badRecords(t)
	for node, data := range bad {
		data = strings.Replace(data, `"NODE"`, `"`+node+`"`, 1)
		_, err := conn.Create(dir+"/"+node, []byte(data), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
	}
	// Every record is one the schema refuses, or one listed where it does
	// not belong, which a schema cannot see.
	sch := schema(t, "registry-record.schema.json")
	for node, data := range bad {
		if node != "menu-another-service" && node != "menu-not-its-id" && node != "menu-not-json" {
			assert.Error(t, validate(t, sch, data), "registry-record.schema.json must refuse %s", node)
		}
	}

	list, err := n.Registry.Instances(t.Context(), "menu")
	require.NoError(t, err)
	assert.Empty(t, list, "the registry must not list a record a caller cannot use")
	skipper, ok := n.Registry.(registry.Skipper)
	require.True(t, ok, "the ZooKeeper registry says why it skipped records")
	assert.Len(t, skipper.Skipped("menu"), len(bad), "every skipped record counts")

	err = n.Call(t.Context(), "menu.get", nil, nil)
	assert.ErrorIs(t, err, hive.ErrUnavailable)
	assert.ErrorContains(t, err, fmt.Sprintf("%d records skipped", len(bad)))

	// A good instance next to them is the only one listed.
	good := n.Start(hive.New("menu"))
	assert.NoError(t, hivetest.Eventually(30*time.Second, func() error {
		list, err := n.Registry.Instances(t.Context(), "menu")
		if err != nil || len(list) != 1 || list[0].ID != good.ID() {
			return fmt.Errorf("instances of menu: %v, %v; want only %s", list, err, good.ID())
		}
		return nil
	}))
}
