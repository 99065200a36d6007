package chaos

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

// closeConnections makes RabbitMQ close every connection of namespace, and
// returns how many it closed. hive names each connection after its
// namespace, so this closes no connection of another test or beehive,
// unlike `rabbitmqctl close_all_connections`.
func closeConnections(ctx context.Context, namespace string) (int, error) {
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		return 0, fmt.Errorf("chaos: rabbitmqctl is not installed here: %w", err)
	}
	out, err := exec.CommandContext(ctx, "rabbitmqctl", "--quiet", "list_connections", "pid", "client_properties").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("chaos: rabbitmqctl list_connections: %w: %s", err, out)
	}
	// A line is "<pid>\t[..., {"connection_name","<namespace>"}, ...]".
	var pids []string
	for line := range strings.Lines(string(out)) {
		pid, props, _ := strings.Cut(strings.TrimSpace(line), "\t")
		if strings.Contains(props, `{"connection_name","`+namespace+`"}`) {
			pids = append(pids, pid)
		}
	}
	// Each rabbitmqctl takes most of a second to start: close them all at
	// once.
	var wg sync.WaitGroup
	errs := make([]error, len(pids))
	for i, pid := range pids {
		wg.Go(func() {
			out, err := exec.CommandContext(ctx, "rabbitmqctl", "close_connection", pid, "closed by the chaos test").CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("chaos: rabbitmqctl close_connection %s: %w: %s", pid, err, out)
			}
		})
	}
	wg.Wait()
	return len(pids), errors.Join(errs...)
}
