package zookeeper_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive/hivetest"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
	"github.com/hive-workshop/microservices-go/hive/registry/zookeeper"
	"github.com/hive-workshop/microservices-go/internal/workshop/localcluster"
)

// HIVE_ZOOKEEPER=h1,h2/chroot keeps everything under /chroot, as
// ZooKeeper's own clients do: several applications share an ensemble.
func TestAChrootAfterTheLastServerHoldsTheNamespace(t *testing.T) {
	t.Parallel()
	servers, ns := brokertest.ZooKeeper(t), hivetest.Namespace(t)
	chroot := "/" + ns + "-apps/team"
	removeAfter(t, servers, "/"+ns+"-apps")
	withChroot := append(servers[:len(servers)-1:len(servers)-1], servers[len(servers)-1]+chroot)

	r := newRegistry(t, withChroot, ns)
	require.NoError(t, r.Register(t.Context(), menu1))
	_, _, err := inspector(t, servers).Get(chroot + "/" + ns + "/services/menu/menu-1")
	require.NoError(t, err, "the instance must be stored under the chroot")
	list, err := r.Instances(t.Context(), "menu")
	require.NoError(t, err)
	assert.Len(t, list, 1)
	assert.Equal(t, chroot+"/"+ns, zookeeper.Root(withChroot, ns))
}

func TestSplitChroot(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		hosts   []string
		chroot  string
		problem string
	}{
		{in: []string{"h1:2181", "h2:2181"}, hosts: []string{"h1:2181", "h2:2181"}},
		{in: []string{"h1:2181", "h2:2181/apps/hive/"}, hosts: []string{"h1:2181", "h2:2181"}, chroot: "/apps/hive"},
		{in: []string{"h1:2181/"}, hosts: []string{"h1:2181"}},
		{in: []string{"h1:2181/a", "h2:2181"}, problem: "with a chroot, if any, after the last"},
		{in: []string{"h1:2181/a//b"}, problem: "has an empty part"},
	} {
		hosts, chroot, err := zookeeper.SplitChroot(tc.in)
		if tc.problem != "" {
			assert.ErrorContains(t, err, tc.problem, "%v", tc.in)
			continue
		}
		require.NoError(t, err, "%v", tc.in)
		assert.Equal(t, tc.hosts, hosts)
		assert.Equal(t, tc.chroot, chroot)
	}
}

// A service that starts while the ensemble has no quorum is told so, not
// that no server answers: here one server of three runs.
func TestNewSaysWhenTheEnsembleHasNoQuorum(t *testing.T) {
	c := localcluster.ForTest(t, 27800)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	require.NoError(t, c.SpawnZooKeeper(1)) // alone: no quorum, ever
	addr := c.ZooKeeperAddrs()[0]
	// Until the server listens, no server answers; then it answers that
	// it does not serve.
	var last error
	err := hivetest.Eventually(time.Minute, func() error {
		r, err := zookeeper.New(ctx, []string{addr}, zookeeper.Options{ConnectTimeout: time.Second})
		if err == nil {
			r.Close()
			t.Fatal("a session with the one server of an ensemble of three")
		}
		last = err
		if !strings.Contains(err.Error(), "no quorum") {
			return err
		}
		return nil
	})
	require.NoError(t, err)
	assert.Contains(t, last.Error(), "ZooKeeper runs at "+addr+", but the ensemble has no quorum")
}
