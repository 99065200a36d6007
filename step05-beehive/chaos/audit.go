package chaos

import "slices"

// Evidence is what the audit compares: three records of the same run, kept
// by three parties that share no code and no memory. Where they disagree,
// something was lost or doubled.
type Evidence struct {
	// Accepted is what the customer was told: the order ID that
	// order.place answered, by idempotency key.
	Accepted map[string]string

	// Failed lists the idempotency keys of the orders that the customer
	// gave up on.
	Failed []string

	// Cooked is the kitchens' record in the ledger ("cooked/<order id>"):
	// the kitchen instance that cooked each order, by order ID.
	Cooked map[string]string

	// Heard lists, by order ID, the kitchen named by each "order.cooked"
	// event heard: one entry per event, duplicates included.
	Heard map[string][]string
}

// Findings is what the audit found wrong, by order ID (by idempotency key
// for Failed). Empty lists mean that all is well.
type Findings struct {
	Failed      []string // orders the customer gave up on
	Lost        []string // accepted by order, but never cooked
	Doubled     []string // cooked, but never accepted: a second order made from a request sent twice
	CookedTwice []string // announced as cooked by two different kitchens
	Unannounced []string // cooked, but no "order.cooked" was heard
}

// OK reports whether the audit found nothing wrong.
func (f Findings) OK() bool {
	return len(f.Failed)+len(f.Lost)+len(f.Doubled)+len(f.CookedTwice)+len(f.Unannounced) == 0
}

// Audit compares the evidence of a run and says what went wrong.
//
// An order the customer was told about (accepted) must be cooked: if not, it
// is lost. An order that was cooked must be one the customer was told about:
// if not, it is a double, an order made a second time from a request that
// was sent again, whose first answer never arrived. Counting alone would not
// do: one lost order and one doubled order add up to the right number.
func Audit(ev Evidence) Findings {
	f := Findings{Failed: slices.Clone(ev.Failed)}
	accepted := make(map[string]bool) // the order IDs the customer got
	for _, id := range ev.Accepted {
		accepted[id] = true
	}

	// TODO(step05) Task 5: compare accepted with ev.Cooked: an accepted order that is not in ev.Cooked goes into f.Lost; an order in ev.Cooked that was never accepted goes into f.Doubled.

	// Every cooked order must have been announced, and always with the
	// kitchen that the ledger names: news from another kitchen would mean
	// that two kitchens both think they cooked it.
	for id, kitchen := range ev.Cooked {
		heard := ev.Heard[id]
		if len(heard) == 0 {
			f.Unannounced = append(f.Unannounced, id)
		}
		if slices.ContainsFunc(heard, func(k string) bool { return k != kitchen }) {
			f.CookedTwice = append(f.CookedTwice, id)
		}
	}

	// Maps have no order; sorted lists read the same every time.
	for _, list := range []*[]string{&f.Failed, &f.Lost, &f.Doubled, &f.CookedTwice, &f.Unannounced} {
		slices.Sort(*list)
	}
	return f
}
