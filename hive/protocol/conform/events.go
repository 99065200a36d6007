package conform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hive-workshop/microservices-go/hive/events"
)

// The sections of PROTOCOL.md the event rules come from.
const (
	queues    = "Events, Layout"
	consuming = "Events, Consuming, and failing correctly"
)

// events checks how the service consumes: for each of its subscriptions
// that is not a broadcast, messages that are not events, and the event
// that it fails on, must end in its dead-letter queue with the documented
// headers.
func (c *checker) events(ctx context.Context, info inspection) {
	const rule = "events that are not events, and events that fail, go to the dead letters"
	if c.t.AMQPURL == "" {
		c.skip(consuming, rule, "no RabbitMQ address")
		return
	}
	var patterns []string
	for _, e := range info.Events {
		if !e.Broadcast { // a broadcast queue is the instance's own, exclusive
			patterns = append(patterns, e.Pattern)
		}
	}
	if len(patterns) == 0 {
		c.skip(consuming, rule, "inspect lists no subscription that is not a broadcast")
		return
	}
	conn, err := amqp.Dial(c.t.AMQPURL)
	if !c.need(queues, "reach RabbitMQ", err) {
		return
	}
	defer conn.Close()
	for _, p := range patterns {
		c.subscription(ctx, conn, p)
	}
}

// A letter is a message the checks publish, and what they expect of its
// dead letter.
type letter struct {
	rule   string
	id     string
	body   []byte
	reason string // the prefix hive-reason must have
}

func (c *checker) subscription(ctx context.Context, conn *amqp.Connection, pattern string) {
	work := fmt.Sprintf("%s.%s.%s", c.t.Namespace, c.t.Service, pattern)
	for _, q := range []string{work, work + ".dead"} {
		if !c.check(queues, "the queue "+q+" exists", queueExists(conn, q)) {
			return
		}
	}
	// Where failed events wait for their next try, and where taps and
	// broadcasts get their copies.
	for _, x := range []string{c.t.Namespace + ".wait", c.t.Namespace + ".broadcast"} {
		if !c.check(queues, "the exchange "+x+" exists", exchangeExists(conn, x)) {
			return
		}
	}
	// The routing key: the type the service fails on, if its pattern
	// matches it; otherwise a type the pattern matches.
	key := c.t.FailType
	if key == "" || !events.Match(pattern, key) {
		key = strings.NewReplacer("*", "conform", "#", "conform").Replace(pattern)
	}
	run := newID()
	envelope := func(drop string, set map[string]any) []byte {
		e := map[string]any{"id": "conform-" + run + "-" + newID(), "type": key, "source": "conform",
			"time": time.Now().UTC().Format(time.RFC3339Nano), "body": map[string]any{}}
		delete(e, drop)
		for k, v := range set {
			e[k] = v
		}
		data, _ := json.Marshal(e)
		return data
	}
	letters := []letter{
		{rule: "a body that is not JSON", body: []byte("conform: this is not JSON")},
		{rule: "an envelope without body", body: envelope("body", nil)},
		{rule: "an envelope with an empty id", body: envelope("", map[string]any{"id": ""})},
		{rule: "an envelope without time", body: envelope("time", nil)},
		{rule: "an envelope whose type is not its routing key", body: envelope("", map[string]any{"type": "conform.another.type"})},
	}
	for i := range letters {
		letters[i].id = fmt.Sprintf("conform-%s-%d", run, i)
		letters[i].reason = "not an event: "
		letters[i].rule += " is dead-lettered at once as \"not an event\""
	}
	if c.t.FailType != "" && events.Match(pattern, c.t.FailType) {
		var body any = json.RawMessage(c.t.FailBody)
		if c.t.FailBody == "" {
			body = nil
		}
		letters = append(letters, letter{
			rule:   fmt.Sprintf("an event it fails on (%s) is retried, then dead-lettered as \"failed N times\"", c.t.FailType),
			id:     fmt.Sprintf("conform-%s-fail", run),
			body:   envelope("", map[string]any{"body": body}),
			reason: "failed ",
		})
	} else {
		c.skip(consuming, "an event it fails on is retried, then dead-lettered as \"failed N times\"",
			fmt.Sprintf("no event it fails on, of a type %q matches: name one (hive conform -fail TYPE=JSON)", pattern))
	}

	ch, err := conn.Channel()
	if !c.need(consuming, "open a channel to publish on", err) {
		return
	}
	defer ch.Close()
	for _, l := range letters {
		err := publish(ctx, ch, c.t.Namespace, key, amqp.Publishing{
			ContentType: "application/json", DeliveryMode: amqp.Persistent, MessageId: l.id, Type: key, Body: l.body,
		})
		if err != nil {
			c.check(consuming, l.rule, fmt.Errorf("publishing it: %w", err))
			return
		}
	}
	dead, err := collect(ctx, conn, work+".dead", letters, c.t.Wait)
	if err != nil {
		c.need(consuming, "read the dead letters of "+work, err)
		return
	}
	for _, l := range letters {
		c.check(consuming, l.rule, deadLetterIs(dead[l.id], l, c.t.Wait))
	}
}

