package protocol_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hive-workshop/microservices-go/hive"
	"github.com/hive-workshop/microservices-go/hive/hivetest/brokertest"
)

// withField returns PROTOCOL.md's example event with one field set to
// value (JSON), or removed if value is "".
func withField(t *testing.T, field, value string) string {
	t.Helper()
	var e map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(example(t, "event")), &e))
	require.Contains(t, e, field, "PROTOCOL.md's example event has no %s: change this test too", field)
	if value == "" {
		delete(e, field)
	} else {
		e[field] = json.RawMessage(value)
	}
	out, err := json.Marshal(e)
	require.NoError(t, err)
	return string(out)
}

// PROTOCOL.md, "Consuming, and failing correctly": a message that is not
// an envelope with every required field, a non-empty id and type, and the
// type it was routed by, is not an event. It goes to the dead letters at
// once, and the handler never sees it: the schema refuses it too, where a
// schema can tell.
func TestNotAnEventIsDeadLettered(t *testing.T) {
	n := brokertest.NewRabbitMQNetwork(t)
	svc := hive.New("kitchen")
	handled := make(chan string, 10)
	hive.On(svc, "order.placed", func(ctx context.Context, e hive.Event[json.RawMessage]) error {
		handled <- e.ID
		return nil
	})
	n.Start(svc)
	work := n.Namespace + ".kitchen.order.placed"
	ch := channel(t)
	require.NoError(t, ch.Confirm(false))
	sch := schema(t, "event.schema.json")

	for _, tc := range []struct {
		name, body  string
		schemaTells bool // whether the schema alone refuses it
	}{
		{"no body", withField(t, "body", ""), true},                                  // issue 23, item 1
		{"an empty id", withField(t, "id", `""`), true},                              // item 2
		{"no id", withField(t, "id", ""), true},                                      // item 2
		{"the type of another event", withField(t, "type", `"menu.changed"`), false}, // item 11
		{"no time", withField(t, "time", ""), true},
		{"not JSON", `order o-17, dish 3`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.schemaTells {
				assert.Error(t, validate(t, sch, tc.body), "event.schema.json must refuse it")
			}
			id := "msg-" + strings.ReplaceAll(tc.name, " ", "-")
			publish(t, ch, n.Namespace, "order.placed", amqp.Publishing{ContentType: "application/json", MessageId: id, Body: []byte(tc.body)})
			dead := getOne(t, ch, work+".dead")
			assert.Equal(t, id, dead.MessageId)
			reason, _ := dead.Headers["hive-reason"].(string)
			assert.True(t, strings.HasPrefix(reason, "not an event: "), "PROTOCOL.md: the reason of a message that is not an event, not %q", reason)
			assert.Nil(t, dead.Headers["hive-attempt"], "a message that is not an event is not retried")
		})
	}
	select {
	case id := <-handled:
		t.Errorf("the handler got %s, which is not an event", id)
	default:
	}
}

// PROTOCOL.md, The envelope: a trace_id that is not a trace id does not
// make a message no event; the handler starts a new trace. The schema,
// which says what a consumer takes, takes it.
func TestBadTraceIDStartsANewTrace(t *testing.T) {
	bad := withField(t, "trace_id", `"not a trace id!"`)
	assert.NoError(t, validate(t, schema(t, "event.schema.json"), bad), "event.schema.json must take an event with a bad trace_id")

	n := brokertest.NewRabbitMQNetwork(t)
	svc := hive.New("kitchen")
	traces := make(chan string, 1)
	hive.On(svc, "order.placed", func(ctx context.Context, e hive.Event[json.RawMessage]) error {
		traces <- hive.TraceID(ctx)
		return nil
	})
	n.Start(svc)
	ch := channel(t)
	require.NoError(t, ch.Confirm(false))
	publish(t, ch, n.Namespace, "order.placed", amqp.Publishing{ContentType: "application/json", Body: []byte(bad)})
	select {
	case trace := <-traces:
		assert.NotEqual(t, "not a trace id!", trace)
		assert.Regexp(t, `^[A-Za-z0-9._-]{1,64}$`, trace, "a new trace")
	case <-time.After(30 * time.Second):
		t.Fatal("the handler did not get the event with a bad trace_id")
	}
}
