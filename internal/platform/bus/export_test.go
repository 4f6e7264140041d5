package bus

// Halt stops c pulling messages, as Stop does first, without waiting for
// the handler in progress: tests use it to stop a consumer at a known point.
func (c *Consumer) Halt() { c.halt() }