// queueExists reports, as an error, whether the queue q exists. It
// declares it passively, on a channel of its own: RabbitMQ closes the
// channel when the queue is missing.
func queueExists(conn *amqp.Connection, q string) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if _, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); err != nil {
		return fmt.Errorf("%w (does the service subscribe, under this name?)", err)
	}
	return nil
}

func exchangeExists(conn *amqp.Connection, x string) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	return ch.ExchangeDeclarePassive(x, "", true, false, false, false, nil)
}

// publish publishes msg mandatory and confirmed, as a service does.
func publish(ctx context.Context, ch *amqp.Channel, exchange, key string, msg amqp.Publishing) error {
	if err := ch.Confirm(false); err != nil {
		return err
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, msg)
	if err != nil {
		return err
	}
	acked, err := conf.WaitContext(ctx)
	switch {
	case err != nil:
		return err
	case !acked:
		return errors.New("the broker nacked it")
	}
	select {
	case r := <-returns: // a return comes before the ack
		return fmt.Errorf("returned: %d %s: no queue is bound to %q", r.ReplyCode, r.ReplyText, key)
	default:
		return nil
	}
}

// collect takes the dead letters of the letters from queue, waiting up to
// wait for them all, and leaves every other message in it: it acks only
// its own, and the others go back when its channel closes.
func collect(ctx context.Context, conn *amqp.Connection, queue string, letters []letter, wait time.Duration) (map[string]amqp.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	defer ch.Close()
	deliveries, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool)
	for _, l := range letters {
		want[l.id] = true
	}
	got := make(map[string]amqp.Delivery)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for len(got) < len(want) {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return got, errors.New("the channel closed")
			}
			if want[d.MessageId] {
				got[d.MessageId] = d
				d.Ack(false)
			}
		case <-timer.C:
			return got, nil
		case <-ctx.Done():
			return got, ctx.Err()
		}
	}
	return got, nil
}

// failedTimes is the start of the reason of an event that failed.
var failedTimes = regexp.MustCompile(`^failed (\d+) times: `)

// deadLetterIs checks the dead letter d of l.
func deadLetterIs(d amqp.Delivery, l letter, wait time.Duration) error {
	if d.MessageId == "" {
		return fmt.Errorf("no dead letter with message_id %s within %v", l.id, wait)
	}
	var problems []string
	reason, ok := d.Headers["hive-reason"].(string)
	if !ok || !strings.HasPrefix(reason, l.reason) {
		problems = append(problems, fmt.Sprintf("hive-reason %q, want one that starts with %q", d.Headers["hive-reason"], l.reason))
	}
	if string(d.Body) != string(l.body) {
		problems = append(problems, fmt.Sprintf("the body %.100q, want the message as it was sent", d.Body))
	}
	if d.ContentType != "application/json" || d.DeliveryMode != amqp.Persistent {
		problems = append(problems, fmt.Sprintf("content_type %q and delivery_mode %d, want application/json and 2", d.ContentType, d.DeliveryMode))
	}
	for k := range d.Headers {
		if strings.HasPrefix(k, "x-") {
			problems = append(problems, "it has the header "+k+": a copy drops every x- header")
		}
	}
	if m := failedTimes.FindStringSubmatch(reason); l.reason == "failed " && m != nil {
		n, _ := strconv.Atoi(m[1])
		attempt, ok := integer(d.Headers["hive-attempt"])
		switch {
		case n < 2:
			problems = append(problems, fmt.Sprintf("%q: it was not retried", reason))
		case !ok || attempt != int64(n):
			problems = append(problems, fmt.Sprintf("hive-attempt %v (%T), want %d, an integer: the copy to the retry queue carries the next attempt", d.Headers["hive-attempt"], d.Headers["hive-attempt"], n))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// integer returns the value of an AMQP integer header of any width.
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case int8:
		return int64(n), true
	case uint8:
		return int64(n), true
	case int16:
		return int64(n), true
	case uint16:
		return int64(n), true
	case int32:
		return int64(n), true
	case uint32:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

func newID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
