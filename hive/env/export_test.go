package env

// Start is Run without the signals: it connects as Run does and starts
// svc. Call disconnect after svc.Stop.
var Start = start
